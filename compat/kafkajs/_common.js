// Shared helpers for the kafkajs scenarios of Weir's compatibility suite.
// kafkajs consumers always join a group (no assign()), so data-plane reads of kafkajs-produced records are
// done with compat/lib/dump.py (librdkafka, assign) until consumer groups exist; group scenarios use kafkajs.
'use strict'
const { execFileSync } = require('child_process')
const path = require('path')
const crypto = require('crypto')
const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const lz4 = require('lz4js')
const { ZstdCodec } = require('zstd-codec')

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  async compress (encoder) { return Buffer.from(lz4.compress(encoder.buffer)) },
  async decompress (buffer) { return Buffer.from(lz4.decompress(buffer)) }
})
let zstdSimple = null
const zstdReady = new Promise(resolve => ZstdCodec.run(z => { zstdSimple = new z.Simple(); resolve() }))
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  async compress (encoder) { await zstdReady; return Buffer.from(zstdSimple.compress(encoder.buffer, 3)) },
  async decompress (buffer) { await zstdReady; return Buffer.from(zstdSimple.decompress(buffer)) }
})

const BOOTSTRAP = process.env.WEIR_BOOTSTRAP || ''
const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
function kafka (extra = {}) {
  return new Kafka({ clientId: 'weir-compat', brokers: [BOOTSTRAP], logLevel: logLevel.WARN, retry: { retries: 5 }, connectionTimeout: 5000, requestTimeout: 20000, ...extra })
}
function topic (prefix) { return `kafkajs-${prefix}-${crypto.randomBytes(4).toString('hex')}` }
function log (msg) { console.log(`[${new Date().toISOString().slice(11, 23)}] ${msg}`) }
function check (cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`) }
function checkEq (expected, actual, what) {
  const e = JSON.stringify(expected); const a = JSON.stringify(actual)
  if (e !== a) throw new Error(`${what}: expected ${e} but was ${a}`)
}
async function createTopic (admin, name, numPartitions) {
  const created = await admin.createTopics({ topics: [{ topic: name, numPartitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 30000 })
  check(created === true, `createTopics(${name}) returned ${created}`)
}
// Reads a whole partition with librdkafka (assign, no group): [{offset, key, value, headers, timestamp}] with
// key/value/header values as Buffers (or null).
function dump (t, partition) {
  const py = path.join(__dirname, '..', '.deps', 'venv', 'bin', 'python')
  const out = execFileSync(py, [path.join(__dirname, '..', 'lib', 'dump.py'), t, String(partition)], { maxBuffer: 1 << 30, encoding: 'utf8' })
  const b = x => (x === null ? null : Buffer.from(x, 'base64'))
  return out.split('\n').filter(Boolean).map(l => JSON.parse(l)).map(r => ({
    offset: r.offset, timestamp: r.timestamp, key: b(r.key), value: b(r.value), headers: r.headers.map(([k, v]) => [k, b(v)])
  }))
}
function run (name, body) {
  const start = Date.now()
  body().then(() => { console.log(`ok ${name} (${Date.now() - start} ms)`); process.exit(0) },
    e => { console.error(`FAILED ${name}:`, e); process.exit(1) })
}
module.exports = { kafka, topic, log, check, checkEq, createTopic, dump, run, BOOTSTRAP, CODECS, CompressionTypes }

// kafkajs transactions: a transactional producer commits, aborts and commits again over three partitions; a
// read_committed consumer (kafkajs' default isolation) sees exactly the committed records (checked by content,
// no duplicates), never an aborted one; a read_uncommitted consumer sees all. A second producer with the same
// transactionalId fences the first, whose open transaction is then aborted, as in Apache Kafka.
// timeout: 150
const { kafka, topic, log, check, checkEq, createTopic, run } = require('./_common')

const PARTITIONS = 3

function messages (tag, n) {
  return Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${tag}-${i}`, partition: i % PARTITIONS }))
}

// Reads the topic in a fresh group until `n` records arrived; then keeps polling until every partition's
// position reached `ends` (so nothing the isolation level would show is left unread).
async function readAll (k, t, readUncommitted, n) {
  const consumer = k.consumer({ groupId: `${t}-${readUncommitted ? 'ru' : 'rc'}`, readUncommitted, sessionTimeout: 10000, heartbeatInterval: 1000 })
  await consumer.connect()
  await consumer.subscribe({ topics: [t], fromBeginning: true })
  const got = []
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${n} records`)), 60000)
      consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          got.push(message.value.toString())
          if (got.length >= n) { clearTimeout(timer); resolve() }
        }
      }).catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return got
}

function checkExactly (want, got, what) {
  checkEq(got.length, new Set(got).size, `${what}: no duplicates`)
  checkEq([...want].sort(), [...got].sort(), what)
}

run('txn-commit-abort', async () => {
  const k = kafka()
  const admin = k.admin()
  await admin.connect()
  const t = topic('txn')
  const id = `${t}-producer`
  const producer = k.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    await createTopic(admin, t, PARTITIONS)
    const committed = []
    const aborted = []
    let txn = await producer.transaction()
    const first = messages('commit1', 300)
    await txn.send({ topic: t, messages: first })
    await txn.commit()
    committed.push(...first.map(m => m.value))

    txn = await producer.transaction()
    const dropped = messages('abort', 200)
    await txn.send({ topic: t, messages: dropped })
    await txn.abort()
    aborted.push(...dropped.map(m => m.value))

    txn = await producer.transaction()
    const second = messages('commit2', 150)
    await txn.send({ topic: t, messages: second })
    await txn.commit()
    committed.push(...second.map(m => m.value))

    // The aborted records sit before commit2 in every partition: having read all committed records, a
    // read_committed consumer has passed every aborted one.
    const rc = await readAll(k, t, false, committed.length)
    check(!rc.some(v => v.startsWith('abort-')), 'read_committed returned an aborted record')
    checkExactly(committed, rc, 'read_committed')
    const ru = await readAll(k, t, true, committed.length + aborted.length)
    checkExactly([...committed, ...aborted], ru, 'read_uncommitted')
    log(`read_committed ${rc.length}, read_uncommitted ${ru.length}`)

    // Fencing: a second producer with the same transactionalId; the first cannot commit its open transaction.
    const zombie = await producer.transaction()
    await zombie.send({ topic: t, messages: messages('zombie', 30) })
    const successor = k.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 })
    await successor.connect()
    try {
      await successor.transaction().then(async next => {
        const last = messages('successor', 30)
        await next.send({ topic: t, messages: last })
        await next.commit()
        committed.push(...last.map(m => m.value))
      })
      let fenced = null
      try {
        await zombie.commit()
      } catch (e) {
        fenced = e
      }
      check(fenced !== null, 'the fenced producer committed')
      const type = fenced.type || (fenced.cause && fenced.cause.type)
      check(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH'].includes(type), `fenced commit failed with ${fenced}`)
      log(`fenced producer's commit: ${type}`)
    } finally {
      await successor.disconnect()
    }
    const after = await readAll(k, t, false, committed.length)
    check(!after.some(v => v.startsWith('zombie-')), "the fenced producer's records are visible")
    checkExactly(committed, after, 'read_committed after fencing')
  } finally {
    await producer.disconnect().catch(() => {})
    await admin.disconnect()
  }
})

// kafkajs producer: keys, headers, null keys/values, explicit timestamps, every codec and mixed codecs in one
// partition; acked offsets contiguous from 0; read back (with librdkafka, assign) byte-identical.
// timeout: 120
const { kafka, topic, log, check, checkEq, createTopic, dump, run, CODECS } = require('./_common')

run('produce', async () => {
  const k = kafka()
  const admin = k.admin()
  const producer = k.producer({ allowAutoTopicCreation: false })
  await admin.connect()
  await producer.connect()
  try {
    const ts = Date.now() - 3600000
    const mixed = topic('mixed')
    await createTopic(admin, mixed, 1)
    const mixedWant = []
    for (const [name, codec] of Object.entries(CODECS)) {
      const t = topic(`codec-${name}`)
      await createTopic(admin, t, 1)
      const msgs = []
      for (let i = 0; i < 500; i++) {
        msgs.push({ key: i % 10 === 0 ? null : Buffer.from(`k${i}`), value: i % 17 === 0 ? null : Buffer.from(`${name}-value-${i}-`.repeat(1 + (i % 9))), headers: { i: Buffer.from(String(i)), codec: name }, timestamp: String(ts + i), partition: 0 })
      }
      let next = 0
      for (let b = 0; b < 5; b++) {
        const res = await producer.send({ topic: t, compression: codec, acks: -1, messages: msgs.slice(b * 100, b * 100 + 100) })
        checkEq(String(next), res[0].baseOffset, `${name}: base offset of batch ${b}`)
        next += 100
      }
      const got = dump(t, 0)
      checkEq(msgs.length, got.length, `${name}: record count`)
      got.forEach((r, i) => {
        const m = msgs[i]
        checkEq(i, r.offset, `${name}: offset`)
        check((m.key === null && r.key === null) || (m.key && r.key && m.key.equals(r.key)), `${name}: key of ${i}`)
        check((m.value === null && r.value === null) || (m.value && r.value && m.value.equals(r.value)), `${name}: value of ${i}`)
        checkEq([['i', String(i)], ['codec', name]], r.headers.map(([hk, hv]) => [hk, hv.toString()]), `${name}: headers of ${i}`)
        checkEq(ts + i, r.timestamp, `${name}: timestamp of ${i}`)
      })
      log(`${name}: ${msgs.length} records ok`)
      const batch = Array.from({ length: 50 }, (_, i) => ({ key: `${name}-${i}`, value: `mixed-${name}-${i}`, partition: 0 }))
      await producer.send({ topic: mixed, compression: codec, messages: batch })
      mixedWant.push(...batch)
    }
    const got = dump(mixed, 0)
    checkEq(mixedWant.map(m => m.value), got.map(r => r.value.toString()), 'mixed: values in order')
    checkEq(mixedWant.map((_, i) => i), got.map(r => r.offset), 'mixed: offsets')
    const offs = await admin.fetchTopicOffsets(mixed)
    checkEq([{ partition: 0, offset: String(mixedWant.length), high: String(mixedWant.length), low: '0' }], offs, 'fetchTopicOffsets')
  } finally {
    await producer.disconnect()
    await admin.disconnect()
  }
})

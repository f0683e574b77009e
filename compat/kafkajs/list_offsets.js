// ListOffsets through kafkajs admin: earliest / latest (fetchTopicOffsets) and by timestamp.
// timeout: 60
const { kafka, topic, checkEq, createTopic, run } = require('./_common')

run('list-offsets', async () => {
  const k = kafka()
  const admin = k.admin()
  const producer = k.producer()
  await admin.connect()
  await producer.connect()
  try {
    const t = topic('offsets')
    await createTopic(admin, t, 2)
    const base = Date.now() - 600000
    for (let i = 0; i < 10; i++) {
      const r = await producer.send({ topic: t, messages: [{ value: `v${i}`, partition: 0, timestamp: String(base + i * 1000) }] })
      checkEq(String(i), r[0].baseOffset, `offset of record ${i}`)
    }
    const offs = (await admin.fetchTopicOffsets(t)).sort((a, b) => a.partition - b.partition)
    checkEq([{ partition: 0, offset: '10', high: '10', low: '0' }, { partition: 1, offset: '0', high: '0', low: '0' }], offs, 'fetchTopicOffsets')
    const byTs = async ts => (await admin.fetchTopicOffsetsByTimestamp(t, ts)).sort((a, b) => a.partition - b.partition).map(x => x.offset)
    // Apache Kafka answers -1 for "no record at or after the timestamp"; kafkajs maps that to the high watermark.
    checkEq(['2', '0'], await byTs(base + 1500), 'offsets at base+1500')
    checkEq(['0', '0'], await byTs(base - 5000), 'offsets before the first record')
    checkEq(['9', '0'], await byTs(base + 9000), 'offsets at the last record')
    checkEq(['10', '0'], await byTs(base + 9001), 'offsets after the last record')
  } finally {
    await producer.disconnect()
    await admin.disconnect()
  }
})

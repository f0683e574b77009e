// kafkajs consumer group: subscribe from the beginning, read keys/headers/values back exactly, commit; a new
// consumer in the same group resumes after the committed offsets and sees only new records.
// timeout: 120
const { kafka, topic, log, check, checkEq, createTopic, run } = require('./_common')

async function consumeN (k, groupId, t, n) {
  const consumer = k.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 })
  await consumer.connect()
  await consumer.subscribe({ topics: [t], fromBeginning: true })
  const got = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${n} records`)), 60000)
    consumer.run({
      autoCommit: true,
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, message })
        if (got.length >= n) { clearTimeout(timer); resolve() }
      }
    }).catch(reject)
  })
  await new Promise(resolve => setTimeout(resolve, 1500)) // let autoCommit flush
  await consumer.disconnect()
  return got
}

run('group-round-trip', async () => {
  const k = kafka()
  const admin = k.admin()
  const producer = k.producer()
  await admin.connect()
  await producer.connect()
  try {
    const t = topic('grp')
    const g = `${t}-g`
    await createTopic(admin, t, 3)
    const msgs = Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { i: String(i) } }))
    await producer.send({ topic: t, messages: msgs })
    const got = await consumeN(k, g, t, 300)
    checkEq(300, new Set(got.map(x => x.message.value.toString())).size, 'distinct values')
    for (const { message } of got) {
      const i = Number(message.headers.i.toString())
      checkEq(`k${i}`, message.key.toString(), 'key')
      checkEq(`v${i}`, message.value.toString(), 'value')
    }
    const offs = await admin.fetchOffsets({ groupId: g, topics: [t] })
    const total = offs[0].partitions.reduce((s, p) => s + Number(p.offset), 0)
    checkEq(300, total, 'sum of committed offsets')
    await producer.send({ topic: t, messages: Array.from({ length: 10 }, (_, i) => ({ key: `n${i}`, value: `new${i}` })) })
    const again = await consumeN(k, g, t, 10)
    checkEq(Array.from({ length: 10 }, (_, i) => `new${i}`).sort(), again.map(x => x.message.value.toString()).sort(), 'records after rejoining')
    const groups = await admin.listGroups()
    check(groups.groups.some(x => x.groupId === g), `listGroups lacks ${g}`)
    log('group round trip ok')
  } finally {
    await producer.disconnect()
    await admin.disconnect()
  }
})

// Topic create / describe / delete through kafkajs's admin client, with Apache Kafka's error codes.
// timeout: 90
const { kafka, topic, check, checkEq, createTopic, run } = require('./_common')

async function createError (admin, name, numPartitions = 1, replicationFactor = 1) {
  try {
    const r = await admin.createTopics({ topics: [{ topic: name, numPartitions, replicationFactor }], timeout: 30000 })
    return r === false ? 'TOPIC_ALREADY_EXISTS' : null
  } catch (e) {
    return (e.errors && e.errors[0] && e.errors[0].type) || e.type || String(e)
  }
}

run('topic-admin', async () => {
  const admin = kafka().admin()
  await admin.connect()
  try {
    const t = topic('admin')
    await createTopic(admin, t, 4)
    const md = await admin.fetchTopicMetadata({ topics: [t] })
    checkEq(4, md.topics[0].partitions.length, 'partition count')
    checkEq('TOPIC_ALREADY_EXISTS', await createError(admin, t), 'duplicate create')
    for (const bad of ['bad/name', 'bad name', '..', 'x'.repeat(250)]) {
      checkEq('INVALID_TOPIC_EXCEPTION', await createError(admin, bad), `create ${bad.slice(0, 20)}`)
    }
    checkEq('INVALID_REPLICATION_FACTOR', await createError(admin, topic('rf'), 1, 3), 'replication factor 3')
    await admin.deleteTopics({ topics: [t], timeout: 30000 })
    const deadline = Date.now() + 15000
    while ((await admin.listTopics()).includes(t)) {
      check(Date.now() < deadline, 'deleted topic still listed after 15 s')
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    let err = null
    // kafkajs retries UNKNOWN_TOPIC_OR_PARTITION (retriable) and then gives up with the last error as cause.
    const quick = kafka({ retry: { retries: 1, initialRetryTime: 50 } }).admin()
    await quick.connect()
    try { await quick.deleteTopics({ topics: [t], timeout: 30000 }) } catch (e) { err = (e.cause && e.cause.type) || e.type || String(e) }
    await quick.disconnect()
    checkEq('UNKNOWN_TOPIC_OR_PARTITION', err, 'delete twice')
    await createTopic(admin, t, 2)
  } finally { await admin.disconnect() }
})

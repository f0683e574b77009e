// Metadata: one broker at the bootstrap address; created topics are listed with their partitions.
// timeout: 60
const { kafka, topic, log, check, checkEq, createTopic, run, BOOTSTRAP } = require('./_common')

run('metadata', async () => {
  const admin = kafka().admin()
  await admin.connect()
  try {
    const cl = await admin.describeCluster()
    log(`cluster ${JSON.stringify(cl)}`)
    checkEq(1, cl.brokers.length, 'number of brokers')
    checkEq(BOOTSTRAP, `${cl.brokers[0].host}:${cl.brokers[0].port}`, 'broker address')
    check(cl.clusterId, 'cluster id')
    const t1 = topic('meta-a'); const t2 = topic('meta-b')
    await createTopic(admin, t1, 1)
    await createTopic(admin, t2, 3)
    const names = await admin.listTopics()
    check(names.includes(t1) && names.includes(t2), `listTopics lacks the new topics: ${names}`)
    const md = await admin.fetchTopicMetadata({ topics: [t2] })
    checkEq(3, md.topics[0].partitions.length, 'partitions')
    for (const p of md.topics[0].partitions) {
      checkEq(cl.brokers[0].nodeId, p.leader, `leader of ${p.partitionId}`)
      checkEq([p.leader], p.replicas, 'replicas')
      checkEq([p.leader], p.isr, 'isr')
    }
  } finally { await admin.disconnect() }
})

// Admin beyond topics against the embedded broker: configs, groups (offsets, lag, delete),
// delete records, describe cluster, ACLs and SCRAM users; and consumer.offsetsForTimes.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import util from 'node:util'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Producer, Consumer, Admin, KafkaError, testing } = require('../index.js')

const T0 = 1_000_000_000_000 // a timestamp in 2001: retention.ms=-1 keeps such records
let broker
let admin
const conf = (extra = {}) => ({ 'bootstrap.servers': broker.bootstrapServers, ...extra })

before(async () => {
  broker = await testing.Broker.start()
  admin = new Admin(conf())
})

after(async () => {
  await admin.close()
  await broker.stop()
})

async function rejection(promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  assert.fail('expected a rejection')
}

test('configs are altered incrementally and described', async () => {
  await admin.createTopics([{ topic: 'cfg', numPartitions: 1 }])
  await admin.alterConfigs({
    resources: [{ type: 2, name: 'cfg', configEntries: [{ name: 'retention.bytes', value: 1073741824 }, { name: 'max.message.bytes', value: '2000000' }] }],
  })
  const { resources: [r] } = await admin.describeConfigs({ resources: [{ type: 'topic', name: 'cfg' }] })
  const byName = Object.fromEntries(r.configEntries.map((e) => [e.configName, e]))
  assert.equal(byName['retention.bytes'].configValue, '1073741824')
  assert.equal(byName['retention.bytes'].isDefault, false)
  assert.equal(byName['cleanup.policy'].isDefault, true)

  await admin.alterConfigs({ resources: [{ type: 'topic', name: 'cfg', configEntries: [{ name: 'retention.bytes', value: null }] }] })
  const { resources: [only] } = await admin.describeConfigs({ resources: [{ type: 'topic', name: 'cfg', configNames: ['retention.bytes', 'max.message.bytes'] }] })
  const onlyByName = Object.fromEntries(only.configEntries.map((e) => [e.configName, e]))
  assert.deepEqual(Object.keys(onlyByName).sort(), ['max.message.bytes', 'retention.bytes'])
  assert.equal(onlyByName['retention.bytes'].isDefault, true)
  assert.equal(onlyByName['max.message.bytes'].configValue, '2000000')

  const badType = await rejection(admin.describeConfigs({ resources: [{ type: 'planet', name: 'x' }] }))
  assert.ok(badType instanceof KafkaError)
  assert.equal(badType.name, '_INVALID_ARG')
  const missing = await rejection(admin.describeConfigs({ resources: [{ type: 'topic', name: 'no-such-topic' }] }))
  assert.equal(missing.name, 'UNKNOWN_TOPIC_OR_PARTITION')
  assert.equal(missing.topic, 'no-such-topic')
})

test('describeCluster lists the broker', async () => {
  const cluster = await admin.describeCluster()
  assert.ok(cluster.clusterId)
  assert.equal(cluster.brokers.length, 1)
  assert.equal(cluster.brokers[0].port, Number(broker.bootstrapServers.split(':').pop()))
  assert.equal(cluster.controller, cluster.brokers[0].nodeId)
})

test('group offsets, lag, and delete', async () => {
  await admin.createTopics([{ topic: 'grp', numPartitions: 1 }])
  const producer = new Producer(conf())
  for (let i = 0; i < 5; i++) await producer.send({ topic: 'grp', value: `v${i}`, partition: 0 })
  await producer.close()
  const consumer = new Consumer(conf({ 'group.id': 'node-admin', 'enable.auto.commit': false, 'auto.offset.reset': 'earliest' }))
  consumer.subscribe(['grp'])
  const got = []
  const deadline = Date.now() + 20_000
  while (got.length < 5 && Date.now() < deadline) got.push(...(await consumer.consume(5 - got.length, 500)))
  assert.equal(got.length, 5)
  await consumer.commit([{ topic: 'grp', partition: 0, offset: 3 }])

  const { groups: [g] } = await admin.describeGroups(['node-admin'])
  assert.equal(g.state, 'Stable')
  assert.deepEqual(g.members.map((m) => m.assignment), [[{ topic: 'grp', partition: 0 }]])
  assert.ok((await admin.listGroups()).groups.some((l) => l.groupId === 'node-admin'))
  assert.deepEqual(await admin.fetchOffsets({ groupId: 'node-admin' }), [{ topic: 'grp', partitions: [{ partition: 0, offset: 3 }] }])
  assert.deepEqual(await admin.fetchGroupLag({ groupId: 'node-admin' }),
    [{ topic: 'grp', partition: 0, committed: 3, logEnd: 5, lag: 2 }])

  const busy = await rejection(admin.deleteGroups(['node-admin']))
  assert.equal(busy.name, 'NON_EMPTY_GROUP')
  assert.equal(busy.retriable, false)
  await consumer.close()

  assert.equal((await admin.describeGroups(['node-admin'])).groups[0].state, 'Empty')
  await admin.setOffsets({ groupId: 'node-admin', topic: 'grp', partitions: [{ partition: 0, offset: '1' }] })
  assert.equal((await admin.fetchGroupLag({ groupId: 'node-admin' }))[0].lag, 4)
  await admin.deleteGroupOffsets({ groupId: 'node-admin', topic: 'grp', partitions: [0] })
  assert.deepEqual(await admin.fetchOffsets({ groupId: 'node-admin', topics: ['grp'] }), [{ topic: 'grp', partitions: [] }])
  const [fresh] = await admin.fetchGroupLag({ groupId: 'node-admin', topics: ['grp'] })
  assert.deepEqual([fresh.committed, fresh.lag], [null, 5])
  await admin.setOffsets({ groupId: 'node-admin', topic: 'grp', partitions: [{ partition: 0, offset: 2 }] })
  await admin.deleteGroups(['node-admin'])
  assert.equal((await admin.describeGroups(['node-admin'])).groups[0].state, 'Dead')
})

test('deleteTopicRecords moves the low watermark; offsetsForTimes finds records by time', async () => {
  await admin.createTopics([{ topic: 'recs', numPartitions: 1, config: { 'retention.ms': '-1' } }])
  const producer = new Producer(conf())
  for (let i = 0; i < 6; i++) await producer.send({ topic: 'recs', value: 'v', partition: 0, timestamp: T0 + 1000 * i })
  await producer.close()
  const consumer = new Consumer(conf())
  const at = (timestamp) => consumer.offsetsForTimes([{ topic: 'recs', partition: 0, timestamp }])
  assert.deepEqual(await at(T0 + 2000), [{ topic: 'recs', partition: 0, offset: 2 }])
  assert.equal((await at(T0 + 2500))[0].offset, 3)
  assert.equal((await at(T0 + 60_000))[0].offset, -1)
  const negative = await rejection(at(-5))
  assert.equal(negative.name, '_INVALID_ARG')
  assert.equal(negative.topic, 'recs')

  assert.deepEqual(await admin.deleteTopicRecords({ topic: 'recs', partitions: [{ partition: 0, offset: 4 }] }),
    [{ partition: 0, lowWatermark: 4 }])
  assert.deepEqual(await consumer.watermarks({ topic: 'recs', partition: 0 }), { low: 4, high: 6 })
  const noPartition = await rejection(admin.deleteTopicRecords({ topic: 'recs', partitions: [{ partition: 7, offset: 1 }] }))
  assert.deepEqual([noPartition.topic, noPartition.partition], ['recs', 7])
  await consumer.close()
})

test('ACLs and SCRAM users on a SASL_SSL broker with an authorizer', async () => {
  const secure = await testing.Broker.startSaslSsl('admin', 'admin-secret-8f2c', {
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin',
  })
  const sadmin = new Admin(secure.clientConfig())
  try {
    await sadmin.createTopics([{ topic: 'granted', numPartitions: 1 }, { topic: 'other', numPartitions: 1 }])
    await sadmin.alterUserScramCredentials({
      upsertions: [{ user: 'bob', mechanism: 'SCRAM-SHA-512', password: 'bob-secret-77a1', iterations: 4096 }],
    })
    const users = await sadmin.describeUserScramCredentials()
    assert.deepEqual(users.find((u) => u.user === 'bob').credentials, [{ mechanism: 'SCRAM-SHA-512', iterations: 4096 }])

    await sadmin.createAcls({ acl: [{ resourceType: 'TOPIC', resourceName: 'granted', principal: 'User:bob', operation: 4 /* WRITE */ }] })
    const acls = await sadmin.describeAcls({ principal: 'User:bob' })
    assert.deepEqual(acls, [{
      resourceType: 'Topic', resourceName: 'granted', resourcePatternType: 'Literal', principal: 'User:bob', host: '*', operation: 'Write', permissionType: 'Allow',
    }])

    const bob = new Producer({ ...secure.clientConfig(), 'sasl.username': 'bob', 'sasl.password': 'bob-secret-77a1', 'enable.idempotence': false })
    assert.equal((await bob.send({ topic: 'granted', value: 'ok' })).offset, 0)
    const denied = await rejection(bob.send({ topic: 'other', value: 'no' }))
    assert.equal(denied.name, 'TOPIC_AUTHORIZATION_FAILED')
    await bob.close()

    const badName = await rejection(sadmin.createAcls({ acl: [{ resourceType: 'TOPIC', resourceName: 'x', principal: 'User:bob', operation: 'FLY' }] }))
    assert.equal(badName.name, '_INVALID_ARG')
    assert.match(badName.message, /FLY/)
    assert.deepEqual(await sadmin.deleteAcls({ filters: [{ resourceType: 'TOPIC', resourceName: 'granted' }] }), acls)
    assert.deepEqual(await sadmin.describeAcls(), [])

    const upsertion = { user: 'bob', mechanism: 'SCRAM-SHA-1', password: 'bob-secret-77a1' }
    const badMechanism = await rejection(sadmin.alterUserScramCredentials({ upsertions: [upsertion] }))
    assert.equal(badMechanism.name, '_INVALID_ARG')
    assert.ok(!util.inspect(badMechanism).includes('bob-secret-77a1'), 'the password shows in the error')
    await sadmin.alterUserScramCredentials({ deletions: [{ user: 'bob', mechanism: 'SCRAM-SHA-512' }] })
    assert.ok(!(await sadmin.describeUserScramCredentials()).some((u) => u.user === 'bob'))
  } finally {
    await sadmin.close()
    await secure.stop()
  }
})

test('reassignments and elections get one-broker answers', async () => {
  // One broker holds every replica: its own id is the only valid target, nothing is ever in
  // progress, and no election is needed (Kafka's one-broker answers).
  await admin.createTopics([{ topic: 'moves', numPartitions: 2 }])
  const me = (await admin.describeCluster()).brokers[0].nodeId
  const move = (partition, replicas) =>
    admin.alterPartitionReassignments({ topics: [{ topic: 'moves', partitionAssignment: [{ partition, replicas }] }] })
  await move(0, [me])
  const unknownBroker = await rejection(move(1, [me + 1]))
  assert.ok(unknownBroker instanceof KafkaError)
  assert.equal(unknownBroker.name, 'INVALID_REPLICA_ASSIGNMENT')
  assert.deepEqual([unknownBroker.topic, unknownBroker.partition], ['moves', 1])
  assert.equal((await rejection(move(0, null))).name, 'NO_REASSIGNMENT_IN_PROGRESS')
  assert.deepEqual(await admin.listPartitionReassignments(), { topics: [] })
  assert.deepEqual(await admin.listPartitionReassignments({ topics: [{ topic: 'moves', partitions: [0] }] }), { topics: [] })

  const results = await admin.electLeaders({ topics: [{ topic: 'moves', partitions: [0, 5] }] })
  assert.deepEqual(results.map((r) => [r.topic, r.partition, r.error?.name]), [
    ['moves', 0, 'ELECTION_NOT_NEEDED'],
    ['moves', 5, 'UNKNOWN_TOPIC_OR_PARTITION'],
  ])
  assert.ok(results[0].error instanceof KafkaError)
  assert.deepEqual(await admin.electLeaders({ type: 'unclean' }), [])
  await assert.rejects(admin.electLeaders({ type: 'random' }), TypeError)
})

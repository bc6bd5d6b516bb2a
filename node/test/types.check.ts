// Compiled (not run) by scripts/test.d/45-node.sh with `tsc --noEmit --strict`: index.d.ts must
// type the public API as the tests and README use it.
import { Producer, Consumer, Admin, KafkaError, testing, Message, DeliveryReport, OAuthBearerToken } from '../index'

async function main(): Promise<void> {
  const broker = await testing.Broker.start({ 'num.partitions': 1 })
  const admin = new Admin({ 'bootstrap.servers': broker.bootstrapServers })
  await admin.createTopics([{ topic: 't', numPartitions: 2, config: { 'retention.ms': 1000 } }])
  const cfg = await admin.describeConfigs({ resources: [{ type: 'topic', name: 't', configNames: ['retention.ms'] }] })
  const retention: string | null | undefined = cfg.resources[0].configEntries[0].configValue
  await admin.alterConfigs({ resources: [{ type: 2, name: 't', configEntries: [{ name: 'retention.ms', value: null }] }] })
  const cluster = await admin.describeCluster()
  const lag: number = (await admin.fetchGroupLag({ groupId: 'g', topics: ['t'] }))[0].lag
  const low: number = (await admin.deleteTopicRecords({ topic: 't', partitions: [{ partition: 0, offset: 1 }] }))[0].lowWatermark
  await admin.alterPartitionReassignments({ topics: [{ topic: 't', partitionAssignment: [{ partition: 0, replicas: [1] }, { partition: 1, replicas: null }] }] })
  const adding: number[] = (await admin.listPartitionReassignments()).topics[0].partitions[0].addingReplicas
  const electionError: KafkaError | null = (await admin.electLeaders({ type: 'unclean', topics: [{ topic: 't', partitions: [0] }] }))[0].error
  const state: string = (await admin.describeGroups(['g'])).groups[0].state
  await admin.setOffsets({ groupId: 'g', topic: 't', partitions: [{ partition: 0, offset: 0 }] })
  await admin.createAcls({ acl: [{ resourceType: 'TOPIC', resourceName: 't', principal: 'User:bob', operation: 'READ' }] })
  const acls = await admin.deleteAcls({ filters: [{ principal: 'User:bob' }] })
  await admin.alterUserScramCredentials({ upsertions: [{ user: 'bob', mechanism: 'SCRAM-SHA-256', password: 'pw' }] })
  console.log(retention, cluster.controller, lag, low, state, acls.length, (await admin.listGroups()).groups.length)
  const p = new Producer({ 'bootstrap.servers': broker.bootstrapServers, 'linger.ms': 5, 'enable.idempotence': true })
  const r: DeliveryReport = await p.send({ topic: 't', key: 'k', value: Buffer.from('v'), headers: [['a', 'b']] })
  const rs: DeliveryReport[] = await p.sendBatch({ topic: 't', messages: [{ value: 'x', headers: { h: ['1', '2'] } }] })
  console.log(r.offset + rs.length)
  await p.close()
  const c = new Consumer({ 'bootstrap.servers': broker.bootstrapServers, 'group.id': 'g' })
  c.on('rebalance', (e) => console.log(e.kind, e.partitions[0]?.topic))
  c.on('assigned', (parts) => console.log(parts.length))
  c.on('crash', (e: Error) => console.log(e.message))
  await c.assign([{ topic: 't', partition: 0, offset: 'earliest' }, { topic: 't', partition: 1, offset: 5 }])
  const found: number = (await c.offsetsForTimes([{ topic: 't', partition: 0, timestamp: Date.now() - 60_000 }]))[0].offset
  console.log(found)
  for await (const m of c) {
    const v: Buffer | null = m.value
    const h: Array<[string, Buffer | null]> = m.headers
    console.log(v, h, m.offset + 1)
    break
  }
  const m: Message | null = await c.poll(100)
  const ms: Message[] = await c.consume(10, 100)
  await c.run({ eachMessage: async ({ topic, partition, message }) => { console.log(topic, partition, message.key) } })
  await c.run({ eachBatch: async ({ batch, isRunning, heartbeat }) => { await heartbeat(); console.log(batch.messages.length, isRunning(), batch.lastOffset()) } })
  await c.stop()
  c.seek({ topic: 't', partition: 0, offset: 3 })
  const pos: number | null = c.position({ topic: 't', partition: 0 })
  await c.commit()
  await c.commit([{ topic: 't', partition: 0, offset: 3 }])
  const committed: number[] = await c.committed([{ topic: 't', partition: 0 }])
  const wm = await c.watermarks({ topic: 't', partition: 0 })
  console.log(m, ms, pos, committed, wm.high - wm.low)
  await c.close()
  const tp = new Producer({ 'transactional.id': 'x' })
  const txn = await tp.transaction()
  await txn.send({ topic: 't', value: 'v' })
  await txn.sendOffsets({ consumer: c, topics: [{ topic: 't', partitions: [{ partition: 0, offset: '3' }] }] })
  if (txn.isActive()) await txn.commit()
  await tp.sendOffsetsToTransaction([{ topic: 't', partition: 0, offset: 3 }], c.groupMetadata())
  await tp.abortTransaction()
  try { new Producer({ bogus: 1 }) } catch (e) { if (e instanceof KafkaError) console.log(e.name, e.code, e.retriable, e.type, e.fatal, e.abortable) }
  await broker.stop()
  const secure = await testing.Broker.startSaslSsl('alice', 'alice-secret', { 'sasl.enabled.mechanisms': 'SCRAM-SHA-512,OAUTHBEARER' })
  const ca: string | null = secure.caPem
  const oauth = new Producer({
    ...secure.clientConfig(),
    'sasl.mechanism': 'OAUTHBEARER',
    oauth_cb: async (oauthbearerConfig: string): Promise<OAuthBearerToken> => ({ value: oauthbearerConfig, lifetime: Date.now() + 60_000, principal: 'alice' }),
  })
  console.log(ca)
  await oauth.close()
  await secure.stop()
}
main()

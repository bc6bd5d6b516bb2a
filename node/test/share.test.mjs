// ShareConsumer (KIP-932) against the embedded broker: two members, delivery counts, release,
// reject, implicit acceptance, commitSync, close.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Producer, Admin, ShareConsumer, AcknowledgeType, KafkaError, testing } = require('../index.js')

let broker
let admin
const conf = (extra = {}) => ({ 'bootstrap.servers': broker.bootstrapServers, ...extra })

before(async () => {
  broker = await testing.Broker.start({ 'num.partitions': '1' })
  admin = new Admin(conf())
})

after(async () => {
  await admin.close()
  await broker.stop()
})

// The share-partition starts at the log's end (share.auto.offset.reset=latest) when first
// fetched: poll until assigned, then fetch once before producing.
async function waitAssignment(consumer) {
  const deadline = Date.now() + 20_000
  while (consumer.assignment().length === 0) {
    assert.deepEqual(await consumer.poll(100), [])
    assert.ok(Date.now() < deadline, 'no share assignment within 20 s')
  }
  assert.deepEqual(await consumer.poll(100), [])
}

async function pollN(consumer, n) {
  const out = []
  const deadline = Date.now() + 20_000
  while (out.length < n && Date.now() < deadline) out.push(...(await consumer.poll(300)))
  return out
}

test('release comes back with deliveryCount 2, reject never, the rest is accepted once', async () => {
  await admin.createTopics([{ topic: 'share', numPartitions: 1 }])
  assert.throws(() => new ShareConsumer(conf()), (e) => e instanceof KafkaError && e.name === '_INVALID_CONFIG')
  const a = new ShareConsumer(conf({ 'group.id': 'node-share' }))
  const b = new ShareConsumer(conf({ 'group.id': 'node-share' }))
  a.subscribe(['share'])
  b.subscribe('share')
  await waitAssignment(a)
  const producer = new Producer(conf())
  for (const v of ['accept', 'release', 'reject']) await producer.send({ topic: 'share', partition: 0, value: v })
  await producer.close()

  const first = await pollN(a, 3)
  assert.deepEqual(first.map((m) => [m.value.toString(), m.deliveryCount, m.offset]),
    [['accept', 1, 0], ['release', 1, 1], ['reject', 1, 2]])
  a.acknowledge(first[1], AcknowledgeType.RELEASE)
  a.acknowledge(first[2], AcknowledgeType.REJECT)
  assert.throws(() => a.acknowledge(first[2], 'accept'), KafkaError)
  assert.throws(() => a.acknowledge(first[0], 'maybe'), (e) => e.name === '_INVALID_ARG')
  await a.commitSync() // "accept" is accepted implicitly, the others as acknowledged
  // The released record goes to whichever member fetches next.
  const again = []
  const deadline = Date.now() + 20_000
  while (again.length < 1 && Date.now() < deadline) {
    again.push(...(await b.poll(200)), ...(await a.poll(200)))
  }
  assert.deepEqual(again.map((m) => [m.value.toString(), m.deliveryCount]), [['release', 2]])
  await a.commitSync()
  await b.commitSync()
  assert.deepEqual([...(await a.poll(300)), ...(await b.poll(300))], [])
  a.commitAsync()
  await a.close()
  await a.close()
  await b.close()
  await assert.rejects(a.poll(10), KafkaError)
})

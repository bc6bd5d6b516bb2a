// onError (failures no call returns) and the statistics of metrics(), against the embedded broker.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { closedAddress } from './support.mjs'

const require = createRequire(import.meta.url)
const { Producer, Consumer, Admin, KafkaError, testing } = require('../index.js')

test('an unreachable cluster reaches onError as KafkaErrors, and the statistics show it', async () => {
  const address = await closedAddress()
  const producer = new Producer({ 'bootstrap.servers': address, 'message.timeout.ms': 1000 })
  const seen = []
  producer.onError((e) => seen.push(e))
  const sent = producer.send({ topic: 'observed', value: 'v' }).catch((e) => e)
  const deadline = Date.now() + 15_000
  while (!seen.some((e) => e.name === '_ALL_BROKERS_DOWN') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const names = seen.map((e) => e.name)
  assert.ok(names.includes('_ALL_BROKERS_DOWN'), `got ${names}`)
  const transport = seen.find((e) => e.name === '_TRANSPORT')
  assert.ok(transport instanceof KafkaError && transport.retriable && transport.message.includes(address), `got ${names}`)
  const row = producer.metrics().brokers.find((b) => b.address === address)
  assert.ok(row && row.connect_failures >= 1 && row.state !== 'up', JSON.stringify(row))
  assert.ok((await sent) instanceof Error)
  producer.onError(null)
  await producer.close()
  assert.throws(() => producer.onError('not a function'), TypeError)
})

test('consumer statistics count what was handed out and show the lag', async () => {
  const broker = await testing.Broker.start({})
  try {
    const conf = { 'bootstrap.servers': broker.bootstrapServers }
    const admin = new Admin(conf)
    await admin.createTopics([{ topic: 'observed', numPartitions: 1 }])
    await admin.close()
    const producer = new Producer(conf)
    await producer.sendBatch({ topic: 'observed', messages: Array.from({ length: 20 }, (_, i) => ({ value: `value-${String(i).padStart(2, '0')}`, partition: 0 })) })
    assert.ok(producer.metrics().brokers.some((b) => b.state === 'up' && b.requests >= 2))
    await producer.close()

    const consumer = new Consumer(conf)
    await consumer.assign([{ topic: 'observed', partition: 0, offset: 'earliest' }])
    let got = 0
    const deadline = Date.now() + 20_000
    while (got < 15 && Date.now() < deadline) got += (await consumer.consume(15 - got, 1000)).length
    const stats = consumer.metrics()
    await consumer.close()
    assert.equal(stats.records_consumed, 15)
    assert.equal(stats.bytes_consumed, 15 * 'value-00'.length)
    assert.deepEqual(stats.partitions.map((p) => [p.topic, p.partition, p.position, p.high_watermark, p.lag]), [['observed', 0, 15, 20, 5]])
  } finally {
    await broker.stop()
  }
})

// Exactly-once consume-transform-produce with odradek for Node.js: reads 'orders' as a member
// of a group (read_committed), writes one upper-cased record per input to 'orders-upper', and
// commits the input offsets in the same transaction (kafkajs's producer.transaction()). Killed
// and started again with the same transactional.id, it fences its previous self and resumes
// from the last committed transaction: no output is seen twice by read_committed readers.
//
//   node examples/node/transactions.js                  starts a broker in-process
//   node examples/node/transactions.js 127.0.0.1:9092   uses that broker (topics must exist)
'use strict'
const { Producer, Consumer, Admin, testing } = require('../../node')

async function main() {
  let broker = null
  let bootstrap = process.argv[2]
  let expected = Infinity // with its own broker it knows how many records there are
  if (!bootstrap) {
    broker = await testing.Broker.start()
    bootstrap = broker.bootstrapServers
    const admin = new Admin({ 'bootstrap.servers': bootstrap })
    await admin.createTopics([{ topic: 'orders', numPartitions: 2 }, { topic: 'orders-upper', numPartitions: 2 }])
    await admin.close()
    const seed = new Producer({ 'bootstrap.servers': bootstrap })
    await Promise.all(['apple', 'pear', 'plum', 'fig'].map((v, i) => seed.send({ topic: 'orders', partition: i % 2, value: v })))
    await seed.close()
    expected = 4
  }

  const producer = new Producer({ 'bootstrap.servers': bootstrap, 'transactional.id': 'orders-upper-1' })
  await producer.initTransactions()
  const consumer = new Consumer({
    'bootstrap.servers': bootstrap,
    'group.id': 'orders-upper',
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': false,
    'isolation.level': 'read_committed',
  })
  consumer.subscribe(['orders'])
  let done = 0
  while (done < expected) {
    const batch = await consumer.consume(100, 3_000)
    if (batch.length === 0) break // idle
    const txn = await producer.transaction()
    try {
      const next = new Map()
      for (const m of batch) {
        await txn.send({ topic: 'orders-upper', partition: m.partition, key: m.key, value: m.value.toString().toUpperCase() })
        next.set(`${m.topic}/${m.partition}`, { topic: m.topic, partition: m.partition, offset: Number(m.offset) + 1 })
      }
      const topics = [...next.values()].map((o) => ({ topic: o.topic, partitions: [{ partition: o.partition, offset: o.offset }] }))
      // The consumer's generation and member id go with the offsets (KIP-447).
      await txn.sendOffsets({ consumer, topics })
      await txn.commit()
      done += batch.length
    } catch (e) {
      if (e.fatal) throw e // fenced: another instance took over
      await txn.abort() // nothing of this batch is visible; it is read again after a rebalance
      throw e
    }
  }
  console.log(`transformed ${done} records exactly once`)
  await consumer.close()
  await producer.close()
  if (broker) await broker.stop()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

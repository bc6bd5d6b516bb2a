// The Node API against the embedded broker: producer, consumer (iterator, run, poll), groups
// with rebalance events, admin, errors, and that nothing blocks the event loop.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const odradek = require('../index.js')
const { Producer, Consumer, Admin, KafkaError, testing } = odradek

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

test('send resolves with the delivery report; records come back byte for byte', async () => {
  await admin.createTopics([{ topic: 'basic', numPartitions: 1 }])
  const producer = new Producer(conf({ 'linger.ms': 1 }))
  const binary = Buffer.from([0, 255, 1, 128])
  const reports = await Promise.all([
    producer.send({ topic: 'basic', key: 'k1', value: 'hello' }),
    producer.send({ topic: 'basic', key: null, value: binary, headers: [['h', 'x'], ['h', null]] }),
    producer.send({ topic: 'basic', key: Buffer.alloc(0), value: null, timestamp: 1234567 }),
  ])
  assert.deepEqual(reports.map((r) => [r.topic, r.partition, r.offset]), [['basic', 0, 0], ['basic', 0, 1], ['basic', 0, 2]])
  assert.equal(typeof reports[0].timestamp, 'number')
  await producer.close()

  const consumer = new Consumer(conf())
  await consumer.assign([{ topic: 'basic', partition: 0, offset: 'earliest' }])
  const got = await consumer.consume(3, 10_000)
  assert.equal(got.length, 3)
  assert.ok(Buffer.isBuffer(got[0].key) && Buffer.isBuffer(got[0].value))
  assert.equal(got[0].key.toString(), 'k1')
  assert.equal(got[0].value.toString(), 'hello')
  assert.deepEqual(got[0].headers, [])
  assert.equal(got[1].key, null)
  assert.deepEqual(got[1].value, binary)
  assert.equal(got[1].headers.length, 2)
  assert.deepEqual(got[1].headers[0], ['h', Buffer.from('x')])
  assert.deepEqual(got[1].headers[1], ['h', null])
  assert.deepEqual(got[2].key, Buffer.alloc(0))
  assert.equal(got[2].value, null)
  assert.equal(got[2].timestamp, 1234567)
  // One Buffer per fetched batch; records are views into it (no copy per record).
  assert.equal(got[0].value.buffer, got[1].value.buffer)
  assert.equal(consumer.position({ topic: 'basic', partition: 0 }), 3)
  assert.equal(await consumer.poll(200), null)
  await consumer.close()
})

test('the consumer is an async iterator; the loop ends when the consumer is closed', async () => {
  await admin.createTopics([{ topic: 'iter', numPartitions: 2 }])
  const producer = new Producer(conf())
  await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send({ topic: 'iter', key: `k${i}`, value: `v${i}` })))
  const consumer = new Consumer(conf())
  await consumer.assign([0, 1].map((partition) => ({ topic: 'iter', partition, offset: 'earliest' })))
  const seen = new Set()
  for await (const m of consumer) {
    seen.add(m.value.toString())
    if (seen.size === 100) break
  }
  assert.equal(seen.size, 100)
  // A loop still waiting for records ends when close() is called.
  const loop = (async () => {
    let n = 0
    for await (const m of consumer) n += m ? 1 : 0
    return n
  })()
  await new Promise((r) => setTimeout(r, 100))
  await consumer.close()
  assert.equal(await loop, 0)
  await producer.close()
})

test('run({eachMessage}) and run({eachBatch}) in the kafkajs shape', async () => {
  await admin.createTopics([{ topic: 'runner', numPartitions: 3 }])
  const producer = new Producer(conf())
  await Promise.all(Array.from({ length: 60 }, (_, i) => producer.send({ topic: 'runner', key: `k${i}`, value: `${i}` })))
  await producer.close()

  const c1 = new Consumer(conf())
  await c1.assign([0, 1, 2].map((partition) => ({ topic: 'runner', partition, offset: 'earliest' })))
  const values = []
  let done
  const all = new Promise((r) => (done = r))
  await c1.run({
    eachMessage: async ({ topic, partition, message }) => {
      assert.equal(topic, 'runner')
      assert.equal(message.partition, partition)
      values.push(Number(message.value.toString()))
      if (values.length === 60) done()
    },
  })
  await all
  await c1.stop()
  assert.deepEqual([...values].sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i))
  await c1.close()

  const c2 = new Consumer(conf())
  await c2.assign([0, 1, 2].map((partition) => ({ topic: 'runner', partition, offset: 'earliest' })))
  let count = 0
  const batches = []
  let done2
  const all2 = new Promise((r) => (done2 = r))
  await c2.run({
    eachBatch: async ({ batch, isRunning, heartbeat }) => {
      assert.equal(typeof isRunning(), 'boolean')
      await heartbeat()
      batches.push(batch)
      for (const m of batch.messages) assert.equal(m.partition, batch.partition)
      assert.equal(batch.firstOffset(), batch.messages[0].offset)
      count += batch.messages.length
      if (count === 60) done2()
    },
  })
  await all2
  await c2.close()
  assert.equal(count, 60)
  assert.ok(batches.length >= 3)
})

test('a handler that throws stops run() and emits crash', async () => {
  await admin.createTopics([{ topic: 'crashy', numPartitions: 1 }])
  const producer = new Producer(conf())
  await producer.send({ topic: 'crashy', value: 'boom' })
  await producer.close()
  const consumer = new Consumer(conf())
  await consumer.assign([{ topic: 'crashy', partition: 0, offset: 'earliest' }])
  const crashed = new Promise((resolve) => consumer.once('crash', resolve))
  await consumer.run({
    eachMessage: async () => {
      throw new Error('handler failed')
    },
  })
  const err = await crashed
  assert.equal(err.message, 'handler failed')
  await consumer.close()
})

test('a group spreads partitions and emits rebalance events; commits survive members', async () => {
  await admin.createTopics([{ topic: 'grp', numPartitions: 4 }])
  const producer = new Producer(conf())
  await Promise.all(Array.from({ length: 40 }, (_, i) => producer.send({ topic: 'grp', key: `k${i}`, value: `${i}` })))
  const groupConf = conf({
    'group.id': 'node-group',
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': false,
    'heartbeat.interval.ms': 300,
    'session.timeout.ms': 10000,
  })
  const a = new Consumer(groupConf)
  const events = []
  a.on('rebalance', (e) => events.push(e))
  const assigned = new Promise((resolve) => a.once('assigned', resolve))
  a.subscribe(['grp'])
  const got = []
  while (got.length < 40) got.push(...(await a.consume(100, 15_000)))
  assert.equal(got.length, 40)
  const parts = await assigned
  assert.equal(parts.length, 4)
  assert.ok(events.some((e) => e.kind === 'assigned'))
  await a.commit()

  const b = new Consumer(groupConf)
  b.subscribe({ topics: ['grp'] })
  const deadline = Date.now() + 30_000
  for (;;) {
    await Promise.all([a.poll(100), b.poll(100)])
    const pa = a.assignment().length
    const pb = b.assignment().length
    if (pa > 0 && pb > 0 && pa + pb === 4) break
    assert.ok(Date.now() < deadline, `the group did not settle: ${pa} + ${pb}`)
  }
  assert.ok(events.some((e) => e.kind === 'revoked'), JSON.stringify(events))
  const committed = await b.committed([0, 1, 2, 3].map((partition) => ({ topic: 'grp', partition })))
  assert.equal(committed.reduce((s, o) => s + o, 0), 40)
  await b.close()
  await a.close()
  await producer.close()
})

test('closing an auto-commit group consumer commits only the messages handed out', async () => {
  await admin.createTopics([{ topic: 'read-ahead', numPartitions: 1 }])
  const producer = new Producer(conf())
  await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send({ topic: 'read-ahead', value: `${i}` })))
  const groupConf = conf({ 'group.id': 'node-read-ahead', 'auto.offset.reset': 'earliest', 'enable.auto.commit': true })
  const tp = [{ topic: 'read-ahead', partition: 0 }]

  // The iterator: leave the loop after 10 messages (the rest of the fetched batch stays buffered).
  const a = new Consumer(groupConf)
  a.subscribe(['read-ahead'])
  const seen = []
  for await (const m of a) {
    seen.push(m.offset)
    if (seen.length === 10) break
  }
  await a.close()
  const b = new Consumer(groupConf)
  assert.deepEqual(await b.committed(tp), [seen[9] + 1])

  // run({eachMessage}): stop from inside the handler after 5 more.
  b.subscribe(['read-ahead'])
  const handled = []
  let closing
  await b.run({
    eachMessage: async ({ message }) => {
      handled.push(message.offset)
      if (handled.length === 5) closing = b.close()
    },
  })
  while (!closing) await new Promise((r) => setTimeout(r, 10))
  await closing
  assert.equal(handled[0], seen[9] + 1, 'resumes at the first message never handed out')
  const c = new Consumer(groupConf)
  assert.deepEqual(await c.committed(tp), [handled[handled.length - 1] + 1])
  await c.close()
  await producer.close()
})

test('errors are KafkaError objects with name, code and retriable', async () => {
  assert.throws(() => new Producer(conf({ 'linger.msec': 5 })), (e) => {
    assert.ok(e instanceof KafkaError && e instanceof Error)
    assert.equal(e.name, '_INVALID_CONFIG')
    assert.equal(e.code, -186)
    assert.equal(e.retriable, false)
    assert.match(e.message, /linger\.msec/)
    assert.equal(e.topic, null)
    return true
  })
  await admin.createTopics([{ topic: 'dup', numPartitions: 1 }])
  await assert.rejects(admin.createTopics([{ topic: 'dup', numPartitions: 1 }]), (e) => {
    assert.equal(e.name, 'TOPIC_ALREADY_EXISTS')
    assert.equal(e.code, 36)
    assert.equal(e.retriable, false)
    assert.equal(e.type, 'TOPIC_ALREADY_EXISTS')
    assert.equal(e.topic, 'dup') // the error's context reaches Node, as it does Python
    assert.equal(e.partition, null)
    return true
  })
  await admin.createTopics([{ topic: 'tiny', numPartitions: 1, config: { 'max.message.bytes': 1024 } }])
  const producer = new Producer(conf({ 'linger.ms': 0 }))
  await assert.rejects(producer.send({ topic: 'tiny', value: Buffer.alloc(4096) }), (e) => e.name === 'MESSAGE_TOO_LARGE' && e.code === 10)
  await assert.rejects(producer.send({ topic: '' }), TypeError)
  await producer.close()
  const consumer = new Consumer(conf())
  assert.throws(() => consumer.subscribe(['x']), (e) => e.name === '_INVALID_CONFIG')
  await consumer.close()
})

test('admin lists, grows and deletes topics', async () => {
  await admin.createTopics([{ topic: 'adm', numPartitions: 2 }])
  let topics = await admin.listTopics()
  assert.deepEqual(topics.find((t) => t.topic === 'adm'), { topic: 'adm', partitions: 2 })
  await admin.createPartitions('adm', 5)
  topics = await admin.listTopics()
  assert.equal(topics.find((t) => t.topic === 'adm').partitions, 5)
  await admin.deleteTopics(['adm'])
  topics = await admin.listTopics()
  assert.equal(topics.find((t) => t.topic === 'adm'), undefined)
})

test('waiting for records does not block the event loop', async () => {
  await admin.createTopics([{ topic: 'idle', numPartitions: 1 }])
  const consumer = new Consumer(conf())
  await consumer.assign([{ topic: 'idle', partition: 0, offset: 'latest' }])
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const started = Date.now()
  assert.equal(await consumer.poll(500), null)
  clearInterval(timer)
  assert.ok(Date.now() - started >= 450)
  assert.ok(ticks >= 20, `only ${ticks} timer ticks while waiting 500 ms`)
  await consumer.close()
})

test("kafkajs shapes: send({topic, messages}) sends every message; subscribe({fromBeginning}) starts at the beginning", async () => {
  await admin.createTopics([{ topic: 'kjs', numPartitions: 1 }])
  const producer = new Producer(conf())
  const reports = await producer.send({ topic: 'kjs', messages: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] })
  assert.deepEqual(reports.map((r) => r.offset), [0, 1])
  await assert.rejects(producer.send({ topic: 'kjs', messages: [{ value: 'x' }], acks: -1 }), /acks is not a per-call option/)
  await assert.rejects(producer.send({ topic: 'kjs', messages: 'nope' }), /messages must be an array/)
  await producer.close()

  // No auto.offset.reset in the config (latest by default): fromBeginning decides.
  const consumer = new Consumer(conf({ 'group.id': 'kjs-group', 'heartbeat.interval.ms': 300 }))
  consumer.subscribe({ topics: ['kjs'], fromBeginning: true })
  const got = await consumer.consume(2, 20_000)
  assert.deepEqual(got.map((m) => [m.offset, m.key.toString(), m.value.toString()]), [[0, 'a', '1'], [1, 'b', '2']])
  assert.throws(() => consumer.subscribe({ topics: ['kjs'], fromBeginning: false }), /fromBeginning: false needs auto.offset.reset=latest/)
  await consumer.close()
})

test("a 'revoked' listener's promise is awaited before close() closes the consumer", async () => {
  await admin.createTopics([{ topic: 'revoke-close', numPartitions: 1 }])
  const producer = new Producer(conf())
  await producer.send({ topic: 'revoke-close', messages: [{ value: '1' }, { value: '2' }, { value: '3' }] })
  await producer.close()
  const groupConf = conf({ 'group.id': 'revoke-close-group', 'auto.offset.reset': 'earliest', 'enable.auto.commit': false })
  const a = new Consumer(groupConf)
  const order = []
  a.on('revoked', async () => {
    await new Promise((r) => setTimeout(r, 50))
    await a.commit()
    order.push('committed in revoked')
  })
  a.subscribe(['revoke-close'])
  assert.equal((await a.consume(2, 20_000)).length, 2)
  await a.close()
  order.push('closed')
  assert.deepEqual(order, ['committed in revoked', 'closed'])
  const b = new Consumer(groupConf)
  b.subscribe(['revoke-close'])
  const rest = await b.consume(1, 20_000)
  assert.deepEqual(rest.map((m) => m.offset), [2])
  await b.close()
})

test('kafkajs-style transaction(): commit with offsets, abort; fenced is fatal, a failed record abortable', async () => {
  await admin.createTopics([{ topic: 'txn-out', numPartitions: 1 }, { topic: 'txn-small', numPartitions: 1, config: { 'max.message.bytes': '1024' } }])
  const producer = new Producer(conf({ 'transactional.id': 'node-txn' }))
  const consumer = new Consumer(conf({ 'group.id': 'node-txn-group', 'isolation.level': 'read_committed' }))
  const meta = consumer.groupMetadata()
  assert.equal(meta.groupId, 'node-txn-group')
  let txn = await producer.transaction()
  await txn.send({ topic: 'txn-out', value: 'committed' })
  await txn.sendOffsets({ consumer, topics: [{ topic: 'txn-out', partitions: [{ partition: 0, offset: '5' }] }] })
  await txn.commit()
  assert.equal(txn.isActive(), false)
  assert.deepEqual(await consumer.committed([{ topic: 'txn-out', partition: 0 }]), [5])
  txn = await producer.transaction()
  await txn.send({ topic: 'txn-out', value: 'aborted' })
  await txn.abort()

  txn = await producer.transaction()
  await assert.rejects(txn.send({ topic: 'txn-small', value: Buffer.alloc(4096) }), { name: 'MESSAGE_TOO_LARGE' })
  await assert.rejects(txn.commit(), (e) => e instanceof KafkaError && e.abortable && !e.fatal)
  assert.equal(txn.isActive(), true)
  await txn.abort()

  txn = await producer.transaction()
  await txn.send({ topic: 'txn-out', value: 'zombie' })
  const second = new Producer(conf({ 'transactional.id': 'node-txn' }))
  await second.initTransactions()
  await assert.rejects(txn.commit(), (e) => e instanceof KafkaError && e.name === 'PRODUCER_FENCED' && e.fatal)
  await second.close()
  await producer.close()

  await consumer.assign([{ topic: 'txn-out', partition: 0, offset: 'earliest' }])
  const got = await consumer.consume(10, 2_000)
  assert.deepEqual(got.map((m) => m.value.toString()), ['committed'])
  await consumer.close()
})

test('sendOffsets({consumerGroupId}) carries the generation and member id of the open consumer of that group', async () => {
  await admin.createTopics([{ topic: 'txn-gid', numPartitions: 1 }])
  const producer = new Producer(conf({ 'transactional.id': 'node-txn-gid' }))
  const consumer = new Consumer(conf({ 'group.id': 'node-txn-gid', 'auto.offset.reset': 'earliest' }))
  consumer.subscribe(['txn-gid'])
  const deadline = Date.now() + 30_000
  while (consumer.assignment().length === 0) {
    await consumer.poll(100)
    assert.ok(Date.now() < deadline, 'the consumer was never assigned')
  }
  const meta = consumer.groupMetadata()
  assert.ok(meta.generationId > 0 && meta.memberId !== '', JSON.stringify(meta))
  const sent = []
  const original = producer.sendOffsetsToTransaction.bind(producer)
  producer.sendOffsetsToTransaction = (offsets, m) => {
    sent.push(m)
    return original(offsets, m)
  }
  const offsets = (offset) => ({ consumerGroupId: 'node-txn-gid', topics: [{ topic: 'txn-gid', partitions: [{ partition: 0, offset }] }] })
  let txn = await producer.transaction()
  await txn.sendOffsets(offsets(3))
  await txn.commit()
  assert.deepEqual(sent[0], meta)
  assert.deepEqual(await consumer.committed([{ topic: 'txn-gid', partition: 0 }]), [3])
  await consumer.close()
  // No open consumer of the group: only the group is named.
  txn = await producer.transaction()
  await txn.sendOffsets(offsets(4))
  await txn.commit()
  assert.deepEqual(sent[1], { groupId: 'node-txn-gid', generationId: -1, memberId: '' })
  await producer.close()
})

test('examples/node/transactions.js runs: four records transformed exactly once', async () => {
  const { execFile } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const example = fileURLToPath(new URL('../../examples/node/transactions.js', import.meta.url))
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [example], { timeout: 60_000 }, (err, out, errOut) => (err ? reject(new Error(`${err}\n${errOut}`)) : resolve(out)))
  })
  assert.match(stdout, /^transformed 4 records exactly once$/m)
})

// Interop with kafkajs 2.2.4 (installed by scripts/setup.d/48-node.sh into
// $ODRADEK_CACHE/node-interop): records written by odradek are read back by kafkajs and the
// other way round, byte for byte, headers included, on the embedded broker.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Producer, Consumer, Admin, testing } = require('../index.js')

const cache = process.env.ODRADEK_CACHE || path.join(os.homedir(), '.cache', 'odradek')
const interopDir = path.join(cache, 'node-interop')
if (!fs.existsSync(path.join(interopDir, 'node_modules', 'kafkajs'))) {
  throw new Error(`kafkajs is not installed in ${interopDir}: run scripts/setup.d/48-node.sh (make test does)`)
}
const { Kafka, CompressionTypes, logLevel } = createRequire(path.join(interopDir, 'package.json'))('kafkajs')

let broker
let admin
let kafka

before(async () => {
  broker = await testing.Broker.start()
  admin = new Admin({ 'bootstrap.servers': broker.bootstrapServers })
  kafka = new Kafka({ clientId: 'odradek-node-interop', brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING })
})

after(async () => {
  await admin.close()
  await broker.stop()
})

// Records with every kind of bytes: null, empty, binary, long; headers with a repeated name,
// an empty value and binary bytes. (kafkajs cannot send a null header value.)
function records(n) {
  const out = []
  for (let i = 0; i < n; i++) {
    out.push({
      key: i % 7 === 0 ? null : i % 11 === 0 ? Buffer.alloc(0) : Buffer.from(`key-${i}`),
      value: i % 13 === 0 ? null : Buffer.concat([Buffer.from([0, 255, i & 255]), Buffer.from(`value-${i}-`.repeat(1 + (i % 50)))]),
      headers: i % 3 === 0 ? [] : [['trace', Buffer.from(`t${i}`)], ['trace', Buffer.from([0xc3, 0x28, i & 255])], ['empty', Buffer.alloc(0)]],
    })
  }
  return out
}

// kafkajs headers: an object in arrival order, repeated names as arrays.
function toKafkajsHeaders(headers) {
  const obj = {}
  for (const [k, v] of headers) obj[k] = obj[k] === undefined ? v : [].concat(obj[k], [v])
  return obj
}

function fromKafkajsHeaders(obj) {
  const out = []
  for (const [k, v] of Object.entries(obj || {})) {
    for (const x of Array.isArray(v) ? v : [v]) out.push([k, x])
  }
  return out
}

function same(a, b) {
  if (a === null || a === undefined) return b === null || b === undefined
  return b !== null && b !== undefined && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0
}

function assertSameRecord(got, want, where) {
  assert.ok(same(got.key, want.key), `${where}: key ${got.key} != ${want.key}`)
  assert.ok(same(got.value, want.value), `${where}: value differs`)
  assert.equal(got.headers.length, want.headers.length, `${where}: header count`)
  got.headers.forEach(([k, v], i) => {
    assert.equal(k, want.headers[i][0], `${where}: header ${i} name`)
    assert.ok(same(v, want.headers[i][1]), `${where}: header ${i} value`)
  })
}

for (const codec of ['none', 'gzip']) {
  test(`odradek produces (${codec}), kafkajs consumes the same bytes`, { timeout: 60_000 }, async () => {
    const topic = `ours-to-kafkajs-${codec}`
    await admin.createTopics([{ topic, numPartitions: 3 }])
    const producer = new Producer({ 'bootstrap.servers': broker.bootstrapServers, 'compression.type': codec, 'linger.ms': 5 })
    const sent = records(300)
    const reports = await Promise.all(sent.map((r, i) => producer.send({ topic, partition: i % 3, ...r })))
    await producer.close()

    const consumer = kafka.consumer({ groupId: `kafkajs-reads-${codec}` })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const got = new Map()
    await new Promise((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            got.set(`${partition}/${message.offset}`, message)
            if (got.size === sent.length) resolve()
          },
        })
        .catch(reject)
    })
    await consumer.disconnect()
    sent.forEach((want, i) => {
      const m = got.get(`${reports[i].partition}/${reports[i].offset}`)
      assert.ok(m, `kafkajs did not see record ${i}`)
      assertSameRecord({ key: m.key, value: m.value, headers: fromKafkajsHeaders(m.headers) }, want, `record ${i}`)
    })
  })

  test(`kafkajs produces (${codec}), odradek consumes the same bytes`, { timeout: 60_000 }, async () => {
    const topic = `kafkajs-to-ours-${codec}`
    await admin.createTopics([{ topic, numPartitions: 3 }])
    const sent = records(300)
    const producer = kafka.producer()
    await producer.connect()
    const acks = await producer.send({
      topic,
      compression: codec === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      messages: sent.map((r, i) => ({ partition: i % 3, key: r.key, value: r.value, headers: toKafkajsHeaders(r.headers) })),
    })
    await producer.disconnect()
    assert.ok(acks.length > 0)

    const consumer = new Consumer({ 'bootstrap.servers': broker.bootstrapServers })
    await consumer.assign([0, 1, 2].map((partition) => ({ topic, partition, offset: 'earliest' })))
    const got = []
    while (got.length < sent.length) {
      const batch = await consumer.consume(1000, 10_000)
      assert.ok(batch.length > 0, `only ${got.length} of ${sent.length} records arrived`)
      got.push(...batch)
    }
    await consumer.close()
    // Per partition, records keep kafkajs's send order.
    for (const p of [0, 1, 2]) {
      const want = sent.filter((_, i) => i % 3 === p)
      const mine = got.filter((m) => m.partition === p).sort((a, b) => a.offset - b.offset)
      assert.equal(mine.length, want.length)
      mine.forEach((m, i) => assertSameRecord(m, want[i], `partition ${p} record ${i}`))
    }
  })
}

test('keyed records land on the same partitions from kafkajs and from odradek (murmur2)', { timeout: 60_000 }, async () => {
  const topic = 'keyed-both'
  await admin.createTopics([{ topic, numPartitions: 6 }])
  const keys = Array.from({ length: 50 }, (_, i) => `user-${i * 7919}`)
  const producer = kafka.producer()
  await producer.connect()
  const theirs = []
  for (const key of keys) {
    const [r] = await producer.send({ topic, messages: [{ key, value: 'kafkajs' }] })
    theirs.push(r.partition)
  }
  await producer.disconnect()
  const ours = new Producer({ 'bootstrap.servers': broker.bootstrapServers })
  const mine = await Promise.all(keys.map((key) => ours.send({ topic, key, value: 'odradek' })))
  await ours.close()
  assert.deepEqual(mine.map((r) => r.partition), theirs)
})

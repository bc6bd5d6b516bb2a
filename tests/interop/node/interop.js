// The kafkajs (2.2.4) side of the Odradek interop suite.
//
//   node interop.js produce BOOTSTRAP COMPRESSION < records   lines: topic \t partition \t - \t key \t value \t headers
//   node interop.js consume BOOTSTRAP TOPIC:PARTITIONS...     the same lines on stdout, with offsets
//   node interop.js consume-group BOOTSTRAP GROUP TOPIC:PARTITIONS...   the same, as a group member
//
// Keys and values are base64 or "-" for null; headers are comma-separated key:value pairs of
// base64. kafkajs's consumer always joins a consumer group; `consume` reads without one, through
// kafkajs's own cluster/broker layer (metadata, ListOffsets, Fetch and its record-batch decoder),
// and `consume-group` with the ordinary consumer API. Both read every listed partition from the
// start up to the end offset seen when they began.
'use strict'
const readline = require('readline')
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP, // kafkajs ships only gzip; the other codecs need plugins
}

const decode = field => (field === '-' ? null : Buffer.from(field, 'base64'))
const encode = buf => (buf === null || buf === undefined ? '-' : Buffer.from(buf).toString('base64'))

function parseLine(line) {
  const f = line.split('\t')
  if (f.length !== 6) throw new Error(`record line has ${f.length} fields: ${line}`)
  // kafkajs represents headers as an object: repeated keys become arrays (so they must be adjacent).
  const headers = {}
  if (f[5] !== '') {
    for (const h of f[5].split(',')) {
      const [k, v] = h.split(':')
      const key = decode(k).toString('utf8')
      const value = decode(v)
      headers[key] = headers[key] === undefined ? value : [].concat(headers[key], [value])
    }
  }
  return { topic: f[0], partition: Number(f[1]), key: decode(f[3]), value: decode(f[4]), headers }
}

function kafkaFor(bootstrap) {
  return new Kafka({ clientId: 'odradek-interop', brokers: [bootstrap], logLevel: logLevel.ERROR })
}

async function produce(bootstrap, compression) {
  if (!(compression in COMPRESSION)) throw new Error(`kafkajs has no built-in ${compression}`)
  const lines = []
  for await (const line of readline.createInterface({ input: process.stdin })) lines.push(line)
  const producer = kafkaFor(bootstrap).producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    // Consecutive records of one topic go out together; each send waits for acks=all.
    let i = 0
    while (i < lines.length) {
      const batch = []
      let topic = null
      while (i < lines.length && batch.length < 1000) {
        const r = parseLine(lines[i])
        if (topic !== null && r.topic !== topic) break
        topic = r.topic
        batch.push({ partition: r.partition, key: r.key, value: r.value, headers: r.headers })
        i++
      }
      await producer.send({ topic, acks: -1, compression: COMPRESSION[compression], messages: batch })
    }
  } finally {
    await producer.disconnect()
  }
  process.stderr.write(`kafkajs: ${lines.length} records acknowledged\n`)
}

function privateCluster(kafka) {
  const sym = Object.getOwnPropertySymbols(kafka).find(s => s.toString() === 'Symbol(private:Kafka:createCluster)')
  if (!sym) throw new Error('kafkajs internals changed: no createCluster')
  return kafka[sym]({ allowAutoTopicCreation: false })
}

function formatHeaders(headers) {
  const out = []
  for (const [key, value] of Object.entries(headers || {})) {
    for (const v of Array.isArray(value) ? value : [value]) out.push(`${encode(Buffer.from(key, 'utf8'))}:${encode(v)}`)
  }
  return out.join(',')
}

async function consume(bootstrap, specs) {
  const cluster = privateCluster(kafkaFor(bootstrap))
  await cluster.connect()
  const out = []
  try {
    const topics = specs.map(s => {
      const [topic, n] = s.split(':')
      return { topic, partitions: [...Array(Number(n)).keys()] }
    })
    await cluster.addMultipleTargetTopics(topics.map(t => t.topic))
    const ends = await cluster.fetchTopicsOffset(
      topics.map(t => ({ topic: t.topic, partitions: t.partitions.map(partition => ({ partition })) }))
    )
    const position = new Map() // "topic\tpartition" -> [next offset, end offset]
    for (const { topic, partitions } of ends) {
      for (const { partition, offset } of partitions) {
        if (Number(offset) > 0) position.set(`${topic}\t${partition}`, [0, Number(offset)])
      }
    }
    const deadline = Date.now() + 120000
    while (position.size > 0) {
      if (Date.now() > deadline) throw new Error(`timed out; not read to the end: ${[...position.keys()]}`)
      const byLeader = new Map()
      for (const [tp, [next]] of position) {
        const [topic, p] = tp.split('\t')
        const leader = cluster.findLeaderForPartitions(topic, [Number(p)])
        for (const nodeId of Object.keys(leader)) {
          if (!byLeader.has(nodeId)) byLeader.set(nodeId, new Map())
          const forTopic = byLeader.get(nodeId)
          if (!forTopic.has(topic)) forTopic.set(topic, [])
          forTopic.get(topic).push({ partition: Number(p), fetchOffset: String(next), maxBytes: 1048576 })
        }
      }
      for (const [nodeId, forTopic] of byLeader) {
        const broker = await cluster.findBroker({ nodeId })
        const response = await broker.fetch({
          replicaId: -1,
          isolationLevel: 1,
          maxWaitTime: 500,
          minBytes: 1,
          maxBytes: 4194304,
          topics: [...forTopic].map(([topic, partitions]) => ({ topic, partitions })),
        })
        for (const { topicName, partitions } of response.responses) {
          for (const { partition, errorCode, messages } of partitions) {
            if (errorCode !== 0) throw new Error(`fetch ${topicName}/${partition}: error code ${errorCode}`)
            const tp = `${topicName}\t${partition}`
            const pos = position.get(tp)
            if (!pos) continue
            for (const m of messages) {
              const offset = Number(m.offset)
              // A fetch returns whole batches: skip records before the position and control records.
              if (offset < pos[0] || m.isControlRecord) continue
              if (offset >= pos[1]) break
              out.push(`${topicName}\t${partition}\t${offset}\t${encode(m.key)}\t${encode(m.value)}\t${formatHeaders(m.headers)}\n`)
              pos[0] = offset + 1
            }
            if (messages.length > 0) pos[0] = Math.max(pos[0], Number(messages[messages.length - 1].offset) + 1)
            if (pos[0] >= pos[1]) position.delete(tp)
          }
        }
      }
    }
  } finally {
    await cluster.disconnect()
  }
  process.stdout.write(out.join(''))
}

// The ordinary kafkajs consumer: joins GROUP, subscribes from the beginning and reads until every
// partition reached the end offset seen at start; commits as it goes, leaves the group at the end.
async function consumeGroup(bootstrap, group, specs) {
  const kafka = kafkaFor(bootstrap)
  const admin = kafka.admin()
  await admin.connect()
  const remaining = new Map() // "topic\tpartition" -> end offset
  try {
    for (const s of specs) {
      const [topic] = s.split(':')
      for (const { partition, high } of await admin.fetchTopicOffsets(topic)) {
        if (Number(high) > 0) remaining.set(`${topic}\t${partition}`, Number(high))
      }
    }
  } finally {
    await admin.disconnect()
  }
  const out = []
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 500 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: specs.map(s => s.split(':')[0]), fromBeginning: true })
    const done = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; not read to the end: ${[...remaining.keys()]}`)), 120000)
      if (remaining.size === 0) { clearTimeout(timer); resolve() }
      consumer
        .run({
          eachMessage: async ({ topic, partition, message }) => {
            const tp = `${topic}\t${partition}`
            const end = remaining.get(tp)
            const offset = Number(message.offset)
            if (end === undefined || offset >= end) return
            out.push(`${topic}\t${partition}\t${offset}\t${encode(message.key)}\t${encode(message.value)}\t${formatHeaders(message.headers)}\n`)
            if (offset + 1 >= end) {
              remaining.delete(tp)
              if (remaining.size === 0) { clearTimeout(timer); resolve() }
            }
          },
        })
        .catch(reject)
    })
    await done
  } finally {
    await consumer.disconnect()
  }
  process.stdout.write(out.join(''))
}

async function main() {
  const [cmd, bootstrap, ...rest] = process.argv.slice(2)
  if (cmd === 'produce' && rest.length === 1) return produce(bootstrap, rest[0])
  if (cmd === 'consume' && rest.length >= 1) return consume(bootstrap, rest)
  if (cmd === 'consume-group' && rest.length >= 2) return consumeGroup(bootstrap, rest[0], rest.slice(1))
  throw new Error('usage: interop.js produce BOOTSTRAP COMPRESSION | interop.js consume BOOTSTRAP TOPIC:PARTITIONS...')
}

main().catch(e => {
  process.stderr.write(`kafkajs: ${e.stack || e}\n`)
  process.exit(1)
})

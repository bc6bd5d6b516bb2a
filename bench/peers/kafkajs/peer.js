// Benchmark peer on kafkajs 2.2.4 (pure JavaScript; installed by scripts/setup.d/48-node.sh into
// $ODRADEK_CACHE/node-interop): produce and consume with the common peer command line
// (bench/README.md). kafkajs batches only what one send() carries, so the producer sends
// `--batch-size` bytes' worth of records per call with several calls in flight; it has gzip
// built in but no lz4/zstd. Its consumer always joins a group (no manual assignment).
'use strict'
const os = require('node:os')
const path = require('node:path')
const { createRequire } = require('node:module')
const { parseArgs, values, emit, fail, unsupported } = require('../node_common.js')

const cache = process.env.ODRADEK_CACHE || path.join(os.homedir(), '.cache', 'odradek')
const req = createRequire(path.join(cache, 'node-interop', 'package.json'))
const { Kafka, CompressionTypes, logLevel } = req('kafkajs')
const CLIENT = `kafkajs ${req('kafkajs/package.json').version} (node ${process.version})`

const kafkaFor = (o) => new Kafka({ clientId: 'odradek-bench', brokers: [o.bootstrap], logLevel: logLevel.NOTHING })

async function produce(o) {
  const compression = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }[o.compression]
  if (compression === undefined) unsupported('kafkajs', `kafkajs has no built-in ${o.compression} codec`)
  const acks = o.acks === 'all' ? -1 : Number(o.acks)
  const producer = kafkaFor(o).producer({ allowAutoTopicCreation: true, maxInFlightRequests: 5 })
  await producer.connect()
  const vals = values(o.size)
  const perSend = Math.max(1, Math.floor(o.batchSize / (o.size + 20)))
  const inFlight = new Set()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < o.count; i += perSend) {
    const messages = []
    for (let j = i; j < Math.min(o.count, i + perSend); j++) messages.push({ partition: 0, value: vals[j % vals.length] })
    const p = producer.send({ topic: o.topic, acks, compression, messages })
    inFlight.add(p)
    p.finally(() => inFlight.delete(p))
    if (inFlight.size >= 5) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  await producer.disconnect()
  emit(CLIENT, { records: o.count, bytes: o.count * o.size, seconds })
}

async function consume(o) {
  const consumer = kafkaFor(o).consumer({ groupId: `odradek-bench-kafkajs-${process.pid}`, maxBytes: 52428800, maxBytesPerPartition: 1048576 })
  await consumer.connect()
  await consumer.subscribe({ topic: o.topic, fromBeginning: true })
  let n = 0
  let bytes = 0
  let t0 = null
  let seconds = 0
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('consume timed out after 300 s')), 300_000)
    consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (t0 === null && batch.messages.length) t0 = process.hrtime.bigint()
          for (const m of batch.messages) {
            if (n >= o.count) break
            n++
            bytes += m.value.length
          }
          if (n >= o.count && seconds === 0) {
            seconds = Number(process.hrtime.bigint() - t0) / 1e9
            clearTimeout(timer)
            resolve()
          }
        },
      })
      .catch(reject)
  })
  await consumer.disconnect()
  emit(CLIENT, { records: n, bytes, seconds })
}

const o = parseArgs(process.argv.slice(2))
const run = { produce, consume }[o.mode]
if (!run) fail('kafkajs', `mode ${o.mode} is not implemented by this peer`)
run(o).catch((e) => fail('kafkajs', e))

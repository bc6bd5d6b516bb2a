// Benchmark peer on odradek's Node binding (node/): produce and consume, with the common peer
// command line and one JSON line of output (bench/README.md). Needs the addon built
// (scripts/test.d/45-node.sh or `npx napi build --release` in node/).
'use strict'
const path = require('node:path')
const { parseArgs, values, emit, fail } = require('../node_common.js')
const odradek = require(process.env.ODRADEK_NODE_PACKAGE || path.join(__dirname, '..', '..', '..', 'node'))

const CLIENT = `odradek-node ${odradek.version} (node ${process.version})`

async function produce(o) {
  const producer = new odradek.Producer({
    'bootstrap.servers': o.bootstrap,
    acks: o.acks === 'all' ? 'all' : o.acks,
    'compression.type': o.compression,
    'linger.ms': o.lingerMs,
    'batch.size': o.batchSize,
    'enable.idempotence': false,
    'max.in.flight.requests.per.connection': 5,
  })
  const vals = values(o.size)
  let done = 0
  let failed = null
  let wake = null
  const onOk = () => {
    done++
    if (wake && sent - done < 100000) { const w = wake; wake = null; w() }
  }
  const onErr = (e) => { failed = failed || e; onOk() }
  let sent = 0
  const t0 = process.hrtime.bigint()
  while (sent < o.count) {
    producer.send({ topic: o.topic, partition: 0, value: vals[sent % vals.length] }).then(onOk, onErr)
    sent++
    // Bound the promises in flight (the producer's own buffer bounds the bytes).
    if (sent - done > 200000) await new Promise((r) => (wake = r))
  }
  await producer.flush()
  while (done < o.count) await new Promise((r) => setImmediate(r))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  await producer.close()
  if (failed) throw failed
  emit(CLIENT, { records: o.count, bytes: o.count * o.size, seconds })
}

async function consume(o) {
  const consumer = new odradek.Consumer({ 'bootstrap.servers': o.bootstrap, 'fetch.min.bytes': 1 })
  await consumer.assign([{ topic: o.topic, partition: 0, offset: 0 }])
  let n = 0
  let bytes = 0
  let t0 = null
  const deadline = Date.now() + 300_000
  while (n < o.count) {
    if (Date.now() > deadline) throw new Error('consume timed out after 300 s')
    const batch = await consumer.consume(10000, 100)
    if (batch.length && t0 === null) t0 = process.hrtime.bigint()
    for (const m of batch) {
      n++
      bytes += m.value.length
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  await consumer.close()
  emit(CLIENT, { records: n, bytes, seconds })
}

const o = parseArgs(process.argv.slice(2))
const run = { produce, consume }[o.mode]
if (!run) fail('odradek-node', `mode ${o.mode} is not implemented by this peer`)
run(o).catch((e) => fail('odradek-node', e))

// Shared by the Node peers (odradek_node/peer.js, kafkajs/peer.js): the common peer command
// line of bench/README.md, the payload pool, and the one JSON line of output.
'use strict'

function parseArgs(argv) {
  const [mode, ...rest] = argv
  if (!['produce', 'consume', 'latency'].includes(mode)) throw new Error(`unknown mode ${mode}`)
  const o = { mode, acks: '1', compression: 'none', count: 100000, size: 100, lingerMs: 5, batchSize: 65536, rate: 1000, seconds: 5 }
  const names = { '--bootstrap': 'bootstrap', '--topic': 'topic', '--acks': 'acks', '--compression': 'compression',
    '--count': 'count', '--size': 'size', '--linger-ms': 'lingerMs', '--batch-size': 'batchSize', '--rate': 'rate', '--seconds': 'seconds' }
  for (let i = 0; i < rest.length; i += 2) {
    const k = names[rest[i]]
    if (!k) throw new Error(`unknown option ${rest[i]}`)
    o[k] = typeof o[k] === 'number' ? Number(rest[i + 1]) : rest[i + 1]
  }
  if (!o.bootstrap || !o.topic) throw new Error('--bootstrap and --topic are required')
  return o
}

// The same pseudo-random A..Z pool idea as the other peers: values are slices of it.
function values(size) {
  const POOL = 1 << 20
  const pool = Buffer.alloc(POOL)
  let x = 0x9e3779b9
  for (let i = 0; i < POOL; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    pool[i] = 65 + ((x >>> 0) % 26)
  }
  const out = []
  for (let off = 0; off + size < POOL; off += 4099) out.push(pool.subarray(off, off + size))
  return out
}

function emit(client, kv) {
  process.stdout.write(JSON.stringify({ ...kv, client }) + '\n')
}

function fail(name, e) {
  process.stderr.write(`${name} peer: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
}

/** The client cannot run this cell (e.g. a codec it lacks): exit 77, which the runner reports
 * as "unsupported" instead of a failure. */
function unsupported(name, why) {
  process.stderr.write(`${name} peer: unsupported: ${why}\n`)
  process.exit(77)
}

module.exports = { parseArgs, values, emit, fail, unsupported }

// The log bridge: the library's log records reach the handler given to setLogHandler.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { closedAddress } from './support.mjs'

const require = createRequire(import.meta.url)
const { Producer, setLogHandler } = require('../index.js')

test('an unreachable broker is a warn record naming its address', async () => {
  const seen = []
  setLogHandler('warn', (record) => seen.push(record))
  try {
    const address = await closedAddress()
    const producer = new Producer({ 'bootstrap.servers': address, 'message.timeout.ms': 1000 })
    const sent = producer.send({ topic: 'logged', value: 'v' }).catch((e) => e)
    const deadline = Date.now() + 15_000
    let hit
    while (!hit && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      hit = seen.find((r) => r.message.includes('cannot connect') && r.message.includes(address))
    }
    assert.ok(hit, `no 'cannot connect' record naming ${address}: ${JSON.stringify(seen)}`)
    assert.equal(hit.level, 'warn')
    assert.match(hit.target, /^odradek/)
    assert.ok(seen.every((r) => r.level === 'warn' || r.level === 'error'), 'a record below warn arrived')
    assert.ok((await sent) instanceof Error, 'the send fails at message.timeout.ms')
    await producer.close()
  } finally {
    setLogHandler(null)
  }
  assert.throws(() => setLogHandler('loud', () => {}), /not one of/)
})

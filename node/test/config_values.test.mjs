// Config values are coerced by the core, by the rule every binding shares
// (core/src/config/value.rs; python/tests/test_config_values.py checks the same cases): index.js
// passes the values as given.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Producer, Consumer, KafkaError, testing } = require('../index.js')

const BOOTSTRAP = '127.0.0.1:1'

test('each kind of value has one spelling', () => {
  const cases = [
    ['linger.ms', '20', '20'],
    ['enable.idempotence', true, 'true'],
    ['enable.idempotence', false, 'false'],
    ['linger.ms', 5, '5'],
    ['retention.ms', -1, '-1'],
    ['linger.ms', 5.0, '5'],
    ['linger.ms', -0, '0'],
    ['x', 0.25, '0.25'],
    ['x', 1e21, '1000000000000000000000'],
    ['x', 2n ** 62n, '4611686018427387904'],
    ['transactional.id', null, null],
    ['transactional.id', undefined, null],
  ]
  for (const [key, value, expected] of cases) assert.equal(testing.configSetting(key, value), expected, `${key}: ${String(value)}`)
})

test('refusals name the key', () => {
  const cases = [
    ['linger.ms', NaN, 'not a finite number'],
    ['linger.ms', Infinity, 'not a finite number'],
    ['linger.ms', -Infinity, 'not a finite number'],
    ['linger.ms', { a: 1 }, 'type object'],
    ['bootstrap.servers', ['a', 'b'], 'type array'],
    ['linger.ms', () => 1, 'type function'],
    ['linger.ms', 2n ** 70n, 'bigint beyond 64 bits'],
  ]
  for (const [key, value, message] of cases) {
    assert.throws(() => testing.configSetting(key, value), (e) => {
      assert.ok(e instanceof KafkaError, String(e))
      assert.equal(e.name, '_INVALID_CONFIG')
      assert.equal(e.retriable, false)
      assert.ok(e.message.includes(key) && e.message.includes(message), e.message)
      return true
    })
  }
})

test('clients take typed values', async () => {
  // Accepted: what a property parses after coercion (linger.ms is an integer property).
  const producer = new Producer({ 'bootstrap.servers': BOOTSTRAP, 'linger.ms': 5.0, 'enable.idempotence': true, 'transactional.id': null })
  await producer.close()
  // null leaves the key unset: it used to become the string "null" (a group named "null").
  const consumer = new Consumer({ 'bootstrap.servers': BOOTSTRAP, 'group.id': null })
  assert.throws(() => consumer.subscribe(['t']), (e) => e.name === '_INVALID_CONFIG')
  await consumer.close()
  assert.throws(() => new Producer({ 'bootstrap.servers': BOOTSTRAP, 'linger.ms': NaN }), (e) => e.name === '_INVALID_CONFIG' && /linger\.ms/.test(e.message))
  assert.throws(() => new Producer({ 'bootstrap.servers': BOOTSTRAP, 'linger.ms': 0.5 }), (e) => e.name === '_INVALID_CONFIG' && /linger\.ms/.test(e.message))
  await assert.rejects(testing.Broker.start({ 'num.partitions': { n: 1 } }), (e) => e.name === '_INVALID_CONFIG' && /num\.partitions/.test(e.message))
})

// The SASL_SSL test broker (TLS with its own CA, SCRAM) through clientConfig(), a wrong
// password (fatal _AUTHENTICATION, the password in no message), and OAUTHBEARER tokens from
// oauth_cb: an async function gets sasl.oauthbearer.config and its token logs in; what it
// throws fails the login with _AUTHENTICATION carrying its message.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import util from 'node:util'

const require = createRequire(import.meta.url)
const { Producer, Admin, testing } = require('../index.js')

function unsecuredJwt(principal, expiryMs) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'none' })}.${part({ sub: principal, exp: Math.floor(expiryMs / 1000) })}.`
}

test('SASL_SSL test broker, a wrong password, and oauth_cb', async () => {
  const broker = await testing.Broker.startSaslSsl('alice', 'alice-secret', {
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512,OAUTHBEARER',
  })
  try {
    assert.match(broker.caPem, /BEGIN CERTIFICATE/)
    assert.ok(!util.inspect(broker).includes('alice-secret'), 'the password shows in util.inspect')
    const admin = new Admin(broker.clientConfig())
    await admin.createTopics([{ topic: 'node-secure', numPartitions: 1 }])
    await admin.close()

    const wrong = new Admin({ ...broker.clientConfig(), 'sasl.password': 'wrong-password' })
    await assert.rejects(wrong.listTopics(), (e) => {
      assert.equal(e.name, '_AUTHENTICATION', e.message)
      assert.equal(e.errorClass, 'fatal', e.message)
      assert.ok(!e.message.includes('wrong-password'), e.message)
      return true
    })

    const oauth = {
      'bootstrap.servers': broker.bootstrapServers,
      'security.protocol': 'SASL_SSL',
      'ssl.ca.pem': broker.caPem,
      'sasl.mechanism': 'OAUTHBEARER',
      'sasl.oauthbearer.config': 'scope=node-test',
    }
    const configs = []
    const producer = new Producer({
      ...oauth,
      oauth_cb: async (config) => {
        configs.push(config)
        await new Promise((resolve) => setTimeout(resolve, 1))
        const lifetime = Date.now() + 600_000
        return { value: unsecuredJwt('alice', lifetime), lifetime, principal: 'alice', extensions: { traceid: 'node' } }
      },
    })
    const report = await producer.send({ topic: 'node-secure', value: 'via a token' })
    assert.equal(report.offset, 0)
    await producer.close()
    assert.equal(configs[0], 'scope=node-test')

    const refusing = new Admin({
      ...oauth,
      oauth_cb: () => {
        throw new Error('no token for you')
      },
    })
    await assert.rejects(refusing.listTopics(), (e) => {
      assert.equal(e.name, '_AUTHENTICATION', e.message)
      assert.match(e.message, /no token for you/)
      return true
    })
  } finally {
    await broker.stop()
  }
})

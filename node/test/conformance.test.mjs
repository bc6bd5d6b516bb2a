// The conformance runner: every tests/conformance/scenarios/*.json against a fresh embedded
// broker, through the public Node API (format: tests/conformance/README.md).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Producer, Consumer, Admin, ShareConsumer, AcknowledgeType, setLogHandler, testing } = require('../index.js')

const here = path.dirname(fileURLToPath(import.meta.url))
const scenarioDir = path.resolve(here, '../../tests/conformance/scenarios')

// Keys each op may have ("comment" is allowed everywhere); anything else is a scenario error.
const OPS = {
  create_topic: ['topic', 'partitions', 'config', 'replication_factor', 'expect_error'],
  producer: ['client', 'config', 'expect_error'],
  produce: ['client', 'topic', 'records', 'generate', 'expect', 'expect_error'],
  flush: ['client', 'expect_error'],
  consumer: ['client', 'config', 'on_revoke', 'expect_error'],
  assign: ['client', 'partitions', 'expect_error'],
  subscribe: ['client', 'topics', 'expect_error'],
  consume: ['client', 'count', 'timeout_ms', 'expect', 'generate', 'expect_error'],
  consume_none: ['client', 'timeout_ms', 'expect_error'],
  iterate: ['client', 'count', 'timeout_ms', 'expect', 'expect_error'],
  seek: ['client', 'topic', 'partition', 'offset', 'expect_error'],
  position: ['client', 'topic', 'partition', 'expect', 'expect_error'],
  pause: ['client', 'partitions', 'expect_error'],
  resume: ['client', 'partitions', 'expect_error'],
  commit: ['client', 'offsets', 'expect_error'],
  committed: ['client', 'partitions', 'expect', 'expect_error'],
  wait_assignment: ['clients', 'topic', 'partitions', 'timeout_ms', 'expect_error'],
  close: ['client', 'expect_error'],
  init_transactions: ['client', 'expect_error'],
  begin_transaction: ['client', 'expect_error'],
  commit_transaction: ['client', 'expect_error'],
  abort_transaction: ['client', 'expect_error'],
  send_offsets_to_transaction: ['client', 'consumer', 'offsets', 'expect_error'],
  watermarks: ['client', 'topic', 'partition', 'expect', 'expect_error'],
  offsets_for_times: ['client', 'partitions', 'expect', 'expect_error'],
  describe_cluster: ['brokers', 'expect_error'],
  describe_group: ['group', 'state', 'members', 'expect_error'],
  group_lag: ['group', 'expect', 'expect_error'],
  alter_group_offsets: ['group', 'offsets', 'expect_error'],
  delete_group: ['group', 'expect_error'],
  alter_config: ['topic', 'set', 'expect_error'],
  describe_config: ['topic', 'expect', 'expect_error'],
  delete_records: ['topic', 'partition', 'offset', 'expect', 'expect_error'],
  share_consumer: ['client', 'config', 'expect_error'],
  share_subscribe: ['client', 'topics', 'timeout_ms', 'expect_error'],
  share_poll: ['client', 'count', 'timeout_ms', 'expect', 'expect_error'],
  acknowledge: ['client', 'topic', 'partition', 'offsets', 'type', 'expect_error'],
  share_commit: ['client', 'expect_error'],
  stop_broker: [],
  expect_error_event: ['client', 'names', 'retriable', 'timeout_ms'],
  expect_log: ['level', 'timeout_ms'],
  leader: ['topic', 'partition', 'name', 'not', 'timeout_ms'],
  kill_node: ['node'],
  restart_node: ['node'],
  isolate_node: ['node'],
  heal_node: ['node'],
}

const ACKNOWLEDGE_TYPES = { accept: AcknowledgeType.ACCEPT, release: AcknowledgeType.RELEASE, reject: AcknowledgeType.REJECT }

function bytes(b) {
  if (b === null || b === undefined) return null
  if (typeof b === 'string') return Buffer.from(b, 'utf8')
  if (typeof b === 'object' && typeof b.hex === 'string') return Buffer.from(b.hex, 'hex')
  if (typeof b === 'object' && typeof b.repeat === 'string') return Buffer.from(b.repeat.repeat(b.count), 'utf8')
  throw new Error(`scenario: bad bytes ${JSON.stringify(b)}`)
}

function generated(gen) {
  const out = []
  for (let i = 0; i < gen.count; i++) {
    const sub = (v) => (typeof v === 'string' ? v.replaceAll('{i}', String(i)) : v)
    out.push({ key: gen.key === null ? null : sub(gen.key), value: gen.value === null ? null : sub(gen.value) })
  }
  return out
}

function show(b) {
  return b === null ? 'null' : JSON.stringify(b.toString('latin1'))
}

function sameBytes(actual, expected) {
  if (expected === null) return actual === null
  return actual !== null && Buffer.compare(actual, expected) === 0
}

function checkError(err, expected, where) {
  assert.ok(err instanceof Error, `${where}: expected an Error, got ${err}`)
  assert.equal(err.name, expected.name, `${where}: error name (message: ${err.message})`)
  if (expected.retriable !== undefined) {
    assert.equal(err.retriable, expected.retriable, `${where}: retriable flag of ${err.name}`)
  }
  if (expected.fatal !== undefined) {
    assert.equal(err.fatal, expected.fatal, `${where}: fatal flag of ${err.name} (class ${err.errorClass})`)
  }
  for (const field of ['topic', 'partition']) {
    if (expected[field] !== undefined) {
      assert.equal(err[field], expected[field], `${where}: ${field} of ${err.name}`)
    }
  }
  assert.equal(typeof err.code, 'number', `${where}: error code`)
}

class Runner {
  constructor(scenario, broker) {
    this.scenario = scenario
    this.broker = broker
    // The cluster of a "cluster" scenario (the same object as broker), and node ids by the
    // names leader steps bound.
    this.cluster = scenario.cluster ? broker : null
    this.nodes = new Map()
    // bootstrap.servers and, for a sasl_ssl scenario, the security keys; a step's config keys
    // replace these.
    this.base = broker.clientConfig()
    this.clients = new Map()
    this.stash = new Map()
    // Every record share_poll handed out, per share consumer, for acknowledge to find by offset.
    this.received = new Map()
    // Failures inside 'revoked' listeners ("on_revoke": "commit"), reported after the step.
    this.callbackErrors = []
    this.admin = new Admin(this.base)
    // Every background error each client's onError handler received, by client name.
    this.errors = new Map()
    // Log records at warn and more severe, captured from stop_broker on (null before).
    this.logs = null
  }

  // The cluster ops of a "cluster" scenario: leader binds a node name, the others act on it.
  async nodeStep(s, where) {
    const ops = { kill_node: 'kill', restart_node: 'restart', isolate_node: 'isolate', heal_node: 'heal' }
    if (s.op !== 'leader' && !ops[s.op]) return false
    if (!this.cluster) throw new Error(`${where}: a cluster op in a scenario without "cluster"`)
    const node = (name) => {
      if (!this.nodes.has(name)) throw new Error(`${where}: no node named ${name} (bind it with a leader step)`)
      return this.nodes.get(name)
    }
    if (ops[s.op]) {
      await this.cluster[ops[s.op]](node(s.node))
      return true
    }
    const excluded = (s.not || []).map(node)
    const deadline = Date.now() + s.timeout_ms
    for (;;) {
      const leader = this.cluster.leader(s.topic, s.partition)
      if (leader !== null && !excluded.includes(leader)) {
        this.nodes.set(s.name, leader)
        return true
      }
      if (Date.now() > deadline) assert.fail(`${where}: no leader of ${s.topic}-${s.partition} other than ${JSON.stringify(excluded)} within ${s.timeout_ms} ms (last seen: ${leader})`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  // Background failures: stop_broker, expect_error_event, expect_log.

  watchErrors(name, client) {
    const seen = []
    this.errors.set(name, seen)
    client.onError((e) => seen.push(e))
    return client
  }

  async eventStep(s, where) {
    const waitFor = async (found, what) => {
      const deadline = Date.now() + s.timeout_ms
      for (;;) {
        const hit = found()
        if (hit) return hit
        if (Date.now() > deadline) assert.fail(`${where}: ${what()} within ${s.timeout_ms} ms`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    switch (s.op) {
      case 'stop_broker':
        if (this.logs === null) {
          const logs = []
          setLogHandler('warn', (record) => logs.push(record))
          this.logs = logs
        }
        await this.broker.stop()
        return true
      case 'expect_error_event': {
        const seen = this.errors.get(s.client)
        if (!seen) throw new Error(`${where}: no client named ${s.client}`)
        const hit = await waitFor(() => seen.find((e) => s.names.includes(e.name)),
          () => `no error event named ${JSON.stringify(s.names)}; received ${JSON.stringify(seen.map((e) => `${e.name} (${e.message})`))}`)
        if (s.retriable !== undefined) assert.equal(hit.retriable, s.retriable, `${where}: retriable flag of ${hit.name}`)
        return true
      }
      case 'expect_log': {
        const levels = { warn: ['warn', 'error'], error: ['error'] }[s.level]
        if (!levels) throw new Error(`${where}: level ${JSON.stringify(s.level)} is not warn or error`)
        if (this.logs === null) throw new Error(`${where}: expect_log before stop_broker: no log capture`)
        await waitFor(() => this.logs.find((r) => levels.includes(r.level)),
          () => `no log record at ${s.level} or above; captured ${JSON.stringify(this.logs.map((r) => `${r.level} ${r.message}`))}`)
        return true
      }
      default:
        return false
    }
  }

  client(name) {
    const c = this.clients.get(name)
    if (!c) throw new Error(`scenario: no client named ${name}`)
    return c
  }

  config(extra) {
    return { ...this.base, ...(extra || {}) }
  }

  checkRecords(s, records, where) {
    if (!s.expect) return
    s.expect.forEach((e, i) => {
      const m = records[i]
      const at = `${where}: record ${i} (${m.topic}/${m.partition}@${m.offset})`
      for (const [k, v] of Object.entries(e)) {
        if (k === 'key' || k === 'value') {
          assert.ok(sameBytes(m[k], bytes(v)), `${at}: ${k} is ${show(m[k])}, expected ${show(bytes(v))}`)
        } else if (k === 'headers') {
          assert.equal(m.headers.length, v.length, `${at}: header count`)
          v.forEach(([n, hv], h) => {
            assert.equal(m.headers[h][0], n, `${at}: header ${h} name`)
            assert.ok(sameBytes(m.headers[h][1], bytes(hv)), `${at}: header ${h} value ${show(m.headers[h][1])}`)
          })
        } else if (['topic', 'partition', 'offset'].includes(k)) {
          assert.equal(m[k], v, `${at}: ${k}`)
        } else if (k === 'delivery_count') {
          assert.equal(m.deliveryCount, v, `${at}: delivery_count`)
        } else {
          throw new Error(`scenario: unknown record field ${k} in expect`)
        }
      }
    })
  }

  async take(name, count, timeoutMs) {
    const c = this.client(name)
    const got = this.stash.get(name) || []
    this.stash.set(name, [])
    const out = got.splice(0, count)
    if (got.length) this.stash.set(name, got)
    const deadline = Date.now() + timeoutMs
    while (out.length < count) {
      const left = deadline - Date.now()
      if (left <= 0) break
      out.push(...(await c.consume(count - out.length, Math.min(left, 200))))
    }
    return out
  }

  async step(s, where) {
    switch (s.op) {
      case 'create_topic':
        return this.admin.createTopics([{ topic: s.topic, numPartitions: s.partitions, replicationFactor: s.replication_factor, config: s.config }])
      case 'producer':
        this.clients.set(s.client, this.watchErrors(s.client, new Producer(this.config(s.config))))
        return
      case 'consumer': {
        const c = this.watchErrors(s.client, new Consumer(this.config(s.config)))
        if (s.on_revoke === 'commit') {
          // The group waits for the promise: the commit lands before the partitions move.
          c.on('revoked', async (partitions) => {
            await c.commit().catch((e) => this.callbackErrors.push(`commit in 'revoked' of ${JSON.stringify(partitions)}: ${e.name}: ${e.message}`))
          })
        } else if (s.on_revoke !== undefined) {
          throw new Error(`${where}: unknown on_revoke ${JSON.stringify(s.on_revoke)}`)
        }
        this.clients.set(s.client, c)
        return
      }
      case 'produce': {
        const p = this.client(s.client)
        const records = [...(s.records || []).map((r) => ({
          key: bytes(r.key),
          value: bytes(r.value),
          headers: r.headers ? r.headers.map(([n, v]) => [n, bytes(v)]) : undefined,
          partition: r.partition,
          timestamp: r.timestamp,
        })), ...(s.generate ? generated(s.generate).map((r) => ({ key: bytes(r.key), value: bytes(r.value) })) : [])]
        const sends = records.map((r) => p.send({ topic: s.topic, ...r }))
        const results = await Promise.allSettled(sends)
        if (s.expect_error) {
          results.forEach((r, i) => {
            assert.equal(r.status, 'rejected', `${where}: record ${i} was delivered, expected ${s.expect_error.name}`)
            checkError(r.reason, s.expect_error, `${where}: record ${i}`)
          })
          return 'checked-error'
        }
        const failed = results.find((r) => r.status === 'rejected')
        if (failed) throw failed.reason
        if (s.expect) {
          assert.equal(s.expect.length, results.length, `${where}: expect has one entry per record`)
          s.expect.forEach((e, i) => {
            for (const [k, v] of Object.entries(e)) {
              assert.equal(results[i].value[k], v, `${where}: record ${i} report ${k}`)
            }
          })
        }
        return
      }
      case 'flush':
        return this.client(s.client).flush()
      case 'assign':
        return this.client(s.client).assign(s.partitions)
      case 'subscribe':
        return this.client(s.client).subscribe(s.topics)
      case 'iterate': {
        assert.ok(!(this.stash.get(s.client) || []).length, `${where}: records were already waiting`)
        const got = []
        const deadline = Date.now() + s.timeout_ms
        for await (const m of this.client(s.client)) {
          got.push(m)
          if (got.length === s.count || Date.now() > deadline) break
        }
        assert.equal(got.length, s.count, `${where}: received ${got.length} of ${s.count} records within ${s.timeout_ms} ms`)
        this.checkRecords(s, got, where)
        return
      }
      case 'consume': {
        const got = await this.take(s.client, s.count, s.timeout_ms)
        assert.equal(got.length, s.count, `${where}: received ${got.length} of ${s.count} records within ${s.timeout_ms} ms`)
        const sorted = got
          .map((m, i) => [m, i])
          .sort(([a, i], [b, j]) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset || i - j))
          .map(([m]) => m)
        this.checkRecords(s, sorted, where)
        if (s.generate) {
          const key = (k, v) => `${k === null ? 'N' : 'S' + k.toString('hex')}|${v === null ? 'N' : 'S' + v.toString('hex')}`
          const want = generated(s.generate).map((r) => key(bytes(r.key), bytes(r.value))).sort()
          const seen = got.map((m) => key(m.key, m.value)).sort()
          assert.deepEqual(seen, want, `${where}: the records received are not the generated ones`)
        }
        return
      }
      case 'consume_none': {
        const got = await this.take(s.client, 1, s.timeout_ms)
        assert.equal(got.length, 0, `${where}: a record arrived: ${got.map((m) => `${m.topic}/${m.partition}@${m.offset}`)}`)
        return
      }
      case 'seek':
        this.stash.set(s.client, (this.stash.get(s.client) || []).filter((m) => !(m.topic === s.topic && m.partition === s.partition)))
        return this.client(s.client).seek({ topic: s.topic, partition: s.partition, offset: s.offset })
      case 'position': {
        const stashed = (this.stash.get(s.client) || []).find((m) => m.topic === s.topic && m.partition === s.partition)
        const pos = stashed ? stashed.offset : this.client(s.client).position({ topic: s.topic, partition: s.partition })
        assert.equal(pos, s.expect, `${where}: position of ${s.topic}/${s.partition}`)
        return
      }
      case 'pause':
        return this.client(s.client).pause(s.partitions.map((p) => ({ topic: p.topic, partition: p.partition })))
      case 'resume':
        return this.client(s.client).resume(s.partitions.map((p) => ({ topic: p.topic, partition: p.partition })))
      case 'commit':
        return this.client(s.client).commit(s.offsets)
      case 'committed': {
        const got = await this.client(s.client).committed(s.partitions)
        assert.deepEqual(got, s.expect, `${where}: committed offsets`)
        return
      }
      case 'wait_assignment': {
        const deadline = Date.now() + s.timeout_ms
        let last = ''
        for (;;) {
          const owned = s.clients.map((name) =>
            this.client(name).assignment().filter((p) => p.topic === s.topic).map((p) => p.partition),
          )
          last = JSON.stringify(Object.fromEntries(s.clients.map((n, i) => [n, owned[i]])))
          const all = owned.flat()
          const disjoint = new Set(all).size === all.length
          const covers = all.length === s.partitions && [...Array(s.partitions).keys()].every((p) => all.includes(p))
          const each = s.partitions < s.clients.length || owned.every((o) => o.length > 0)
          if (disjoint && covers && each) return
          if (Date.now() > deadline) assert.fail(`${where}: assignments did not settle within ${s.timeout_ms} ms: ${last}`)
          for (const name of s.clients) {
            const got = await this.client(name).consume(1000, 50)
            if (got.length) this.stash.set(name, [...(this.stash.get(name) || []), ...got])
          }
        }
      }
      case 'close': {
        const c = this.client(s.client)
        this.clients.delete(s.client)
        return c.close()
      }
      case 'init_transactions':
        return this.client(s.client).initTransactions()
      case 'begin_transaction':
        return this.client(s.client).beginTransaction()
      case 'commit_transaction':
        return this.client(s.client).commitTransaction()
      case 'abort_transaction':
        return this.client(s.client).abortTransaction()
      case 'send_offsets_to_transaction':
        return this.client(s.client).sendOffsetsToTransaction(s.offsets, this.client(s.consumer).groupMetadata())
      case 'watermarks': {
        const { low, high } = await this.client(s.client).watermarks({ topic: s.topic, partition: s.partition })
        assert.deepEqual([low, high], s.expect, `${where}: watermarks of ${s.topic}/${s.partition}`)
        return
      }
      case 'offsets_for_times': {
        const got = await this.client(s.client).offsetsForTimes(s.partitions)
        assert.deepEqual(got.map((o) => o.offset), s.expect, `${where}: offsets`)
        return
      }
      case 'describe_cluster': {
        const cluster = await this.admin.describeCluster()
        assert.equal(cluster.brokers.length, s.brokers, `${where}: brokers ${JSON.stringify(cluster.brokers)}`)
        assert.ok(cluster.brokers.some((b) => b.nodeId === cluster.controller), `${where}: controller ${cluster.controller} is not a listed broker`)
        return
      }
      case 'describe_group': {
        const { groups: [g] } = await this.admin.describeGroups([s.group])
        assert.deepEqual([g.state, g.members.length], [s.state, s.members], `${where}: state and member count of ${s.group}`)
        return
      }
      case 'group_lag': {
        const lags = await this.admin.fetchGroupLag({ groupId: s.group })
        lags.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
        assert.equal(lags.length, s.expect.length, `${where}: lag ${JSON.stringify(lags)}`)
        s.expect.forEach((want, i) => {
          const seen = { ...lags[i], committed: lags[i].committed ?? -1, log_end: lags[i].logEnd }
          for (const [k, v] of Object.entries(want)) assert.equal(seen[k], v, `${where}: lag ${JSON.stringify(lags[i])}: ${k}`)
        })
        return
      }
      case 'alter_group_offsets':
        for (const o of s.offsets) {
          await this.admin.setOffsets({ groupId: s.group, topic: o.topic, partitions: [{ partition: o.partition, offset: o.offset }] })
        }
        return
      case 'delete_group':
        return this.admin.deleteGroups([s.group])
      case 'alter_config':
        return this.admin.alterConfigs({
          resources: [{ type: 'topic', name: s.topic, configEntries: Object.entries(s.set).map(([name, value]) => ({ name, value: String(value) })) }],
        })
      case 'describe_config': {
        const { resources: [r] } = await this.admin.describeConfigs({ resources: [{ type: 'topic', name: s.topic }] })
        for (const [name, value] of Object.entries(s.expect)) {
          const entry = r.configEntries.find((e) => e.configName === name)
          assert.equal(entry && entry.configValue, String(value), `${where}: config ${name}`)
        }
        return
      }
      case 'delete_records': {
        const [low] = await this.admin.deleteTopicRecords({ topic: s.topic, partitions: [{ partition: s.partition, offset: s.offset }] })
        if (s.expect !== undefined) assert.equal(low.lowWatermark, s.expect, `${where}: low watermark`)
        return
      }
      case 'share_consumer':
        this.clients.set(s.client, new ShareConsumer(this.config(s.config)))
        this.received.set(s.client, [])
        return
      case 'share_subscribe': {
        // Polls until assigned, then once more: the share-partition starts at the log's end
        // when first fetched.
        const c = this.client(s.client)
        c.subscribe(s.topics)
        const deadline = Date.now() + s.timeout_ms
        for (;;) {
          const assigned = c.assignment().length > 0
          const got = await c.poll(100)
          assert.equal(got.length, 0, `${where}: a record arrived before any was produced`)
          if (assigned) return
          if (Date.now() > deadline) assert.fail(`${where}: no share assignment within ${s.timeout_ms} ms`)
        }
      }
      case 'share_poll': {
        const c = this.client(s.client)
        const deadline = Date.now() + s.timeout_ms
        const got = []
        for (;;) {
          got.push(...(await c.poll(Math.max(0, Math.min(deadline - Date.now(), 200)))))
          const done = s.count === 0 ? got.length > 0 : got.length >= s.count
          if (done || Date.now() >= deadline) break
        }
        this.received.get(s.client).push(...got)
        assert.equal(got.length, s.count, `${where}: received ${got.length} records, expected ${s.count}`)
        got.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset))
        this.checkRecords(s, got, where)
        return
      }
      case 'acknowledge': {
        const c = this.client(s.client)
        const type = ACKNOWLEDGE_TYPES[s.type]
        if (type === undefined) throw new Error(`${where}: unknown acknowledge type ${JSON.stringify(s.type)}`)
        for (const offset of s.offsets) {
          const found = this.received.get(s.client).filter((m) => m.topic === s.topic && m.partition === s.partition && m.offset === offset)
          assert.ok(found.length > 0, `${where}: no record ${s.topic}/${s.partition}@${offset} was received`)
          c.acknowledge(found[found.length - 1], type)
        }
        return
      }
      case 'share_commit':
        return this.client(s.client).commitSync()
      default:
        if (await this.eventStep(s, where)) return
        if (await this.nodeStep(s, where)) return
        throw new Error(`${where}: unknown op ${JSON.stringify(s.op)} (this runner must be taught it)`)
    }
  }

  async run() {
    const steps = this.scenario.steps
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]
      const where = `scenario ${this.scenario.name}, step ${i} (${s.op})`
      const allowed = OPS[s.op]
      if (!allowed) throw new Error(`${where}: unknown op ${JSON.stringify(s.op)} (this runner must be taught it)`)
      for (const k of Object.keys(s)) {
        if (k !== 'op' && k !== 'comment' && !allowed.includes(k)) throw new Error(`${where}: key ${k} is not valid for ${s.op}`)
      }
      let outcome
      try {
        outcome = await this.step(s, where)
      } catch (e) {
        if (!s.expect_error || e instanceof assert.AssertionError) throw e
        checkError(e, s.expect_error, where)
        continue
      }
      if (s.expect_error && outcome !== 'checked-error') {
        assert.fail(`${where}: succeeded, expected error ${s.expect_error.name}`)
      }
      const failed = this.callbackErrors.splice(0)
      if (failed.length) assert.fail(`${where}: ${failed.join('; ')}`)
    }
  }

  async cleanup() {
    if (this.logs !== null) setLogHandler(null, null)
    for (const c of this.clients.values()) await c.close().catch(() => {})
    await this.admin.close()
  }
}

const files = fs.readdirSync(scenarioDir).filter((f) => f.endsWith('.json')).sort()
test('there are conformance scenarios', () => {
  assert.ok(files.length > 0, `no scenarios in ${scenarioDir}`)
})

for (const file of files) {
  const scenario = JSON.parse(fs.readFileSync(path.join(scenarioDir, file), 'utf8'))
  test(`conformance: ${scenario.name} (${file})`, { timeout: 180_000 }, async () => {
    let broker
    if (scenario.cluster !== undefined) {
      broker = await testing.Cluster.start({ nodes: scenario.cluster.nodes, properties: scenario.broker_config || {} })
    } else if (scenario.security === undefined) {
      broker = await testing.Broker.start(scenario.broker_config || {})
    } else if (scenario.security === 'sasl_ssl') {
      // The SCRAM user of the embedded broker in a "security": "sasl_ssl" scenario.
      broker = await testing.Broker.startSaslSsl('conformance', 'conformance-secret', scenario.broker_config || {})
    } else {
      throw new Error(`scenario ${scenario.name}: unknown security ${scenario.security}`)
    }
    const runner = new Runner(scenario, broker)
    try {
      await runner.run()
    } finally {
      await runner.cleanup()
      await broker.stop()
    }
  })
}

'use strict'
// odradek for Node.js: the public API over the native classes (src/*.rs).
// Rules users can observe (defaults, partitioning, retries, error classes) live in the Rust
// core; this file only shapes values for JavaScript: promises, async iteration, a kafkajs-like
// run(), EventEmitter events and KafkaError objects.

const { EventEmitter } = require('node:events')
const path = require('node:path')

const native = loadNative()

// The napi-rs platform name of this process (the suffix of the per-platform npm packages named
// in package.json's optionalDependencies), e.g. linux-x64-gnu, darwin-arm64, win32-x64-msvc.
function platformName() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report && process.report.getReport().header.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function loadNative() {
  const name = platformName()
  // A build in this directory (a checkout: `npm run build`), then the installed platform package.
  const candidates = [
    process.env.ODRADEK_NODE_ADDON,
    path.join(__dirname, 'odradek.node'),
    path.join(__dirname, `odradek.${name}.node`),
    `@odradek/${name}`,
  ].filter(Boolean)
  let lastError
  for (const file of candidates) {
    try {
      return require(file)
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e
      lastError = e
    }
  }
  throw new Error(
    `odradek: no native addon for ${name} (looked for ${candidates.join(', ')}). ` +
      `Installed from npm: the optional dependency @odradek/${name} is missing — reinstall without ` +
      `--no-optional, or this platform has no prebuilt package. In a checkout: run \`npm run build\` ` +
      `in ${__dirname}. ${lastError && lastError.message}`,
  )
}

const ERROR_PREFIX = '\u0001odradek-error:'

/** An error from the client or a broker: `name` is Kafka's (or librdkafka's) stable name. */
class KafkaError extends Error {
  constructor(message, { name, code, retriable, errorClass, topic = null, partition = null, broker = null }) {
    super(message)
    Object.defineProperty(this, 'name', { value: name, enumerable: true, writable: true, configurable: true })
    this.code = code
    this.retriable = retriable
    this.errorClass = errorClass
    // Transactions: fatal (fenced: the producer cannot go on) or abortable (abort, then go on).
    this.fatal = errorClass === 'fatal'
    this.abortable = errorClass === 'abortable'
    // Where it happened, when the client knows (else null).
    this.topic = topic
    this.partition = partition
    this.broker = broker
    // The name kafkajs users look for.
    this.type = name
  }
}

/** Turns a native error into a KafkaError; anything else passes through. */
function convertError(e) {
  if (e && typeof e.message === 'string' && e.message.startsWith(ERROR_PREFIX)) {
    const [name, code, retriable, errorClass, topic, partition, broker, ...rest] = e.message
      .slice(ERROR_PREFIX.length)
      .split('\u001f') // odradek::error::FIELD_SEPARATOR
    const err = new KafkaError(rest.join('\u001f'), {
      name,
      code: Number(code),
      retriable: retriable === 'true',
      errorClass,
      topic: topic || null,
      partition: partition === '' ? null : Number(partition),
      broker: broker || null,
    })
    return err
  }
  return e
}

/** The native error callback for `handler` (null: none): decodes each error into a KafkaError. */
function errorCallback(handler) {
  if (handler == null) return null
  if (typeof handler !== 'function') throw new TypeError('onError: handler must be a function')
  return (encoded) => handler(convertError(new Error(encoded)))
}

function rethrow(e) {
  throw convertError(e)
}

/** A native call's Promise with its errors (thrown at once or rejected later) as KafkaErrors. */
function settled(fn) {
  try {
    return fn().catch(rethrow)
  } catch (e) {
    return Promise.reject(convertError(e))
  }
}

/** [{topic, partitions: [numbers]}] as the native [{topic, partition}] (null: every partition). */
function partitionsOf(topics) {
  if (topics == null) return null
  return topics.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })))
}

function call(fn) {
  try {
    return fn()
  } catch (e) {
    throw convertError(e)
  }
}

/**
 * The properties of a config object, values as given: the core turns each into its property
 * string by one rule shared with every binding (`true` → "true", `5` → "5", `null` and
 * `undefined` → not set; NaN, Infinity, objects, arrays and functions fail with
 * _INVALID_CONFIG naming the key).
 */
function configMap(config) {
  if (config === null || typeof config !== 'object') {
    throw new TypeError('config must be an object of property names (librdkafka / Java keys) to values')
  }
  const { oauth_cb: _callback, ...properties } = config
  return properties
}

/**
 * `oauth_cb` of a client config: `(oauthbearerConfig) => token` or a Promise of it, token being
 * `{value, lifetime (ms since the epoch), principal?, extensions?}`. Called for the first login
 * and again before each token expires; what it throws fails the login with _AUTHENTICATION.
 * Returns the native side's request handler, or undefined without oauth_cb.
 */
function tokenCallback(config) {
  const cb = config && config.oauth_cb
  if (cb === undefined || cb === null) return undefined
  if (typeof cb !== 'function') throw new TypeError('oauth_cb must be a function')
  return ({ id, config: oauthbearerConfig }) => {
    Promise.resolve()
      .then(() => cb(oauthbearerConfig))
      .then((t) => {
        if (!t || typeof t.value !== 'string' || typeof t.lifetime !== 'number') {
          throw new TypeError('oauth_cb must return {value: string, lifetime: number (ms since the epoch), principal?, extensions?}')
        }
        const extensions = t.extensions ? configMap(t.extensions) : undefined
        native.tokenDone(id, { value: t.value, lifetime: t.lifetime, principal: t.principal, extensions }, null)
      })
      .catch((e) => native.tokenDone(id, null, String((e && e.message) || e)))
  }
}

function toBuffer(v, what) {
  if (v === null || v === undefined) return null
  if (Buffer.isBuffer(v)) return v
  if (typeof v === 'string') return Buffer.from(v)
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  throw new TypeError(`${what} must be a Buffer, a string or null`)
}

/** Headers as given by users: [[name, value], ...] or {name: value | value[]}. */
function headerLists(headers) {
  if (headers === null || headers === undefined) return [undefined, undefined]
  const names = []
  const values = []
  const add = (name, value) => {
    names.push(String(name))
    values.push(toBuffer(value, `header ${name}`))
  }
  if (Array.isArray(headers)) {
    for (const h of headers) {
      if (!Array.isArray(h) || h.length !== 2) throw new TypeError('headers must be [name, value] pairs')
      add(h[0], h[1])
    }
  } else if (typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers)) {
      if (Array.isArray(value)) for (const v of value) add(name, v)
      else add(name, value)
    }
  } else {
    throw new TypeError('headers must be an array of [name, value] pairs or an object')
  }
  return names.length ? [names, values] : [undefined, undefined]
}

class Producer {
  /** @param {Record<string, string | number | boolean>} config */
  constructor(config) {
    // Outstanding sends by id; the native side reports results in batches (takeDone).
    this._pending = new Map()
    this._nextId = 0
    // Pending deliveries keep the process alive (as a socket with requests in flight would);
    // an idle producer does not.
    this._keepAlive = setInterval(() => {}, 1 << 30)
    this._keepAlive.unref()
    this._native = call(() => new native.NativeProducer(configMap(config), () => this._settle(), tokenCallback(config)))
    this._kickQueued = false
    this._kick = () => {
      this._kickQueued = false
      this._native.kick()
    }
    this._closed = false
  }

  _settle() {
    const { ok, errors } = this._native.takeDone()
    for (let i = 0; i < ok.length; i += 4) {
      const p = this._pending.get(ok[i])
      this._pending.delete(ok[i])
      p.resolve({ topic: p.topic, partition: ok[i + 1], offset: ok[i + 2], timestamp: ok[i + 3] })
    }
    for (const { id, error } of errors) {
      const p = this._pending.get(id)
      this._pending.delete(id)
      p.reject(convertError(new Error(error)))
    }
    if (this._pending.size === 0) this._keepAlive.unref()
  }

  /**
   * Sends one record; resolves with {topic, partition, offset, timestamp} once the broker
   * acknowledged it, rejects with a KafkaError.
   */
  send(record) {
    if (record === null || typeof record !== 'object') {
      return Promise.reject(new TypeError('send() takes a record object {topic, key, value, headers, partition, timestamp}'))
    }
    if (record.messages !== undefined) {
      // kafkajs's send({topic, messages}): every message, reports in order (never one
      // tombstone). Its per-call acks/timeout/compression are producer config here.
      if (!Array.isArray(record.messages)) {
        return Promise.reject(new TypeError('send({topic, messages}): messages must be an array of records'))
      }
      for (const option of ['acks', 'timeout', 'compression']) {
        if (record[option] !== undefined) {
          return Promise.reject(
            new TypeError(`send({topic, messages, ${option}}): ${option} is not a per-call option here; set it in the producer config (acks, request.timeout.ms, compression.type)`),
          )
        }
      }
      return this.sendBatch(record)
    }
    const { topic } = record
    const id = this._nextId++
    try {
      if (typeof topic !== 'string' || topic === '') throw new TypeError('record.topic must be a non-empty string')
      const [names, values] = headerLists(record.headers)
      this._native.send(
        id,
        topic,
        record.partition ?? undefined,
        toBuffer(record.key, 'key'),
        toBuffer(record.value, 'value'),
        names,
        values,
        record.timestamp ?? undefined,
      )
    } catch (e) {
      return Promise.reject(convertError(e))
    }
    if (this._pending.size === 0) this._keepAlive.ref()
    if (!this._kickQueued) {
      // One hand-over of the new delivery futures per turn of the event loop, not per record.
      this._kickQueued = true
      queueMicrotask(this._kick)
    }
    return new Promise((resolve, reject) => this._pending.set(id, { resolve, reject, topic }))
  }

  /** kafkajs shape: send({topic, messages: [...]}) resolves with every report, in order. */
  sendBatch({ topic, messages }) {
    return Promise.all(messages.map((m) => this.send({ ...m, topic })))
  }

  /** Resolves once every record sent before the call is delivered or failed. */
  flush() {
    return this._native.flush().catch(rethrow)
  }

  /**
   * Statistics: records delivered and failed, requests, retries, latency, the queue, and
   * `brokers` (per broker: address, state, connects, connect_failures, disconnects, requests,
   * request_latency_avg_us / _max_us, in_flight).
   */
  metrics() {
    return JSON.parse(this._native.metricsJson())
  }

  /**
   * `handler(err)` (a KafkaError) for failures no call returns: a broker unreachable or lost
   * (`_TRANSPORT`), every broker down (`_ALL_BROKERS_DOWN`), TLS or SASL, the producer fenced.
   * `err.retriable` says whether the client recovers by itself. `null` stops it.
   */
  onError(handler) {
    call(() => this._native.setErrorCallback(errorCallback(handler)))
  }

  /** Flushes, then stops. Idempotent. */
  async close() {
    if (this._closed) return
    this._closed = true
    await this._native.close().catch(rethrow)
  }

  /** kafkajs spelling of close(). */
  disconnect() {
    return this.close()
  }

  /**
   * Registers `transactional.id` with its coordinator: an earlier producer with the same id is
   * fenced and its open transaction aborted. Call once, before the first transaction
   * (transaction() calls it for you).
   */
  async initTransactions() {
    await this._native.initTransactions().catch(rethrow)
    this._transactionsReady = true
  }

  /** Opens a transaction: records sent until commit or abort belong to it. */
  beginTransaction() {
    call(() => this._native.beginTransaction())
  }

  /**
   * Adds offsets ([{topic, partition, offset}], each the next offset to read) to the open
   * transaction: committed for the group of `groupMetadata` (consumer.groupMetadata()) if, and
   * only if, the transaction commits.
   */
  sendOffsetsToTransaction(offsets, groupMetadata) {
    if (!groupMetadata || typeof groupMetadata.groupId !== 'string') {
      return Promise.reject(new TypeError('sendOffsetsToTransaction needs consumer.groupMetadata()'))
    }
    const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }))
    return this._native.sendOffsetsToTransaction(list, groupMetadata).catch(rethrow)
  }

  /**
   * Delivers every record of the transaction, then commits it. Rejects with an `abortable`
   * KafkaError when a record failed (abortTransaction, then go on) and a `fatal` one
   * (PRODUCER_FENCED) when another producer took the transactional id.
   */
  commitTransaction() {
    return this._native.endTransaction(true).catch(rethrow)
  }

  /** Aborts the open transaction: read_committed consumers never see what it wrote. */
  abortTransaction() {
    return this._native.endTransaction(false).catch(rethrow)
  }

  /**
   * kafkajs: opens a transaction (registering the transactional id first if needed) and
   * resolves with it: `send`, `sendBatch`, `sendOffsets`, `commit`, `abort`.
   */
  async transaction() {
    if (!this._transactionsReady) await this.initTransactions()
    this.beginTransaction()
    return new Transaction(this)
  }
}

/** An open transaction of a transactional producer (kafkajs's shape). */
class Transaction {
  constructor(producer) {
    this._producer = producer
    this._active = true
  }

  send(record) {
    return this._producer.send(record)
  }

  sendBatch(batch) {
    return this._producer.sendBatch(batch)
  }

  /**
   * kafkajs: {consumer | consumerGroupId, topics: [{topic, partitions: [{partition, offset}]}]}.
   * The offsets carry the consumer's generation and member id, so a member that was replaced
   * in the group cannot commit them (KIP-447): from `consumer` (an odradek Consumer), or, for
   * a bare `consumerGroupId`, from the one open consumer of that group in this process. With
   * none (the consumer lives elsewhere) or several (which one read the offsets is unknown)
   * only the group is named, as kafkajs does, and the coordinator cannot fence a zombie.
   */
  sendOffsets({ consumer, consumerGroupId, topics }) {
    const offsets = []
    for (const t of topics) {
      for (const p of t.partitions) offsets.push({ topic: t.topic, partition: p.partition, offset: Number(p.offset) })
    }
    const members = consumer ? [consumer] : [...(openConsumers.get(consumerGroupId) || [])]
    const metadata = members.length === 1
      ? members[0].groupMetadata()
      : { groupId: consumerGroupId, generationId: -1, memberId: '' } // no instance id (null is refused)
    return this._producer.sendOffsetsToTransaction(offsets, metadata)
  }

  async commit() {
    await this._producer.commitTransaction()
    this._active = false
  }

  async abort() {
    await this._producer.abortTransaction()
    this._active = false
  }

  /** True until commit or abort succeeded. */
  isActive() {
    return this._active
  }
}

function tpKey(topic, partition) {
  return `${topic}\u0000${partition}`
}

/** Decodes one native batch (see src/consumer.rs) into message objects. */
function decodeBatch(raw, out) {
  const { data, meta, topics } = raw
  const n = meta.length
  let i = 0
  while (i < n) {
    const topic = topics[meta[i]]
    const partition = meta[i + 1]
    const offset = meta[i + 2]
    const timestamp = meta[i + 3]
    const key = meta[i + 5] < 0 ? null : data.subarray(meta[i + 4], meta[i + 4] + meta[i + 5])
    const value = meta[i + 7] < 0 ? null : data.subarray(meta[i + 6], meta[i + 6] + meta[i + 7])
    const headerCount = meta[i + 8]
    i += 9
    const headers = []
    for (let h = 0; h < headerCount; h++, i += 4) {
      const name = data.toString('utf8', meta[i], meta[i] + meta[i + 1])
      const hv = meta[i + 3] < 0 ? null : data.subarray(meta[i + 2], meta[i + 2] + meta[i + 3])
      headers.push([name, hv])
    }
    out.push({ topic, partition, offset, timestamp, key, value, headers })
  }
  return out
}

// The most records eachBatch takes from the native consumer in one hand-out.
const BATCH_MAX = 500
const POLL_SLICE_MS = 250

function offsetSpec(p) {
  const o = p.offset ?? 'committed'
  if (typeof o === 'number' || typeof o === 'bigint') {
    return { topic: p.topic, partition: p.partition, whence: 'offset', offset: Number(o) }
  }
  if (typeof o === 'string' && /^\d+$/.test(o)) {
    return { topic: p.topic, partition: p.partition, whence: 'offset', offset: Number(o) }
  }
  return { topic: p.topic, partition: p.partition, whence: String(o) }
}

/** group.id → its open consumers in this process (for Transaction.sendOffsets). */
const openConsumers = new Map()

class Consumer extends EventEmitter {
  /**
   * @param {Record<string, string | number | boolean>} config  with `group.id` the consumer
   *   can subscribe to topics and commit offsets
   */
  constructor(config) {
    super()
    this._config = configMap(config)
    this._onToken = tokenCallback(config)
    this._open(this._config)
    this._closed = false
    if (this._hasGroup(this._config)) {
      const group = String(this._config['group.id'])
      if (!openConsumers.has(group)) openConsumers.set(group, new Set())
      openConsumers.get(group).add(this)
    }
    this._running = null
    this._subscribed = false
    this._used = false
  }

  _open(config) {
    this._native = call(() => new native.NativeConsumer(config, this._onToken))
    if (this._onError) call(() => this._native.setErrorCallback(errorCallback(this._onError)))
    if (this._hasGroup(config)) call(() => this._native.onRebalance((event) => this._onRebalance(event)))
  }

  _hasGroup(config) {
    return config && config['group.id'] !== undefined && config['group.id'] !== null && config['group.id'] !== ''
  }

  /**
   * Runs the 'assigned' / 'revoked' / 'lost' and 'rebalance' listeners and awaits the promises
   * they return; the group waits for that (up to max.poll.interval.ms), so an
   * `await consumer.commit()` in a 'revoked' listener lands before another member gets the
   * partitions.
   */
  async _onRebalance(event) {
    const { id, ...shown } = event
    try {
      const returned = []
      for (const [name, arg] of [[event.kind, event.partitions], ['rebalance', shown]]) {
        for (const listener of this.rawListeners(name)) returned.push(listener.call(this, arg))
      }
      const failed = (await Promise.allSettled(returned)).find((r) => r.status === 'rejected')
      if (failed) this._reportListenerError(failed.reason)
    } catch (err) {
      this._reportListenerError(err)
    } finally {
      this._native.rebalanceDone(id)
    }
  }

  _reportListenerError(err) {
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else process.emitWarning(`odradek: a rebalance listener failed: ${err && err.stack ? err.stack : err}`)
  }

  _startFrom(fromBeginning) {
    if (typeof fromBeginning !== 'boolean') throw new TypeError('fromBeginning must be a boolean')
    const reset = fromBeginning ? 'earliest' : 'latest'
    if ((this._config['auto.offset.reset'] ?? 'latest') === reset) return
    if (this._used) {
      throw new TypeError(
        `fromBeginning: ${fromBeginning} needs auto.offset.reset=${reset}, but this consumer already subscribed or was assigned with ${this._config['auto.offset.reset'] ?? 'latest'}; pass it to the first subscribe() or set auto.offset.reset in the config`,
      )
    }
    // Nothing was read yet: the native consumer is replaced by one with that reset policy.
    const unused = this._native
    this._config = { ...this._config, 'auto.offset.reset': reset }
    this._open(this._config)
    unused.close().catch(() => {})
  }

  /**
   * Joins the consumer group for these topics (needs `group.id`). kafkajs's
   * `{topics, fromBeginning}` is honoured: `fromBeginning` sets where partitions without a
   * committed offset start (auto.offset.reset earliest / latest), before the first subscribe.
   */
  subscribe(topics) {
    if (topics && !Array.isArray(topics) && typeof topics === 'object') {
      const { fromBeginning } = topics
      if (fromBeginning !== undefined) this._startFrom(fromBeginning)
      topics = topics.topics ?? [topics.topic]
    }
    if (typeof topics === 'string') topics = [topics]
    call(() => this._native.subscribe(topics))
    this._subscribed = true
    this._used = true
  }

  /**
   * Manual assignment: [{topic, partition, offset}], offset one of 'earliest', 'latest',
   * 'committed' (the group's, else auto.offset.reset) or a number.
   */
  async assign(partitions) {
    this._used = true
    await this._native.assign(partitions.map(offsetSpec)).catch(rethrow)
  }

  /** The partitions this consumer reads now: [{topic, partition}]. */
  /**
   * Statistics: records and bytes handed out, Fetch round trips, buffered bytes,
   * `partitions` (topic, partition, position, high_watermark, lag, paused) and `brokers`
   * (as `Producer.metrics`).
   */
  metrics() {
    return JSON.parse(this._native.metricsJson())
  }

  /** `handler(err)` for failures no call returns, as `Producer.onError`; `null` stops it. */
  onError(handler) {
    this._onError = handler || null
    call(() => this._native.setErrorCallback(errorCallback(this._onError)))
  }

  assignment() {
    return call(() => this._native.assignment())
  }

  /**
   * Up to `max` messages from the native consumer, waiting up to `timeoutMs` for the first.
   * Every message returned counts as handed out (position, commit(), the commit on close):
   * nothing is kept on the JavaScript side. Messages ready now are taken by a plain call;
   * only a wait goes through a Promise.
   */
  async _take(max, timeoutMs) {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this._closed) return []
      const ready = call(() => this._native.takeReady(max))
      if (ready) return decodeBatch(ready, [])
      const left = Math.max(0, deadline - Date.now())
      if (left === 0) return []
      const raw = await this._native.recvBatch(max, Math.min(left, POLL_SLICE_MS)).catch(rethrow)
      if (raw) return decodeBatch(raw, [])
    }
  }

  /** The next message, or null if none arrives within `timeoutMs`. */
  async poll(timeoutMs = 1000) {
    const [m] = await this._take(1, timeoutMs)
    return m ?? null
  }

  /** Up to `max` messages: waits up to `timeoutMs` for the first, then takes what is ready. */
  async consume(max = 1000, timeoutMs = 1000) {
    return this._take(max, timeoutMs)
  }

  /** Messages one by one (one taken per step) until the consumer is closed (or the loop is left). */
  async *[Symbol.asyncIterator]() {
    while (!this._closed) {
      const [m] = await this._take(1, POLL_SLICE_MS)
      if (m) yield m
    }
  }

  /**
   * kafkajs shape: starts a loop calling `eachMessage({topic, partition, message})` for every
   * message, or `eachBatch({batch, isRunning, heartbeat})` per partition of each fetched batch.
   * Resolves once the loop has started; stop() or close() ends it. A handler that throws stops
   * the loop and emits 'crash' (an unhandled rejection when nobody listens).
   */
  async run({ eachMessage, eachBatch } = {}) {
    if (!eachMessage === !eachBatch) throw new TypeError('run() takes exactly one of eachMessage and eachBatch')
    if (this._running) throw new Error('the consumer is already running')
    this._stopRequested = false
    const isRunning = () => !this._stopRequested && !this._closed
    const loop = async () => {
      while (isRunning()) {
        if (eachMessage) {
          const [message] = await this._take(1, POLL_SLICE_MS)
          if (message) await eachMessage({ topic: message.topic, partition: message.partition, message })
          continue
        }
        const groups = new Map()
        for (const m of await this._take(BATCH_MAX, POLL_SLICE_MS)) {
          const k = tpKey(m.topic, m.partition)
          let g = groups.get(k)
          if (!g) groups.set(k, (g = { topic: m.topic, partition: m.partition, messages: [] }))
          g.messages.push(m)
        }
        const batches = [...groups.values()]
        for (let i = 0; i < batches.length; i++) {
          if (!isRunning()) {
            // Taken but not handed out: the consumer reads them again, and neither the
            // position nor a commit covers them.
            for (const b of batches.slice(i)) this.seek({ topic: b.topic, partition: b.partition, offset: b.messages[0].offset })
            break
          }
          const batch = batches[i]
          batch.firstOffset = () => batch.messages[0].offset
          batch.lastOffset = () => batch.messages[batch.messages.length - 1].offset
          await eachBatch({ batch, isRunning, heartbeat: async () => {} })
        }
      }
    }
    this._running = loop().then(
      () => {
        this._running = null
      },
      (e) => {
        this._running = null
        const err = convertError(e)
        if (this.listenerCount('crash') > 0) this.emit('crash', err)
        else throw err
      },
    )
  }

  /** Ends the run() loop (after the handler in progress); the consumer stays usable. */
  async stop() {
    this._stopRequested = true
    if (this._running) await this._running.catch(() => {})
  }

  /** Next message read from that partition is at `offset`. */
  seek({ topic, partition, offset }) {
    call(() => this._native.seek(topic, partition, Number(offset)))
  }

  /** Offset of the next message this consumer hands out for a partition (null until known). */
  position({ topic, partition }) {
    return call(() => this._native.position(topic, partition))
  }

  /** Stops handing out and fetching these partitions: fetched records are held, the position stays. */
  pause(partitions) {
    call(() => this._native.pause(partitions))
  }

  /** Hands out and fetches these partitions again, the held records first. */
  resume(partitions) {
    call(() => this._native.resume(partitions))
  }

  /**
   * Synchronous commit of [{topic, partition, offset}] (offset = the next one to read) or,
   * without arguments, of the position of every assigned partition.
   */
  async commit(offsets) {
    if (offsets) {
      const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }))
      return this._native.commit(list).catch(rethrow)
    }
    return this._native.commit(undefined).catch(rethrow)
  }

  /** {groupId, generationId, memberId, groupInstanceId}: for producer.sendOffsetsToTransaction. */
  groupMetadata() {
    return call(() => this._native.groupMetadata())
  }

  /** The group's committed offsets of [{topic, partition}], in order (-1: none). */
  committed(partitions) {
    return this._native.committed(partitions.map((p) => ({ topic: p.topic, partition: p.partition }))).catch(rethrow)
  }

  /**
   * For each {topic, partition, timestamp} (ms since the epoch), the offset of the first record
   * at or after it: [{topic, partition, offset}] (-1 when there is none).
   */
  offsetsForTimes(partitions) {
    const queries = partitions.map((p) => ({ topic: p.topic, partition: p.partition, timestamp: Number(p.timestamp) }))
    return settled(() => this._native.offsetsForTimes(queries))
  }

  /** {low, high} watermarks of a partition, asked from its leader. */
  async watermarks({ topic, partition }) {
    const [low, high] = await this._native.watermarks(topic, partition).catch(rethrow)
    return { low, high }
  }

  /** Stops the run() loop, leaves the group and closes. Idempotent. */
  async close() {
    if (this._closed) return
    this._stopRequested = true
    // The handler in progress finishes first (as in kafkajs); the loop then stops within one
    // poll slice.
    if (this._running) await this._running.catch(() => {})
    this._closed = true
    const members = openConsumers.get(String(this._config['group.id']))
    if (members) {
      members.delete(this)
      if (members.size === 0) openConsumers.delete(String(this._config['group.id']))
    }
    await this._native.close().catch(rethrow)
  }

  /** kafkajs spelling of close(). */
  disconnect() {
    return this.close()
  }
}

class Admin {
  constructor(config) {
    this._native = call(() => new native.NativeAdmin(configMap(config), tokenCallback(config)))
  }

  /** [{topic, numPartitions, replicationFactor, config: {key: value}}] */
  createTopics(topics) {
    const list = (Array.isArray(topics) ? topics : topics.topics).map((t) => ({
      topic: t.topic,
      numPartitions: t.numPartitions,
      replicationFactor: t.replicationFactor,
      config: t.config ? configMap(t.config) : undefined,
    }))
    return this._native.createTopics(list).catch(rethrow)
  }

  deleteTopics(topics) {
    return this._native.deleteTopics(Array.isArray(topics) ? topics : topics.topics).catch(rethrow)
  }

  createPartitions(topic, total) {
    return this._native.createPartitions(topic, total).catch(rethrow)
  }

  /** [{topic, partitions}] */
  listTopics() {
    return this._native.listTopics().catch(rethrow)
  }

  // Configs, groups, records, the cluster, ACLs and SCRAM users: kafkajs's names and shapes
  // where kafkajs has the call; offsets are numbers, as everywhere in this binding.

  /**
   * {resources: [{type: 'topic' | 'broker' | 2 | 4, name, configNames?}]} →
   * {resources: [{resourceType, resourceName, configEntries: [{configName, configValue, readOnly, isDefault, isSensitive}]}]}
   */
  async describeConfigs({ resources }) {
    const out = []
    for (const r of resources) {
      const type = configResourceType(r.type)
      const entries = await settled(() => this._native.describeConfigs(type, String(r.name), r.configNames))
      out.push({ resourceType: type, resourceName: String(r.name), configEntries: entries })
    }
    return { resources: out }
  }

  /**
   * Incremental (IncrementalAlterConfigs): {resources: [{type, name, configEntries: [{name, value}]}]};
   * each named config is set, or reverted to its default when `value` is null; others stay.
   */
  async alterConfigs({ resources }) {
    for (const r of resources) {
      // undefined (not null) is what the native side reads as absent: revert to the default.
      const changes = r.configEntries.map((e) => ({ name: e.name, value: e.value == null ? undefined : String(e.value) }))
      await settled(() => this._native.alterConfigs(configResourceType(r.type), String(r.name), changes))
    }
  }

  /** {clusterId, controller, brokers: [{nodeId, host, port, rack}]} */
  describeCluster() {
    return settled(() => this._native.describeCluster())
  }

  /**
   * Deletes the records of `topic` before each partition's `offset` ({topic, partitions:
   * [{partition, offset}]}); resolves with [{partition, lowWatermark}].
   */
  async deleteTopicRecords({ topic, partitions }) {
    const before = partitions.map((p) => ({ topic, partition: p.partition, offset: Number(p.offset) }))
    const low = await settled(() => this._native.deleteRecords(before))
    return low.map((l) => ({ partition: l.partition, lowWatermark: l.offset }))
  }

  /**
   * Moves partitions to new replicas, as KafkaJS: {topics: [{topic, partitionAssignment:
   * [{partition, replicas}]}]}, the first replica preferred; `replicas: null` cancels the
   * partition's reassignment in progress. Resolves once the controller recorded them.
   */
  alterPartitionReassignments({ topics }) {
    const moves = topics.flatMap(({ topic, partitionAssignment }) =>
      // A missing replicas field is undefined natively (null does not convert into the object).
      partitionAssignment.map(({ partition, replicas }) => ({ topic, partition, replicas: replicas ?? undefined })))
    return settled(() => this._native.alterPartitionReassignments(moves))
  }

  /**
   * The reassignments in progress (of {topics: [{topic, partitions}]}, if given), as KafkaJS:
   * {topics: [{topic, partitions: [{partition, replicas, addingReplicas, removingReplicas}]}]}.
   */
  async listPartitionReassignments({ topics } = {}) {
    const listed = await settled(() => this._native.listPartitionReassignments(partitionsOf(topics)))
    const byTopic = new Map()
    for (const { topic, ...partition } of listed) {
      if (!byTopic.has(topic)) byTopic.set(topic, [])
      byTopic.get(topic).push(partition)
    }
    return { topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }
  }

  /**
   * Elects the preferred replica (`type: 'unclean'`: any live one) leader of {topics: [{topic,
   * partitions}]}, or of every partition when `topics` is not given (then only those an
   * election was tried for are answered). Resolves with [{topic, partition, error}], `error` a
   * KafkaError (ELECTION_NOT_NEEDED when the leader already was the one) or null.
   */
  async electLeaders({ type = 'preferred', topics } = {}) {
    if (type !== 'preferred' && type !== 'unclean') {
      throw new TypeError(`electLeaders: type must be 'preferred' or 'unclean', not ${type}`)
    }
    const results = await settled(() => this._native.electLeaders(type === 'unclean', partitionsOf(topics)))
    return results.map(({ topic, partition, error }) => ({
      topic,
      partition,
      error: error == null ? null : convertError(new Error(error)),
    }))
  }

  /** {groups: [{groupId, protocolType, state, groupType}]} */
  async listGroups() {
    return { groups: await settled(() => this._native.listGroups()) }
  }

  /**
   * {groups: [{groupId, groupType, state, protocol, epoch, members: [{memberId, groupInstanceId,
   * clientId, clientHost, assignment: [{topic, partition}]}]}]}; `Dead` for an unknown group.
   */
  async describeGroups(groupIds) {
    return { groups: await settled(() => this._native.describeGroups(groupIds)) }
  }

  /**
   * A group's committed offsets ({groupId, topics?}): [{topic, partitions: [{partition, offset}]}]
   * (only `topics` when given; a partition of them without a commit is left out).
   */
  async fetchOffsets({ groupId, topics }) {
    const offsets = await settled(() => this._native.listGroupOffsets(groupId))
    const byTopic = new Map((topics || []).map((t) => [t, []]))
    for (const o of offsets) {
      if (topics && !byTopic.has(o.topic)) continue
      if (!byTopic.has(o.topic)) byTopic.set(o.topic, [])
      byTopic.get(o.topic).push({ partition: o.partition, offset: o.offset })
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
  }

  /** Sets committed offsets of a group without members: {groupId, topic, partitions: [{partition, offset}]}. */
  setOffsets({ groupId, topic, partitions }) {
    const offsets = partitions.map((p) => ({ topic, partition: p.partition, offset: Number(p.offset) }))
    return settled(() => this._native.alterGroupOffsets(groupId, offsets))
  }

  /** Deletes committed offsets of a group: {groupId, topic, partitions: [partition, ...]}. */
  deleteGroupOffsets({ groupId, topic, partitions }) {
    return settled(() => this._native.deleteGroupOffsets(groupId, partitions.map((partition) => ({ topic, partition }))))
  }

  /** Deletes groups without members (NON_EMPTY_GROUP otherwise). */
  deleteGroups(groupIds) {
    return settled(() => this._native.deleteGroups(groupIds))
  }

  /**
   * Lag of every partition the group committed, plus every partition of `topics`:
   * [{topic, partition, committed (null: none), logEnd, lag}], sorted.
   */
  async fetchGroupLag({ groupId, topics }) {
    const lags = await settled(() => this._native.groupLag(groupId, topics || []))
    return lags.map((l) => ({ ...l, committed: l.committed ?? null }))
  }

  /**
   * {acl: [{resourceType, resourceName, resourcePatternType?, principal, host?, operation,
   * permissionType?}]}; enums by Kafka's name ('TOPIC', 'LITERAL', 'READ', 'ALLOW') or code.
   * Defaults: LITERAL, host '*', ALLOW.
   */
  createAcls({ acl }) {
    return settled(() => this._native.createAcls(acl))
  }

  /** The ACLs matching a filter (absent fields match anything): [{resourceType, ...}], names as the core spells them. */
  describeAcls(filter = {}) {
    return settled(() => this._native.describeAcls(filter))
  }

  /** Deletes the ACLs matching any of {filters}; resolves with the ACLs deleted. */
  deleteAcls({ filters }) {
    return settled(() => this._native.deleteAcls(filters))
  }

  /** SCRAM users (all, or `users`): [{user, credentials: [{mechanism, iterations}]}]. */
  describeUserScramCredentials(users) {
    return settled(() => this._native.describeScramUsers(users))
  }

  /**
   * {upsertions: [{user, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', password, iterations?}],
   * deletions: [{user, mechanism}]}, applied in order. Passwords are salted and iterated here.
   */
  async alterUserScramCredentials({ upsertions = [], deletions = [] }) {
    for (const u of upsertions) {
      await settled(() => this._native.upsertScramUser(u.user, u.mechanism, u.password, u.iterations ?? 8192))
    }
    for (const d of deletions) {
      await settled(() => this._native.deleteScramUser(d.user, d.mechanism))
    }
  }

  async close() {
    this._native.close()
  }

  disconnect() {
    return this.close()
  }
}

/** kafkajs's ConfigResourceTypes codes (TOPIC 2, BROKER 4) or names, as the core's names. */
function configResourceType(type) {
  if (type === 2) return 'topic'
  if (type === 4) return 'broker'
  return String(type)
}

/** The odradek broker in-process on an ephemeral port, for tests. */
class Broker {
  /** @param {Record<string, string | number>} [properties] Kafka broker properties */
  static async start(properties) {
    const b = new Broker()
    b._native = await settled(() => native.NativeBroker.start(properties ? configMap(properties) : undefined))
    b.bootstrapServers = b._native.bootstrapServers
    b.caPem = null
    return b
  }

  /**
   * A broker whose one listener is SASL_SSL: TLS with a certificate for 127.0.0.1 / localhost
   * signed by a CA made now (`caPem`), SCRAM-SHA-256 and SCRAM-SHA-512 with this user.
   * `properties` are added (`sasl.enabled.mechanisms` with OAUTHBEARER also accepts unsecured
   * JWTs). `clientConfig()` has what a client needs.
   */
  static async startSaslSsl(username, password, properties) {
    const b = new Broker()
    b._native = await settled(() => native.NativeBroker.start(properties ? configMap(properties) : undefined, [String(username), String(password)]))
    b.bootstrapServers = b._native.bootstrapServers
    b.caPem = b._native.caPem
    // Not enumerable: the password stays out of console.log / util.inspect of the broker.
    Object.defineProperty(b, '_credentials', { value: [String(username), String(password)] })
    return b
  }

  /**
   * A client config for this broker: `bootstrap.servers` and, for a SASL_SSL broker,
   * `security.protocol`, `sasl.mechanism` (SCRAM-SHA-512), the user and password and `ssl.ca.pem`.
   */
  clientConfig() {
    const config = { 'bootstrap.servers': this.bootstrapServers }
    if (this._credentials) {
      Object.assign(config, {
        'security.protocol': 'SASL_SSL',
        'sasl.mechanism': 'SCRAM-SHA-512',
        'sasl.username': this._credentials[0],
        'sasl.password': this._credentials[1],
        'ssl.ca.pem': this.caPem,
      })
    }
    return config
  }

  /** Stops the broker and removes its data. Idempotent. */
  stop() {
    return this._native.stop()
  }
}

/**
 * An N-node cluster in-process (nodes 1..N on 127.0.0.1, each a controller of the metadata
 * quorum), for tests of fail-over handling: kill, restart, isolate and heal a node by id.
 * Fast test timings: a node that stops heartbeating is fenced after 2 s and its leaderships
 * move; `default.replication.factor` is min(nodes, 3). `properties` override them.
 */
class Cluster {
  /**
   * @param {{ nodes?: number, properties?: Record<string, string | number> }} [options]
   * Resolves once every node is registered.
   */
  static async start(options = {}) {
    const c = new Cluster()
    const nodes = options.nodes ?? 3
    c._native = await settled(() => native.NativeCluster.start(nodes, options.properties ? configMap(options.properties) : undefined))
    c._nodes = nodes
    return c
  }

  /** `host:port,...` of every running node; a restarted node keeps its port when it is free. */
  get bootstrapServers() { return this._native.bootstrapServers() }

  /** Every node id, running or not. */
  nodeIds() { return this._native.nodeIds() }

  /** Stops the node abruptly (no flush, its connections drop); its data stays. */
  kill(nodeId) { return settled(() => this._native.kill(nodeId)) }

  /** Starts the node again on its data and port; resolves once it is registered again. */
  restart(nodeId) { return settled(() => this._native.restart(nodeId)) }

  /** A network partition: the node runs on, but no client, peer or controller traffic reaches or leaves it. */
  isolate(nodeId) { return settled(() => this._native.isolate(nodeId)) }

  /** Reconnects an isolated node. */
  heal(nodeId) { return settled(() => this._native.heal(nodeId)) }

  /** The partition's leader in the newest metadata a connected node has; null when none. */
  leader(topic, partition) { return this._native.leader(topic, partition) }

  /** `{ 'bootstrap.servers': ... }` for a client. */
  clientConfig() { return { 'bootstrap.servers': this.bootstrapServers } }

  /** Creates a topic, replicated on min(nodes, 3) nodes unless `replicationFactor` says otherwise. */
  async createTopic(topic, numPartitions = 1, replicationFactor) {
    const admin = new Admin(this.clientConfig())
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: replicationFactor ?? Math.min(this._nodes, 3) }] })
    } finally {
      await admin.close()
    }
  }

  /** Kills every node and removes the data. Idempotent. */
  stop() { return this._native.stop() }
}

/**
 * Sends the library's log records at `level` ('error', 'warn', 'info', 'debug', 'trace') and
 * more severe to `handler({ level, target, message })`, process-wide; `setLogHandler(null)`
 * stops. Records arrive on the event loop; the handler never keeps the process alive.
 */
function setLogHandler (level, handler) {
  if (level == null || handler == null) return native.setLogHandler(null, null)
  if (typeof handler !== 'function') throw new TypeError('setLogHandler: handler must be a function')
  return call(() => native.setLogHandler(level, (record) => {
    try { handler(record) } catch (_) { /* a throwing handler loses its record only */ }
  }))
}

// The core's rules, mapped rather than retyped (test/rules.test.mjs): OFFSET.BEGINNING, END,
// STORED, INVALID; LOCAL_ERRORS['_TIMED_OUT'], ...; ERROR_CLASSES in number order.
const RULES = native.rules()
const OFFSET = Object.freeze({ ...RULES.offsets })
const LOCAL_ERRORS = Object.freeze({ ...RULES.localErrors })
const ERROR_CLASSES = Object.freeze([...RULES.errorClasses])

const { ShareConsumer, AcknowledgeType } = require('./share.js')({
  native, call, rethrow, configMap, tokenCallback, decodeBatch,
})

module.exports = {
  setLogHandler,
  OFFSET,
  LOCAL_ERRORS,
  ERROR_CLASSES,
  Producer,
  Consumer,
  Admin,
  ShareConsumer,
  AcknowledgeType,
  KafkaError,
  testing: {
    Broker,
    Cluster,
    /** The property string the core makes of `value` for `key` (null: not set); throws its KafkaError. */
    configSetting: (key, value) => call(() => native.configSetting(key, value)),
  },
  version: require('./package.json').version,
}

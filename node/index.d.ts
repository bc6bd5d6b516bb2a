/// <reference types="node" />
// Types of the public API of the `odradek` package (index.js).

import { EventEmitter } from 'node:events'

/** Client properties, by their librdkafka / Java names (`bootstrap.servers`, `linger.ms`, ...).
 * Values are passed as strings; unknown keys and bad values throw `_INVALID_CONFIG`. */
/** An OAUTHBEARER token from `oauth_cb`. */
export interface OAuthBearerToken {
  /** The bearer token (a compact JWT). */
  value: string
  /** When it expires, in ms since the epoch; the client asks again before then. */
  lifetime: number
  /** The principal it names. */
  principal?: string
  /** SASL extensions (RFC 7628: keys are letters only). */
  extensions?: Record<string, string>
}

/**
 * Client properties (librdkafka / Java names). `oauth_cb` supplies OAUTHBEARER tokens
 * (`sasl.mechanism: 'OAUTHBEARER'`): called with `sasl.oauthbearer.config` for the first login
 * and before each token expires; what it throws (or rejects with) fails the login with
 * `_AUTHENTICATION`. Values are coerced by the core, the same way in every binding: booleans
 * become "true" / "false", numbers their decimal form (`5` → "5"), `null` and `undefined`
 * leave the property unset; NaN, Infinity, objects and arrays fail with `_INVALID_CONFIG`
 * naming the key.
 */
export type Config = Record<string, string | number | bigint | boolean | null | undefined | OAuthTokenCallback>

/** The type of `oauth_cb`. */
export type OAuthTokenCallback = (oauthbearerConfig: string) => OAuthBearerToken | Promise<OAuthBearerToken>

/** Bytes as accepted by send(): strings are UTF-8 encoded; `null`/`undefined` is absent. */
export type BytesLike = Buffer | Uint8Array | string | null | undefined

/** Headers as accepted by send(): ordered pairs (repeated names allowed), or an object whose
 * array values stand for repeated names. */
export type HeadersInput = Array<[string, BytesLike]> | Record<string, BytesLike | BytesLike[]>

export interface ProducerRecord {
  topic: string
  key?: BytesLike
  value?: BytesLike
  headers?: HeadersInput
  /** Explicit partition; otherwise murmur2 of the key (as the Java client), sticky for null keys. */
  partition?: number
  /** Create time, ms since the epoch (default: now). */
  timestamp?: number
}

export interface DeliveryReport {
  topic: string
  partition: number
  /** -1 with acks=0. */
  offset: number
  /** The record's create time, or the broker's log-append time. */
  timestamp: number
}

export interface Message {
  topic: string
  partition: number
  offset: number
  timestamp: number
  /** A view into the Buffer of the fetched batch (no copy per record). */
  key: Buffer | null
  value: Buffer | null
  /** In the order they were sent; repeated names are kept. */
  headers: Array<[string, Buffer | null]>
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to read. */
  offset: number
}

export interface AssignPartition extends TopicPartition {
  /** Where to start: 'earliest', 'latest', 'committed' (the group's, else auto.offset.reset;
   * the default) or an offset. */
  offset?: 'earliest' | 'latest' | 'committed' | number | string
}

export interface RebalanceEvent {
  kind: 'assigned' | 'revoked' | 'lost'
  partitions: TopicPartition[]
}

export interface Batch {
  topic: string
  partition: number
  messages: Message[]
  firstOffset(): number
  lastOffset(): number
}

export interface EachMessagePayload {
  topic: string
  partition: number
  message: Message
}

export interface EachBatchPayload {
  batch: Batch
  isRunning(): boolean
  /** Heartbeats run in the background; kept for kafkajs code. */
  heartbeat(): Promise<void>
}

export interface RunOptions {
  eachMessage?: (payload: EachMessagePayload) => Promise<void> | void
  eachBatch?: (payload: EachBatchPayload) => Promise<void> | void
}

/** An error from the client or a broker. */
export class KafkaError extends Error {
  /** Kafka's name for a broker error code (`UNKNOWN_TOPIC_OR_PARTITION`), else librdkafka's
   * name for the local condition (`_INVALID_CONFIG`, `_TIMED_OUT`, ...). */
  name: string
  /** The Kafka error code, or librdkafka's negative code for local errors. */
  code: number
  /** Whether trying again can help. */
  retriable: boolean
  /** 'retriable' | 'permanent' | 'abortable' | 'fatal' */
  errorClass: string
  /** The client cannot go on (a fenced transactional producer: PRODUCER_FENCED). */
  fatal: boolean
  /** The open transaction must be aborted; the producer stays usable. */
  abortable: boolean
  /** Same as `name` (the field kafkajs users look for). */
  type: string
  /** The topic, partition and broker the error concerns, when known (else null). */
  topic: string | null
  partition: number | null
  broker: string | null
}

/** One broker in a statistics snapshot. */
export interface BrokerStats {
  address: string
  state: 'up' | 'connecting' | 'backing_off' | 'idle'
  connects: number
  connect_failures: number
  disconnects: number
  requests: number
  request_latency_avg_us: number
  request_latency_max_us: number
  in_flight: number
}

/** A producer's or consumer's statistics (`metrics()`): counters, plus per-partition rows for a consumer. */
export interface ClientMetrics {
  brokers: BrokerStats[]
  partitions?: Array<{ topic: string; partition: number; position: number; high_watermark: number; lag: number; paused: boolean }>
  [counter: string]: number | BrokerStats[] | unknown
}

export class Producer {
  constructor(config: Config)
  /** Resolves once the broker acknowledged the record; rejects with a KafkaError. */
  send(record: ProducerRecord): Promise<DeliveryReport>
  /** kafkajs shape: the same as sendBatch (acks/timeout/compression are producer config here). */
  send(batch: { topic: string; messages: Array<Omit<ProducerRecord, 'topic'>> }): Promise<DeliveryReport[]>
  /** kafkajs shape: every message to one topic; resolves with the reports in order. */
  sendBatch(batch: { topic: string; messages: Array<Omit<ProducerRecord, 'topic'>> }): Promise<DeliveryReport[]>
  /** Resolves once every record sent before the call is delivered or failed. */
  flush(): Promise<void>
  /** Statistics; `brokers` has one row per broker. */
  metrics(): ClientMetrics
  /** `handler(err)` for failures no call returns (broker unreachable, all brokers down, TLS/SASL, fenced); null stops it. */
  onError(handler: ((error: KafkaError) => void) | null): void
  /** Flushes, then stops. Idempotent. */
  close(): Promise<void>
  disconnect(): Promise<void>
  /** Registers `transactional.id` (fencing earlier producers with it); once, before transactions. */
  initTransactions(): Promise<void>
  beginTransaction(): void
  /** Offsets (next to read) committed for the consumer's group with the open transaction. */
  sendOffsetsToTransaction(offsets: TopicPartitionOffset[], groupMetadata: GroupMetadata): Promise<void>
  /** Rejects with an `abortable` KafkaError (abort, then go on) or a `fatal` one (fenced). */
  commitTransaction(): Promise<void>
  abortTransaction(): Promise<void>
  /** kafkajs: begins a transaction (initialising the transactional id on first use). */
  transaction(): Promise<Transaction>
}

/** A consumer's group, generation and member id (consumer.groupMetadata()). */
export interface GroupMetadata {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId?: string | null
}

/** An open transaction (kafkajs's shape). */
export interface Transaction {
  send(record: ProducerRecord): Promise<DeliveryReport>
  send(batch: { topic: string; messages: Array<Omit<ProducerRecord, 'topic'>> }): Promise<DeliveryReport[]>
  sendBatch(batch: { topic: string; messages: Array<Omit<ProducerRecord, 'topic'>> }): Promise<DeliveryReport[]>
  /**
   * The group metadata (KIP-447) comes from `consumer`, or for `consumerGroupId` from the one
   * open consumer of that group in this process; with none or several only the group is named.
   */
  sendOffsets(offsets: {
    consumer?: Consumer
    consumerGroupId?: string
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: number | string }> }>
  }): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
  isActive(): boolean
}

/**
 * A consumer. Without `group.id` it reads assigned partitions; with `group.id` it can also
 * subscribe (group membership, rebalance events) and commit.
 *
 * Events: 'assigned', 'revoked', 'lost' (partitions), 'rebalance' (RebalanceEvent),
 * 'crash' (the error that stopped run()). The group waits for the rebalance listeners and the
 * promises they return (up to max.poll.interval.ms), so `await consumer.commit()` in a
 * 'revoked' listener lands before another member gets the partitions; close() runs 'revoked'
 * before the consumer is closed.
 */
export class Consumer extends EventEmitter implements AsyncIterable<Message> {
  constructor(config: Config)
  /** `fromBeginning` (kafkajs): where partitions without a committed offset start; before the first subscribe. */
  subscribe(topics: string[] | string | { topics: string[]; fromBeginning?: boolean } | { topic: string; fromBeginning?: boolean }): void
  assign(partitions: AssignPartition[]): Promise<void>
  /** Statistics: records handed out, Fetch round trips, per-partition lag, brokers. */
  metrics(): ClientMetrics
  /** `handler(err)` for failures no call returns (broker unreachable, all brokers down, TLS/SASL, group refusal); null stops it. */
  onError(handler: ((error: KafkaError) => void) | null): void
  assignment(): TopicPartition[]
  /** The next message, or null after `timeoutMs`. */
  poll(timeoutMs?: number): Promise<Message | null>
  /** Up to `max` messages: waits up to `timeoutMs` for the first. */
  consume(max?: number, timeoutMs?: number): Promise<Message[]>
  [Symbol.asyncIterator](): AsyncIterator<Message>
  /** Starts the kafkajs-style loop; resolves once started. */
  run(options: RunOptions): Promise<void>
  /** Ends the run() loop. */
  stop(): Promise<void>
  seek(target: TopicPartitionOffset): void
  position(partition: TopicPartition): number | null
  /** Stops handing out and fetching these partitions: fetched records are held, the position stays. */
  pause(partitions: TopicPartition[]): void
  /** Hands out and fetches these partitions again, the held records first. */
  resume(partitions: TopicPartition[]): void
  /** Synchronous commit of these offsets, or of every assigned partition's position. */
  commit(offsets?: TopicPartitionOffset[]): Promise<void>
  /** The group metadata for producer.sendOffsetsToTransaction (needs group.id). */
  groupMetadata(): GroupMetadata
  /** The group's committed offsets, in order (-1: none). */
  committed(partitions: TopicPartition[]): Promise<number[]>
  watermarks(partition: TopicPartition): Promise<{ low: number; high: number }>
  /** Per partition, the offset of the first record at or after `timestamp` (ms; -1: none). */
  offsetsForTimes(partitions: Array<TopicPartition & { timestamp: number }>): Promise<TopicPartitionOffset[]>
  /** Stops run(), leaves the group, closes. Idempotent. */
  close(): Promise<void>
  disconnect(): Promise<void>

  on(event: 'assigned' | 'revoked' | 'lost', listener: (partitions: TopicPartition[]) => void | Promise<void>): this
  on(event: 'rebalance', listener: (event: RebalanceEvent) => void | Promise<void>): this
  on(event: 'crash', listener: (error: Error) => void): this
  once(event: 'assigned' | 'revoked' | 'lost', listener: (partitions: TopicPartition[]) => void | Promise<void>): this
  once(event: 'rebalance', listener: (event: RebalanceEvent) => void | Promise<void>): this
  once(event: 'crash', listener: (error: Error) => void): this
}

export interface NewTopic {
  topic: string
  /** Default: the broker's num.partitions. */
  numPartitions?: number
  replicationFactor?: number
  config?: Record<string, string | number>
}

/** A config resource: kafkajs's ConfigResourceTypes code (TOPIC 2, BROKER 4) or 'topic' / 'broker'. */
export type ConfigResourceType = 'topic' | 'broker' | 2 | 4
export interface ConfigEntry {
  configName: string
  /** null for a sensitive or unset config. */
  configValue?: string | null
  readOnly: boolean
  isDefault: boolean
  isSensitive: boolean
}
export interface ClusterDescription {
  clusterId: string
  controller: number
  brokers: Array<{ nodeId: number; host: string; port: number; rack?: string | null }>
}
export interface GroupListing {
  groupId: string
  protocolType: string
  /** The coordinator's state: 'Stable', 'Empty', 'PreparingRebalance', ... */
  state: string
  /** 'classic' or 'consumer' (KIP-848). */
  groupType: string
}
export interface GroupDescription {
  groupId: string
  groupType: string
  /** 'Dead' (with no members) for a group that does not exist. */
  state: string
  /** The assignor. */
  protocol: string
  epoch: number
  members: Array<{
    memberId: string
    groupInstanceId?: string | null
    clientId: string
    clientHost: string
    assignment: TopicPartition[]
  }>
}
/** A reassignment in progress: every replica meanwhile, those catching up, those to drop. */
export interface PartitionReassignment {
  partition: number
  replicas: number[]
  addingReplicas: number[]
  removingReplicas: number[]
}

export interface PartitionLag {
  topic: string
  partition: number
  /** null when the group committed nothing here. */
  committed: number | null
  /** The last stable offset (records of open transactions are not lag). */
  logEnd: number
  lag: number
}
/** ACL enums by Kafka's name (any case: 'TOPIC', 'LITERAL', 'READ', 'ALLOW') or wire code. */
export type AclEnum = string | number
export interface AclBinding {
  resourceType: AclEnum
  resourceName: string
  /** Default 'LITERAL'. */
  resourcePatternType?: AclEnum
  /** 'User:alice'; 'User:*' is everyone. */
  principal: string
  /** Default '*'. */
  host?: string
  operation: AclEnum
  /** Default 'ALLOW'. */
  permissionType?: AclEnum
}
/** Which ACLs: an absent field matches anything. */
export type AclFilter = Partial<AclBinding>
/** An ACL as described, names as the core spells them ('Topic', 'Literal', 'Read', 'Allow'). */
export interface AclDescription {
  resourceType: string
  resourceName: string
  resourcePatternType: string
  principal: string
  host: string
  operation: string
  permissionType: string
}
export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512'

export class Admin {
  constructor(config: Config)
  createTopics(topics: NewTopic[] | { topics: NewTopic[] }): Promise<void>
  deleteTopics(topics: string[] | { topics: string[] }): Promise<void>
  createPartitions(topic: string, totalPartitions: number): Promise<void>
  listTopics(): Promise<Array<{ topic: string; partitions: number }>>
  describeConfigs(options: {
    resources: Array<{ type: ConfigResourceType; name: string; configNames?: string[] }>
  }): Promise<{ resources: Array<{ resourceType: string; resourceName: string; configEntries: ConfigEntry[] }> }>
  /** Incremental: each named config is set, or reverted to its default when `value` is null. */
  alterConfigs(options: {
    resources: Array<{ type: ConfigResourceType; name: string; configEntries: Array<{ name: string; value: string | number | null }> }>
  }): Promise<void>
  describeCluster(): Promise<ClusterDescription>
  /** Moves partitions to new replicas (the first preferred); `replicas: null` cancels. */
  alterPartitionReassignments(options: {
    topics: Array<{
      topic: string
      partitionAssignment: Array<{ partition: number; replicas: number[] | null }>
    }>
  }): Promise<void>
  /** The reassignments in progress (of `topics`, if given). */
  listPartitionReassignments(options?: {
    topics?: Array<{ topic: string; partitions: number[] }>
  }): Promise<{ topics: Array<{ topic: string; partitions: PartitionReassignment[] }> }>
  /** Elects leaders of `topics` (every partition when not given); each partition's error or null. */
  electLeaders(options?: {
    type?: 'preferred' | 'unclean'
    topics?: Array<{ topic: string; partitions: number[] }>
  }): Promise<Array<{ topic: string; partition: number; error: KafkaError | null }>>
  /** Deletes records before each offset; the partitions' new low watermarks. */
  deleteTopicRecords(options: {
    topic: string
    partitions: Array<{ partition: number; offset: number | string }>
  }): Promise<Array<{ partition: number; lowWatermark: number }>>
  listGroups(): Promise<{ groups: GroupListing[] }>
  describeGroups(groupIds: string[]): Promise<{ groups: GroupDescription[] }>
  /** The group's committed offsets (of `topics` only, when given). */
  fetchOffsets(options: { groupId: string; topics?: string[] }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: number }> }>>
  /** Sets committed offsets of a group without members. */
  setOffsets(options: { groupId: string; topic: string; partitions: Array<{ partition: number; offset: number | string }> }): Promise<void>
  deleteGroupOffsets(options: { groupId: string; topic: string; partitions: number[] }): Promise<void>
  /** Deletes groups without members (NON_EMPTY_GROUP otherwise). */
  deleteGroups(groupIds: string[]): Promise<void>
  /** Lag of every partition the group committed, plus every partition of `topics`. */
  fetchGroupLag(options: { groupId: string; topics?: string[] }): Promise<PartitionLag[]>
  createAcls(options: { acl: AclBinding[] }): Promise<void>
  describeAcls(filter?: AclFilter): Promise<AclDescription[]>
  /** Resolves with the ACLs deleted. */
  deleteAcls(options: { filters: AclFilter[] }): Promise<AclDescription[]>
  describeUserScramCredentials(users?: string[]): Promise<Array<{ user: string; credentials: Array<{ mechanism: ScramMechanism; iterations: number }> }>>
  /** Passwords are salted and iterated in the client (iterations default 8192). */
  alterUserScramCredentials(options: {
    upsertions?: Array<{ user: string; mechanism: ScramMechanism; password: string; iterations?: number }>
    deletions?: Array<{ user: string; mechanism: ScramMechanism }>
  }): Promise<void>
  close(): Promise<void>
  disconnect(): Promise<void>
}

/** The odradek broker in-process: 127.0.0.1, an ephemeral port, a temporary data directory. */
export class Broker {
  /** @param properties Kafka broker properties (`num.partitions`, ...) */
  static start(properties?: Record<string, string | number>): Promise<Broker>
  /**
   * A broker whose one listener is SASL_SSL: TLS with a CA made now (`caPem`), SCRAM-SHA-256/512
   * with this user; `properties` are added (`sasl.enabled.mechanisms` with OAUTHBEARER also
   * accepts unsecured JWTs).
   */
  static startSaslSsl(username: string, password: string, properties?: Record<string, string | number>): Promise<Broker>
  readonly bootstrapServers: string
  /** The CA certificate (PEM) of a SASL_SSL broker, for `ssl.ca.pem`; null for a plaintext one. */
  readonly caPem: string | null
  /** `bootstrap.servers` and, for a SASL_SSL broker, the security keys a client needs. */
  clientConfig(): Record<string, string>
  /** Stops the broker and removes its data. Idempotent. */
  stop(): Promise<void>
}

/**
 * An N-node cluster in-process (nodes 1..N), for fail-over tests: kill, restart, isolate and
 * heal a node by id. A node that stops heartbeating is fenced after 2 s; properties override.
 */
export class Cluster {
  /** Resolves once every node is registered (`nodes` defaults to 3). */
  static start(options?: { nodes?: number; properties?: Record<string, string | number> }): Promise<Cluster>
  /** `host:port,...` of every running node. */
  readonly bootstrapServers: string
  nodeIds(): number[]
  /** Stops the node abruptly (no flush); its data stays. */
  kill(nodeId: number): Promise<void>
  /** Starts the node again on its data and port; resolves once it is registered. */
  restart(nodeId: number): Promise<void>
  /** Cuts the node off the network until `heal`. */
  isolate(nodeId: number): Promise<void>
  heal(nodeId: number): Promise<void>
  /** The partition's leader in the newest metadata a connected node has; null when none. */
  leader(topic: string, partition: number): number | null
  clientConfig(): Record<string, string>
  /** Creates a topic, replicated on min(nodes, 3) nodes by default. */
  createTopic(topic: string, numPartitions?: number, replicationFactor?: number): Promise<void>
  /** Kills every node and removes the data. Idempotent. */
  stop(): Promise<void>
}

export const testing: {
  Broker: typeof Broker
  Cluster: typeof Cluster
  /** The property string the core makes of `value` for `key` (null: not set); throws its KafkaError. */
  configSetting(key: string, value: unknown): string | null
}
export const version: string

/** One log record of the library. */
export interface LogRecord {
  level: 'error' | 'warn' | 'info' | 'debug' | 'trace'
  /** The library module that logged it. */
  target: string
  /** The text, then its fields as ` key=value`. */
  message: string
}
/** The special offsets (the core's): BEGINNING -2, END -1, STORED -1000, INVALID -1001. */
export const OFFSET: Readonly<{ BEGINNING: number; END: number; STORED: number; INVALID: number }>
/** Every local error's code by name (`_TIMED_OUT`: -185, ...), as the core defines them. */
export const LOCAL_ERRORS: Readonly<Record<string, number>>
/** The error class names (`retriable`, `permanent`, `abortable`, `fatal`), in number order. */
export const ERROR_CLASSES: ReadonlyArray<string>

/**
 * Sends the library's log records at `level` and more severe to `handler`, process-wide;
 * `setLogHandler(null)` stops. Records arrive on the event loop; the handler never keeps the
 * process alive.
 */
export function setLogHandler(
  level: 'error' | 'warn' | 'info' | 'debug' | 'trace' | null,
  handler?: ((record: LogRecord) => void) | null,
): void

/** How a message handed out by a ShareConsumer is settled. */
export const AcknowledgeType: Readonly<{
  /** Processed: never delivered again. */
  ACCEPT: 'accept'
  /** Not processed: delivered again (to any member), its deliveryCount one higher. */
  RELEASE: 'release'
  /** Cannot be processed: never delivered again. */
  REJECT: 'reject'
}>
export type AcknowledgeType = 'accept' | 'release' | 'reject'

/** A message handed out by a ShareConsumer. */
export interface ShareMessage extends Message {
  /** 1 the first time it is delivered, 2 after one release or lock timeout, ... */
  deliveryCount: number
}

/**
 * A member of a share group (KIP-932; `group.id` required): members read the same partitions
 * and the broker hands each record to one member at a time, which acknowledges it. With
 * `share.acknowledgement.mode` 'implicit' (the default) messages not acknowledged are accepted
 * at the next poll or commitSync; with 'explicit' each must be acknowledged before the next poll.
 */
export class ShareConsumer {
  constructor(config: Config)
  subscribe(topics: string[] | string): void
  /** The partitions the coordinator assigned to this member now. */
  assignment(): TopicPartition[]
  /** Messages that arrive within `timeoutMs` (default 1000); empty after it. */
  poll(timeoutMs?: number): Promise<ShareMessage[]>
  /** Settles a message this consumer handed out (default: accept). */
  acknowledge(message: ShareMessage, type?: AcknowledgeType): void
  /** Sends the pending acknowledgements now; rejects with the first partition's error. */
  commitSync(): Promise<void>
  /** Sends the pending acknowledgements in the background. */
  commitAsync(): void
  /** Leaves the share group; messages not acknowledged are released. Idempotent. */
  close(): Promise<void>
}

// odradek: a Kafka client for C++17, on the odradek Rust core.
//
//   odradek::Producer producer({{"bootstrap.servers", "127.0.0.1:9092"}});
//   auto report = producer.send(odradek::ProducerRecord("events").key("user-1").value("hi")).get();
//
// Every class is RAII (closing in the destructor, never throwing from it) and movable, not
// copyable. Every failure is an odradek::KafkaError (a std::runtime_error) carrying Kafka's
// error name and code and whether a retry can help. Config keys are librdkafka's / the Java
// client's ("bootstrap.servers", "linger.ms", "group.id", ...); an unknown key is an error.
//
// Licensed under the Apache License, Version 2.0.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace odradek {

/// Client properties: librdkafka / Java client names, string values.
using Config = std::map<std::string, std::string>;

/// Whether, and how, a failed operation can be tried again.
enum class ErrorClass {
    Retriable,  ///< transient: the same request may succeed later
    Permanent,  ///< this request can never succeed as sent; the client stays usable
    Abortable,  ///< the current transaction / producer epoch must be aborted
    Fatal,      ///< the client instance cannot continue
};

/// Every error odradek reports. `name()` is Kafka's name for a broker error
/// ("UNKNOWN_TOPIC_OR_PARTITION") or librdkafka's for a local one ("_INVALID_CONFIG",
/// "_TIMED_OUT"); `code()` is Kafka's error code, or librdkafka's negative code for a local error.
class KafkaError : public std::runtime_error {
public:
    KafkaError(std::string name, int code, ErrorClass error_class, const std::string& message,
               std::string topic = {}, int partition = -1, std::string broker = {});

    const std::string& name() const noexcept { return name_; }
    int code() const noexcept { return code_; }
    ErrorClass error_class() const noexcept { return class_; }
    bool retriable() const noexcept { return class_ == ErrorClass::Retriable; }
    bool fatal() const noexcept { return class_ == ErrorClass::Fatal; }
    /// The open transaction must be aborted (abort_transaction); the producer stays usable.
    bool txn_requires_abort() const noexcept { return class_ == ErrorClass::Abortable; }
    /// The topic the error is about; empty when not known.
    const std::string& topic() const noexcept { return topic_; }
    /// The partition the error is about; -1 when not known.
    int partition() const noexcept { return partition_; }
    /// The broker it came from ("host:port" or "broker N"); empty when not known.
    const std::string& broker() const noexcept { return broker_; }

private:
    std::string name_;
    int code_;
    ErrorClass class_;
    std::string topic_;
    int partition_;
    std::string broker_;
};

/// A non-owning view of bytes that may be null (a null key, a tombstone value, a null header
/// value). Built implicitly from strings and byte vectors; `nullptr` or a default-constructed
/// `Bytes` is null, an empty string is empty (not null).
class Bytes {
public:
    Bytes() noexcept = default;
    Bytes(std::nullptr_t) noexcept {}
    Bytes(std::string_view s) noexcept
        : data_(reinterpret_cast<const std::uint8_t*>(s.data())), size_(s.size()), null_(false) {}
    Bytes(const char* s) : Bytes(s ? std::string_view(s) : std::string_view()) { null_ = !s; }
    Bytes(const std::string& s) noexcept : Bytes(std::string_view(s)) {}
    Bytes(const std::vector<std::uint8_t>& v) noexcept : data_(v.data()), size_(v.size()), null_(false) {}
    Bytes(const std::vector<std::byte>& v) noexcept
        : data_(reinterpret_cast<const std::uint8_t*>(v.data())), size_(v.size()), null_(false) {}
    Bytes(const void* data, std::size_t size) noexcept
        : data_(static_cast<const std::uint8_t*>(data)), size_(size), null_(false) {}

    const std::uint8_t* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool is_null() const noexcept { return null_; }
    std::string_view view() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }

private:
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    bool null_ = true;
};

/// A record to send. It only refers to the caller's bytes; `send` copies them before returning.
class ProducerRecord {
public:
    explicit ProducerRecord(std::string_view topic) : topic_(topic) {}

    ProducerRecord& key(Bytes key) { key_ = key; return *this; }
    ProducerRecord& value(Bytes value) { value_ = value; return *this; }
    /// An explicit partition (otherwise the partitioner picks: murmur2 of the key, as in Java).
    ProducerRecord& partition(std::int32_t partition) { partition_ = partition; return *this; }
    /// Create time in ms since the epoch (otherwise now).
    ProducerRecord& timestamp(std::int64_t ms) { timestamp_ = ms; return *this; }
    /// Appends a header; order and duplicate names are kept.
    ProducerRecord& header(std::string_view name, Bytes value) {
        headers_.emplace_back(name, value);
        return *this;
    }

    std::string_view topic() const noexcept { return topic_; }
    const Bytes& key() const noexcept { return key_; }
    const Bytes& value() const noexcept { return value_; }
    std::optional<std::int32_t> partition() const noexcept { return partition_; }
    std::optional<std::int64_t> timestamp() const noexcept { return timestamp_; }
    const std::vector<std::pair<std::string_view, Bytes>>& headers() const noexcept {
        return headers_;
    }

private:
    std::string_view topic_;
    Bytes key_;
    Bytes value_;
    std::optional<std::int32_t> partition_;
    std::optional<std::int64_t> timestamp_;
    std::vector<std::pair<std::string_view, Bytes>> headers_;
};

/// Where a record was written.
struct DeliveryReport {
    std::int32_t partition = -1;
    std::int64_t offset = -1;     ///< -1 with acks=0
    std::int64_t timestamp = -1;  ///< create time, or the broker's append time
};

/// Called once per record with its report, or with a non-null error. It runs on a library
/// thread: keep it short, and do not call blocking odradek functions (flush, poll) from it.
using DeliveryCallback = std::function<void(const DeliveryReport& report, const KafkaError* error)>;

/// An OAUTHBEARER token from a TokenProvider: the bearer token (a compact JWT), when it
/// expires, the principal it names and SASL extensions (RFC 7628: keys are letters only).
struct OAuthBearerToken {
    std::string value;
    std::chrono::system_clock::time_point expiry;
    std::string principal;
    std::map<std::string, std::string> extensions;
};

/// Supplies OAUTHBEARER tokens (sasl.mechanism=OAUTHBEARER): called with the client's
/// "sasl.oauthbearer.config" for the first login and again before each token expires, on a
/// library thread (blocking is allowed; calls are serialized). An exception fails the login
/// with "_AUTHENTICATION" carrying its what() (which must hold no secret).
using TokenProvider = std::function<OAuthBearerToken(const std::string& oauthbearer_config)>;

/// Receives a client's background failures, the ones no call returns: a broker unreachable or
/// its connection lost ("_TRANSPORT"), every broker down ("_ALL_BROKERS_DOWN"), a TLS or SASL
/// failure, the producer fenced, the group refusing the member. `retriable()` says whether the
/// client recovers by itself. It runs on the library's event thread (one per process), one error
/// at a time: keep it short; what it throws is written to stderr.
using ErrorCallback = std::function<void(const KafkaError& error)>;

/// One broker as a client sees it (a row of ProducerMetrics::brokers / ConsumerMetrics::brokers).
struct BrokerStats {
    std::string address;                    ///< host:port
    std::string state;                      ///< "up", "connecting", "backing_off" or "idle"
    std::uint64_t connects = 0;             ///< connections opened
    std::uint64_t connect_failures = 0;     ///< connects that failed
    std::uint64_t disconnects = 0;          ///< connections lost after they were up
    std::uint64_t requests = 0;             ///< requests answered
    std::uint64_t request_latency_avg_us = 0;
    std::uint64_t request_latency_max_us = 0;
    std::uint64_t in_flight = 0;            ///< requests waiting for their response now
};

/// A producer's statistics snapshot (Producer::metrics()).
struct ProducerMetrics {
    std::uint64_t records_delivered = 0;
    std::uint64_t records_failed = 0;
    std::uint64_t bytes_delivered = 0;      ///< uncompressed record bytes
    std::uint64_t requests = 0;             ///< Produce requests completed
    std::uint64_t retries = 0;              ///< batch retries
    std::uint64_t request_latency_avg_us = 0;
    std::uint64_t request_latency_max_us = 0;
    std::uint64_t queue_records = 0;        ///< waiting in the buffer, in flight included
    std::uint64_t queue_bytes = 0;
    std::vector<BrokerStats> brokers;       ///< sorted by address
};

/// One assigned partition of a consumer.
struct PartitionStats {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t position = -1;             ///< next offset handed out; -1: not known yet
    std::int64_t high_watermark = -1;       ///< of the last fetch; -1: not fetched yet
    std::int64_t lag = -1;                  ///< high_watermark - position, -1 when either is unknown
    bool paused = false;
};

/// A consumer's statistics snapshot (Consumer::metrics()).
struct ConsumerMetrics {
    std::uint64_t records_consumed = 0;     ///< handed to the application
    std::uint64_t bytes_consumed = 0;       ///< their key and value bytes
    std::uint64_t fetch_requests = 0;
    std::uint64_t fetch_latency_avg_us = 0;
    std::uint64_t fetch_latency_max_us = 0;
    std::uint64_t buffered_bytes = 0;       ///< fetched, not handed out yet
    std::vector<PartitionStats> partitions; ///< sorted
    std::vector<BrokerStats> brokers;       ///< sorted by address
};

namespace ffi {
struct ProducerBox;
struct ConsumerBox;
struct RecordBatchBox;
struct ShareConsumerBox;
struct AdminBox;
struct BrokerBox;
}  // namespace ffi

struct TopicPartitionOffset;

/// A consumer's group, generation and member id (Consumer::group_metadata()): what
/// Producer::send_offsets_to_transaction needs so that a zombie member's offsets are refused.
struct ConsumerGroupMetadata {
    std::string group_id;
    std::int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
};

/// A producer. `send` never blocks on the network and needs no polling: each record's result
/// arrives through its std::future or callback, exactly once.
class Producer {
public:
    explicit Producer(const Config& config);
    explicit Producer(std::initializer_list<Config::value_type> config) : Producer(Config(config)) {}
    /// A producer whose OAUTHBEARER tokens come from `token_provider`.
    Producer(const Config& config, TokenProvider token_provider);
    /// Flushes (up to 30 s) and stops; errors are swallowed (call close() to see them).
    ~Producer();
    Producer(Producer&&) noexcept;
    Producer& operator=(Producer&&) noexcept;
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;

    /// Sends a record; the future holds its report or throws its KafkaError.
    std::future<DeliveryReport> send(const ProducerRecord& record);
    /// Sends a record; `callback` receives the result.
    void send(const ProducerRecord& record, DeliveryCallback callback);
    /// Sends records in order; one future per record, in the same order.
    std::vector<std::future<DeliveryReport>> send_batch(const std::vector<ProducerRecord>& records);
    /// Waits until every record sent so far is delivered or failed, and its callback ran.
    void flush(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    /// Flushes, then stops the producer. Idempotent; later sends fail with "_DESTROY". The error
    /// callback is cleared first: it never runs after close() (or the destructor) returns.
    void close(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    /// Sends the producer's background failures to `callback`, replacing the one set before; an
    /// empty function stops them. When it returns, the previous callback never runs again.
    void set_error_callback(ErrorCallback callback);
    /// Statistics: records delivered and failed, requests, retries, latency, the buffer, and a
    /// row per broker.
    ProducerMetrics metrics() const;

    // Transactions (needs `transactional.id`). A KafkaError with txn_requires_abort() (a record
    // failed) means: abort_transaction, then go on; one with fatal() (PRODUCER_FENCED: another
    // producer took the id) means the producer cannot continue.

    /// Registers `transactional.id`: fences earlier producers with it and aborts their open
    /// transaction. Call once, before the first transaction.
    void init_transactions(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    /// Opens a transaction: records sent until commit or abort belong to it.
    void begin_transaction();
    /// Adds the consumer's next-offsets-to-read to the open transaction: committed for the
    /// group if, and only if, the transaction commits.
    void send_offsets_to_transaction(const std::vector<TopicPartitionOffset>& offsets,
                                     const ConsumerGroupMetadata& group,
                                     std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    /// Delivers every record of the transaction, then commits it.
    void commit_transaction(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    /// Aborts the open transaction: read_committed consumers never see what it wrote.
    void abort_transaction(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A partition of a topic.
struct TopicPartition {
    std::string topic;
    std::int32_t partition = 0;
    bool operator==(const TopicPartition& o) const { return topic == o.topic && partition == o.partition; }
    bool operator<(const TopicPartition& o) const {
        return topic < o.topic || (topic == o.topic && partition < o.partition);
    }
};

/// Special offsets: the core's (librdkafka's numbers); tests/client_test.cpp checks them against the
/// C ABI header that publishes them.
namespace offsets {
constexpr std::int64_t beginning = -2;  ///< the log start
constexpr std::int64_t end = -1;        ///< only records produced from now on
constexpr std::int64_t stored = -1000;  ///< the group's committed offset, else auto.offset.reset
constexpr std::int64_t invalid = -1001; ///< unknown (same meaning as `stored` in assign)
}  // namespace offsets

/// A partition with an offset (a start for assign, a next offset to read for commit).
struct TopicPartitionOffset {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = offsets::invalid;
};

/// One record header as read: the value may be null.
struct HeaderView {
    std::string_view key;
    std::optional<std::string_view> value;
};

/// A consumed record. Its bytes live as long as the Message (they are not copied out of the
/// fetched batch); copy them to keep them longer.
class Message {
public:
    std::string_view topic() const;
    std::int32_t partition() const;
    std::int64_t offset() const;
    std::int64_t timestamp() const;
    /// The key, or nullopt for a null key.
    std::optional<std::string_view> key() const;
    /// The value, or nullopt for a null value (a tombstone).
    std::optional<std::string_view> value() const;
    std::size_t header_count() const;
    HeaderView header(std::size_t index) const;
    std::vector<HeaderView> headers() const;
    /// How often a share consumer has handed this record out (1 the first time, 2 after one
    /// release or lock timeout, ...); nullopt for a Consumer's record.
    std::optional<std::int16_t> delivery_count() const;

private:
    friend class Consumer;
    friend class ShareConsumer;
    Message(std::shared_ptr<const ffi::RecordBatchBox> batch, std::size_t index)
        : batch_(std::move(batch)), index_(index) {}
    std::shared_ptr<const ffi::RecordBatchBox> batch_;
    std::size_t index_;
};

/// Rebalance callbacks of a group member; each runs on a library thread, keep them short.
struct RebalanceCallbacks {
    std::function<void(const std::vector<TopicPartition>&)> on_assigned;
    std::function<void(const std::vector<TopicPartition>&)> on_revoked;  ///< orderly, committed first with auto-commit
    std::function<void(const std::vector<TopicPartition>&)> on_lost;     ///< session lost: nothing committed
};

/// A consumer: either assign() partitions by hand, or subscribe() as a member of `group.id`.
/// commit / committed need `group.id`; seek and position work either way.
class Consumer {
public:
    explicit Consumer(const Config& config);
    explicit Consumer(std::initializer_list<Config::value_type> config) : Consumer(Config(config)) {}
    /// A consumer whose OAUTHBEARER tokens come from `token_provider`.
    Consumer(const Config& config, TokenProvider token_provider);
    /// Closes (leaving the group); errors are swallowed (call close() to see them).
    ~Consumer();
    Consumer(Consumer&&) noexcept;
    Consumer& operator=(Consumer&&) noexcept;
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;

    void subscribe(const std::vector<std::string>& topics);
    /// Offsets: a number, or offsets::beginning / end / stored.
    void assign(const std::vector<TopicPartitionOffset>& partitions);
    void unassign();
    /// Assigned partitions, each with its position (offsets::invalid until known).
    std::vector<TopicPartitionOffset> assignment() const;
    /// The next record within `timeout`, or nullopt.
    std::optional<Message> poll(std::chrono::milliseconds timeout);
    /// Up to `max` records: waits up to `timeout` for the first, then takes what is buffered.
    std::vector<Message> poll_batch(std::size_t max, std::chrono::milliseconds timeout);
    void seek(std::string_view topic, std::int32_t partition, std::int64_t offset);
    /// The offset of the next record from this partition, or nullopt while unknown.
    std::optional<std::int64_t> position(std::string_view topic, std::int32_t partition) const;
    /// Stops fetching these partitions (positions are kept) until resume(); poll() returns
    /// records of the other partitions meanwhile.
    void pause(const std::vector<TopicPartition>& partitions);
    void resume(const std::vector<TopicPartition>& partitions);
    /// {low, high}: the partition's log start offset and high watermark, asked from its leader.
    std::pair<std::int64_t, std::int64_t> watermarks(std::string_view topic, std::int32_t partition) const;
    /// librdkafka's offsetsForTimes: each entry's `offset` is a timestamp (ms since the epoch) on
    /// the way in and, on return, the first offset whose record is at or after it
    /// (offsets::end when no record is that recent).
    void offsets_for_times(std::vector<TopicPartitionOffset>& partitions) const;
    /// Commits (synchronously) the position of every partition read so far.
    void commit();
    /// Commits these next-offsets-to-read.
    void commit(const std::vector<TopicPartitionOffset>& offsets);
    /// The group's committed offsets, in order; nullopt where nothing is committed.
    std::vector<std::optional<std::int64_t>> committed(const std::vector<TopicPartition>& partitions);
    void set_rebalance_callbacks(RebalanceCallbacks callbacks);
    /// The group metadata for Producer::send_offsets_to_transaction (needs `group.id`).
    ConsumerGroupMetadata group_metadata() const;
    /// Leaves the group (committing with auto-commit on) and stops fetching. Idempotent. The
    /// error callback is cleared first: it never runs after close() (or the destructor) returns.
    void close();
    /// Sends the consumer's background failures to `callback` (as Producer::set_error_callback).
    void set_error_callback(ErrorCallback callback);
    /// Statistics: records and bytes handed out, Fetch round trips, buffered bytes, each assigned
    /// partition's position, high watermark and lag, and a row per broker.
    ConsumerMetrics metrics() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A topic and its partition count.
/// What became of a record a ShareConsumer handed out.
enum class AcknowledgeType : std::uint8_t {
    Accept = 1,   ///< processed: never delivered again
    Release = 2,  ///< not processed: delivered again (to any member), its delivery count one higher
    Reject = 3,   ///< cannot be processed: never delivered again
};

/// A member of a share group (KIP-932; `group.id` required): members read the same partitions
/// and the broker hands each record to one member at a time, which acknowledges it. With
/// `share.acknowledgement.mode` "implicit" (the default) records not acknowledged are accepted
/// at the next poll() or commit_sync(); with "explicit" each must be acknowledged before the
/// next poll().
class ShareConsumer {
public:
    explicit ShareConsumer(const Config& config);
    explicit ShareConsumer(std::initializer_list<Config::value_type> config) : ShareConsumer(Config(config)) {}
    /// A share consumer whose OAUTHBEARER tokens come from `token_provider`.
    ShareConsumer(const Config& config, TokenProvider token_provider);
    /// Closes (leaving the group); errors are swallowed (call close() to see them).
    ~ShareConsumer();
    ShareConsumer(ShareConsumer&&) noexcept;
    ShareConsumer& operator=(ShareConsumer&&) noexcept;
    ShareConsumer(const ShareConsumer&) = delete;
    ShareConsumer& operator=(const ShareConsumer&) = delete;

    void subscribe(const std::vector<std::string>& topics);
    /// The partitions the coordinator assigned to this member now.
    std::vector<TopicPartition> assignment() const;
    /// Records that arrive within `timeout` (each with delivery_count()); empty after it. The
    /// acknowledgements of the records handed out before travel with this fetch.
    std::vector<Message> poll(std::chrono::milliseconds timeout);
    /// Settles a record this consumer handed out (sent with the next poll or commit).
    void acknowledge(const Message& message, AcknowledgeType type = AcknowledgeType::Accept);
    /// Sends the pending acknowledgements now; throws the first partition's error.
    void commit_sync();
    /// Sends the pending acknowledgements in the background (a failure is logged).
    void commit_async();
    /// Leaves the share group; records handed out and not acknowledged are released. Idempotent.
    void close();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct TopicInfo {
    std::string name;
    std::int32_t partitions = 0;
};

/// What a config or an ACL applies to (Kafka's codes; an ACL on the cluster is Broker, named
/// "kafka-cluster"; a broker's configs are named by its node id).
enum class ResourceType : std::int8_t { Any = 1, Topic = 2, Group = 3, Broker = 4, TransactionalId = 5 };

/// A topic or a broker whose configs are described or altered.
struct ConfigResource {
    ResourceType type = ResourceType::Topic;
    std::string name;
};

/// One config as the broker describes it; `value` is empty when sensitive or unset.
struct ConfigEntry {
    std::string name;
    std::optional<std::string> value;
    bool read_only = false;
    bool is_default = false;
    bool is_sensitive = false;
};

/// Sets `name` to `value`; without a value, reverts it to its default.
struct ConfigChange {
    std::string name;
    std::optional<std::string> value;
};

/// A group as the brokers list it.
struct GroupListing {
    std::string group_id;
    std::string protocol_type;  ///< "consumer"; empty for a group with committed offsets only
    std::string state;          ///< Stable, PreparingRebalance, Empty, Dead, ...
    std::string group_type;     ///< "classic" or "consumer" (KIP-848)
};

/// A member of a described group.
struct GroupMember {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string host;
    std::int32_t member_epoch = -1;  ///< KIP-848 member epoch; -1 for classic members
    std::vector<TopicPartition> assignment;
};

/// A described group; one that does not exist has state "Dead".
struct GroupDescription {
    std::string group_id;
    std::string group_type;
    std::string state;
    std::string assignor;
    std::int32_t epoch = -1;
    std::vector<GroupMember> members;
};

/// The lag of a group on one partition.
struct PartitionLag {
    std::string topic;
    std::int32_t partition = 0;
    std::optional<std::int64_t> committed;  ///< empty when nothing is committed
    std::int64_t log_end = 0;               ///< the last stable offset
    std::int64_t lag = 0;
};

/// A broker of the cluster.
struct BrokerNode {
    std::int32_t id = -1;
    std::string host;
    std::int32_t port = 0;
    std::optional<std::string> rack;
};

/// The cluster as DescribeCluster reports it.
struct ClusterDescription {
    std::string cluster_id;
    std::int32_t controller_id = -1;
    std::vector<BrokerNode> brokers;
};

/// How an ACL's resource name matches; Any and Match only in filters.
enum class AclPatternType : std::int8_t { Any = 1, Match = 2, Literal = 3, Prefixed = 4 };
/// The operation an ACL allows or denies (Kafka's codes); Any only in filters.
enum class AclOperation : std::int8_t {
    Any = 1, All = 2, Read = 3, Write = 4, Create = 5, Delete = 6, Alter = 7, Describe = 8,
    ClusterAction = 9, DescribeConfigs = 10, AlterConfigs = 11, IdempotentWrite = 12,
};
/// Allow or deny; Any only in filters.
enum class AclPermission : std::int8_t { Any = 1, Deny = 2, Allow = 3 };

/// An ACL: `principal` ("User:alice", "User:*") from `host` ("*": any) may or may not do
/// `operation` on the resource. As a filter, empty strings and the Any values match anything.
struct AclBinding {
    ResourceType resource_type = ResourceType::Any;
    std::string resource_name;
    AclPatternType pattern_type = AclPatternType::Any;
    std::string principal;
    std::string host;
    AclOperation operation = AclOperation::Any;
    AclPermission permission = AclPermission::Any;
    bool operator==(const AclBinding& o) const {
        return resource_type == o.resource_type && resource_name == o.resource_name && pattern_type == o.pattern_type &&
               principal == o.principal && host == o.host && operation == o.operation && permission == o.permission;
    }
};
using AclBindingFilter = AclBinding;

/// A SCRAM mechanism (Kafka's codes).
enum class ScramMechanism : std::int8_t { ScramSha256 = 1, ScramSha512 = 2 };

/// One SCRAM credential of a user (never its password).
struct ScramCredential {
    std::string user;
    ScramMechanism mechanism = ScramMechanism::ScramSha512;
    std::int32_t iterations = 0;
};

/// Administration: topics, configs, groups, records, the cluster, ACLs and SCRAM users.
class Admin {
public:
    explicit Admin(const Config& config);
    explicit Admin(std::initializer_list<Config::value_type> config) : Admin(Config(config)) {}
    /// An admin client whose OAUTHBEARER tokens come from `token_provider`.
    Admin(const Config& config, TokenProvider token_provider);
    ~Admin();
    Admin(Admin&&) noexcept;
    Admin& operator=(Admin&&) noexcept;
    Admin(const Admin&) = delete;
    Admin& operator=(const Admin&) = delete;

    void create_topic(std::string_view name, std::int32_t partitions, const Config& topic_config = {},
                      std::int16_t replication_factor = -1);
    void delete_topic(std::string_view name);
    void create_partitions(std::string_view topic, std::int32_t total);
    std::vector<TopicInfo> list_topics();

    /// The configs of a topic or a broker: all of them, or only `keys`.
    std::vector<ConfigEntry> describe_configs(const ConfigResource& resource, const std::vector<std::string>& keys = {});
    /// Changes configs, leaving the others as they are (Kafka's IncrementalAlterConfigs).
    void alter_configs(const ConfigResource& resource, const std::vector<ConfigChange>& changes);
    /// Every group of every broker, sorted by id.
    std::vector<GroupListing> list_groups();
    /// Describes groups, in the order given.
    std::vector<GroupDescription> describe_groups(const std::vector<std::string>& groups);
    /// Every committed offset of `group`.
    std::vector<TopicPartitionOffset> list_group_offsets(const std::string& group);
    /// Sets committed offsets (next to read) of a group without members.
    void alter_group_offsets(const std::string& group, const std::vector<TopicPartitionOffset>& offsets);
    /// Deletes committed offsets; refused for topics the group is consuming.
    void delete_group_offsets(const std::string& group, const std::vector<TopicPartition>& partitions);
    /// Deletes groups without members; throws the first group's error.
    void delete_groups(const std::vector<std::string>& groups);
    /// Lag on every partition `group` has committed offsets for, plus every partition of `topics`.
    std::vector<PartitionLag> group_lag(const std::string& group, const std::vector<std::string>& topics = {});
    /// Deletes the records before each offset (offsets::end: all); returns the new low watermarks.
    std::vector<TopicPartitionOffset> delete_records(const std::vector<TopicPartitionOffset>& before);
    ClusterDescription describe_cluster();
    void create_acls(const std::vector<AclBinding>& acls);
    std::vector<AclBinding> describe_acls(const AclBindingFilter& filter);
    /// Deletes the ACLs the filters match and returns them.
    std::vector<AclBinding> delete_acls(const std::vector<AclBindingFilter>& filters);
    /// The SCRAM credentials of `users` (none given: every user), one entry per user and mechanism.
    std::vector<ScramCredential> describe_user_scram_credentials(const std::vector<std::string>& users = {});
    /// Sets a user's SCRAM password, salted and iterated here (4096..16384 iterations): the password
    /// never reaches the broker.
    void upsert_user_scram_credential(const std::string& user, ScramMechanism mechanism, const std::string& password,
                                      std::uint32_t iterations = 8192);
    void delete_user_scram_credential(const std::string& user, ScramMechanism mechanism);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The odradek library version.
std::string version();

/// Log severity, most severe first (the core's levels, numbered as in the C ABI).
enum class LogLevel : std::uint8_t {
    Error = 1,  ///< something failed
    Warn = 2,   ///< needs attention (a broker unreachable, a commit failed)
    Info = 3,   ///< lifecycle: connections, group membership
    Debug = 4,  ///< protocol decisions, retries
    Trace = 5,  ///< every request
};

/// Receives one log record: `target` is the library module that logged it ("odradek::net"),
/// `message` the text with its fields as " key=value".
using LogHandler = std::function<void(LogLevel level, const std::string& target, const std::string& message)>;

/// Sends the library's log records at `level` and more severe to `handler`, replacing the
/// handler set before; an empty handler stops forwarding. Process wide. The handler runs on the
/// library's log thread (one per process, never a client's I/O thread), one record at a time; a
/// slow handler makes the library drop records (the next record says how many), never slows a
/// client, and what it throws is written to stderr. Throws KafkaError(_INVALID_ARG) when Rust
/// code in the process installed its own `tracing` subscriber.
void set_log_handler(LogLevel level, LogHandler handler);

namespace testing {
/// A Kafka-compatible broker inside this process, for tests: 127.0.0.1 on an ephemeral port,
/// a temporary data directory removed on stop. No JVM, no Docker.
class Broker {
public:
    /// `properties`: Kafka broker properties ("num.partitions", ...).
    explicit Broker(const Config& properties = {});
    explicit Broker(std::initializer_list<Config::value_type> properties) : Broker(Config(properties)) {}
    ~Broker();
    Broker(Broker&&) noexcept;
    Broker& operator=(Broker&&) noexcept;
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    /// A broker whose one listener is SASL_SSL: TLS with a certificate for 127.0.0.1 /
    /// localhost signed by a CA made now (ca_pem()), SCRAM-SHA-256 and SCRAM-SHA-512 with this
    /// user. `properties` are added ("sasl.enabled.mechanisms" with OAUTHBEARER also accepts
    /// unsecured JWTs). client_config() has what a client needs.
    static Broker sasl_ssl(const std::string& username, const std::string& password,
                           const Config& properties = {});

    /// "127.0.0.1:PORT", for "bootstrap.servers".
    const std::string& bootstrap_servers() const noexcept { return bootstrap_; }
    /// The CA certificate (PEM) a client must trust ("ssl.ca.pem"); empty for a plaintext broker.
    const std::string& ca_pem() const noexcept { return ca_pem_; }
    /// "bootstrap.servers" and, for a SASL_SSL broker, "security.protocol", "sasl.mechanism"
    /// (SCRAM-SHA-512), the user and password and "ssl.ca.pem".
    Config client_config() const;
    /// Stops the broker and removes its data. Idempotent.
    void stop();

private:
    Broker(const std::string& username, const std::string& password, const Config& properties);
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string bootstrap_;
    std::string ca_pem_;
    std::string username_;
    std::string password_;
};

/// An N-node cluster inside this process (nodes 1..N on 127.0.0.1, each a controller of the
/// metadata quorum and a broker), for tests of fail-over handling: kill(), restart(),
/// isolate() and heal() a node by id, leader() to find whom to hit. A node that stops
/// heartbeating is fenced after 2 s and its leaderships move (broker.session.timeout.ms=2000,
/// broker.heartbeat.interval.ms=200, replica.lag.time.max.ms=2000; `properties` override
/// them); default.replication.factor is min(nodes, 3). Not thread-safe: one thread at a time.
///
///     odradek::testing::Cluster cluster(3);
///     odradek::Producer producer({{"bootstrap.servers", cluster.bootstrap_servers()}, {"acks", "all"}});
///     cluster.kill(*cluster.leader("orders", 0));  // the producer fails over by itself
class Cluster {
public:
    /// Starts `nodes` nodes; returns once every node is registered. Throws KafkaError.
    explicit Cluster(int nodes = 3, const Config& properties = {});
    ~Cluster();
    Cluster(Cluster&&) noexcept;
    Cluster& operator=(Cluster&&) noexcept;
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    /// "host:port,..." of every running node; a restarted node keeps its port when it is free.
    std::string bootstrap_servers() const;
    /// {"bootstrap.servers": bootstrap_servers()}.
    Config client_config() const;
    /// Every node id, running or not.
    std::vector<int> node_ids() const;
    /// Stops the node abruptly (no flush; its connections drop); its data stays.
    void kill(int node_id);
    /// Starts the node again on its data and port (a running node is killed first); returns
    /// once it is registered again.
    void restart(int node_id);
    /// Cuts the node off the network: it runs on, its connections close, and no client, peer or
    /// controller traffic reaches it or leaves it until heal().
    void isolate(int node_id);
    /// Reconnects an isolated node.
    void heal(int node_id);
    /// The partition's leader in the newest metadata a connected node has; empty when none.
    std::optional<int> leader(const std::string& topic, int partition) const;
    /// Kills every node and removes the data. Idempotent.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};
}  // namespace testing

}  // namespace odradek

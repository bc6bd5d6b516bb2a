// The C++ wrapper over the Rust bridge (src/lib.rs): RAII classes, KafkaError, futures.
// Licensed under the Apache License, Version 2.0.
#include "odradek/odradek.hpp"

#include <cstdio>
#include <exception>

#include "odradek-cpp/src/bridge.h"
#include "odradek-cpp/src/lib.rs.h"
#include "odradek-cpp/src/admin.rs.h"
#include "odradek-cpp/src/observability.rs.h"

namespace odradek {

KafkaError::KafkaError(std::string name, int code, ErrorClass error_class, const std::string& message,
                       std::string topic, int partition, std::string broker)
    : std::runtime_error(message),
      name_(std::move(name)),
      code_(code),
      class_(error_class),
      topic_(std::move(topic)),
      partition_(partition),
      broker_(std::move(broker)) {}

namespace {

constexpr char kSep = '\x1f';

// Parses "ODRADEK<US>" and the core's Error::to_fields: name, code, retriable, class, topic,
// partition, broker, message (lib.rs encode_error).
KafkaError decode_error(std::string_view s) {
    constexpr std::size_t kFields = 8;  // ODRADEK and the seven fields before the message
    std::vector<std::string_view> f;
    std::size_t at = 0;
    while (f.size() < kFields) {
        std::size_t next = s.find(kSep, at);
        if (next == std::string_view::npos) break;
        f.push_back(s.substr(at, next - at));
        at = next + 1;
    }
    if (f.size() != kFields || f[0] != "ODRADEK") {
        return KafkaError("_FAIL", -196, ErrorClass::Permanent, std::string(s));
    }
    auto number = [](std::string_view v, int otherwise) {
        try {
            return v.empty() ? otherwise : std::stoi(std::string(v));
        } catch (...) {
            return otherwise;
        }
    };
    ErrorClass c = ErrorClass::Fatal;
    if (f[4] == "retriable") c = ErrorClass::Retriable;
    else if (f[4] == "permanent") c = ErrorClass::Permanent;
    else if (f[4] == "abortable") c = ErrorClass::Abortable;
    return KafkaError(std::string(f[1]), number(f[2], -196), c, std::string(s.substr(at)),
                      std::string(f[5]), number(f[6], -1), std::string(f[7]));
}

// Runs a bridge call, turning its rust::Error (and cxx's own argument errors) into KafkaError.
template <typename F>
auto call(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const rust::Error& e) {
        throw decode_error(e.what());
    } catch (const std::invalid_argument& e) {
        // rust::String refuses strings that are not UTF-8.
        throw KafkaError("_INVALID_ARG", -186, ErrorClass::Permanent, e.what());
    }
}

std::vector<ffi::Property> properties(const Config& config) {
    std::vector<ffi::Property> out;
    out.reserve(config.size());
    for (const auto& [k, v] : config) {
        out.push_back(ffi::Property{rust::String(k), rust::String(v)});
    }
    return out;
}

template <typename T>
rust::Slice<const T> as_slice(const std::vector<T>& v) {
    return {v.data(), v.size()};
}

rust::Slice<const std::uint8_t> slice(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

rust::Slice<const std::uint8_t> slice(const Bytes& b) {
    static const std::uint8_t empty = 0;
    // A null or empty view may have a null data pointer, which a Rust slice must not have.
    if (b.data() == nullptr) return {&empty, 0};
    return {b.data(), b.size()};
}

std::string_view view(rust::Slice<const std::uint8_t> s) {
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

std::int64_t millis(std::chrono::milliseconds t) {
    return static_cast<std::int64_t>(t.count());
}

// The bridge's token sink for a provider; null (no provider) for an empty std::function.
std::unique_ptr<ffi::TokenSink> token_sink(TokenProvider provider) {
    if (!provider) return nullptr;
    auto sink = std::make_unique<ffi::TokenSink>();
    sink->provider = std::move(provider);
    return sink;
}

}  // namespace

// ------------------------------------------------------------------------------ bridge sinks

namespace ffi {

void deliver_ok(std::unique_ptr<DeliverySink> sink, const Report& r) noexcept {
    DeliveryReport report{r.partition, r.offset, r.timestamp};
    try {
        if (sink->callback) {
            sink->callback(report, nullptr);
        } else {
            sink->promise->set_value(report);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "odradek: a delivery callback threw: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "odradek: a delivery callback threw\n");
    }
}

void deliver_err(std::unique_ptr<DeliverySink> sink, rust::Str error) noexcept {
    try {
        KafkaError err = decode_error(std::string_view(error.data(), error.size()));
        if (sink->callback) {
            sink->callback(DeliveryReport{}, &err);
        } else {
            sink->promise->set_exception(std::make_exception_ptr(err));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "odradek: a delivery callback threw: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "odradek: a delivery callback threw\n");
    }
}

void rebalance_event(const RebalanceSink& sink, std::uint8_t kind,
                     rust::Slice<const PartitionOffset> partitions) noexcept {
    try {
        std::vector<TopicPartition> parts;
        parts.reserve(partitions.size());
        for (const auto& p : partitions) parts.push_back({std::string(p.topic), p.partition});
        std::lock_guard<std::mutex> guard(sink.lock);
        const auto& cb = kind == 0 ? sink.callbacks.on_assigned
                         : kind == 1 ? sink.callbacks.on_revoked
                                     : sink.callbacks.on_lost;
        if (cb) cb(parts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "odradek: a rebalance callback threw: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "odradek: a rebalance callback threw\n");
    }
}

OAuthToken provide_token(const TokenSink& sink, rust::Str oauthbearer_config) {
    std::lock_guard<std::mutex> guard(sink.lock);
    OAuthBearerToken t = sink.provider(std::string(oauthbearer_config));
    OAuthToken out;
    out.value = rust::String(t.value);
    out.expires_at_ms = static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.expiry.time_since_epoch()).count());
    out.principal = rust::String(t.principal);
    for (const auto& [k, v] : t.extensions) {
        out.extension_keys.push_back(rust::String(k));
        out.extension_values.push_back(rust::String(v));
    }
    return out;
}

namespace {
// The user's log handler: set by set_log_handler, called by the core's log thread.
std::mutex log_lock;
LogHandler log_handler;
}  // namespace

void log_record(std::uint8_t level, rust::Str target, rust::Str message) noexcept {
    try {
        std::lock_guard<std::mutex> guard(log_lock);
        if (log_handler) log_handler(static_cast<LogLevel>(level), std::string(target), std::string(message));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "odradek: the log handler threw: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "odradek: the log handler threw\n");
    }
}

}  // namespace ffi

void set_log_handler(LogLevel level, LogHandler handler) {
    bool forward = static_cast<bool>(handler);
    {
        std::lock_guard<std::mutex> guard(ffi::log_lock);
        ffi::log_handler = std::move(handler);
    }
    call([&] { ffi::set_log_forwarding(forward ? static_cast<std::uint8_t>(level) : 0); });
}

// ---------------------------------------------------------------------------------- producer

struct Producer::Impl {
    rust::Box<ffi::ProducerBox> box;
    bool closed = false;
    // The core may hold the error callback past the box (a queued error): clear it here too.
    ~Impl() {
        try {
            ffi::producer_set_error_sink(*box, nullptr);
        } catch (...) {
        }
    }
};

Producer::Producer(const Config& config) : Producer(config, TokenProvider()) {}

Producer::Producer(const Config& config, TokenProvider token_provider)
    : impl_(new Impl{call([&] {
          auto p = properties(config);
          return ffi::producer_new(as_slice(p), token_sink(std::move(token_provider)));
      })}) {}

Producer::~Producer() {
    if (!impl_ || impl_->closed) return;
    try {
        close(std::chrono::seconds(30));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "odradek: closing a producer: %s\n", e.what());
    }
}

Producer::Producer(Producer&&) noexcept = default;
Producer& Producer::operator=(Producer&& other) noexcept {
    if (this != &other) {
        Producer old(std::move(*this));
        impl_ = std::move(other.impl_);
    }
    return *this;
}

namespace {

void send_to(ffi::ProducerBox& box, const ProducerRecord& record,
             std::unique_ptr<ffi::DeliverySink> sink) {
    std::string header_buf;
    std::vector<std::int64_t> header_lens;
    header_lens.reserve(record.headers().size() * 2);
    for (const auto& [name, value] : record.headers()) {
        header_buf.append(name);
        header_lens.push_back(static_cast<std::int64_t>(name.size()));
        if (value.is_null()) {
            header_lens.push_back(-1);
        } else {
            header_buf.append(value.view());
            header_lens.push_back(static_cast<std::int64_t>(value.size()));
        }
    }
    call([&] {
        box.send(slice(record.topic()), record.partition().value_or(-1), slice(record.key()),
                 record.key().is_null(), slice(record.value()), record.value().is_null(),
                 record.timestamp().value_or(-1), slice(std::string_view(header_buf)),
                 rust::Slice<const std::int64_t>(header_lens.data(), header_lens.size()),
                 std::move(sink));
    });
}

}  // namespace

std::future<DeliveryReport> Producer::send(const ProducerRecord& record) {
    if (!impl_) throw KafkaError("_DESTROY", -197, ErrorClass::Fatal, "the producer was moved from");
    auto sink = std::make_unique<ffi::DeliverySink>();
    sink->promise.emplace();
    std::future<DeliveryReport> result = sink->promise->get_future();
    send_to(*impl_->box, record, std::move(sink));
    return result;
}

void Producer::send(const ProducerRecord& record, DeliveryCallback callback) {
    if (!impl_) throw KafkaError("_DESTROY", -197, ErrorClass::Fatal, "the producer was moved from");
    auto sink = std::make_unique<ffi::DeliverySink>();
    sink->callback = std::move(callback);
    send_to(*impl_->box, record, std::move(sink));
}

void Producer::flush(std::chrono::milliseconds timeout) {
    if (!impl_) return;
    call([&] { impl_->box->flush(millis(timeout)); });
}

std::vector<std::future<DeliveryReport>> Producer::send_batch(const std::vector<ProducerRecord>& records) {
    std::vector<std::future<DeliveryReport>> out;
    out.reserve(records.size());
    for (const auto& r : records) out.push_back(send(r));
    return out;
}

void Producer::close(std::chrono::milliseconds timeout) {
    if (!impl_ || impl_->closed) return;
    impl_->closed = true;
    call([&] { ffi::producer_set_error_sink(*impl_->box, nullptr); });
    call([&] { impl_->box->close(millis(timeout)); });
}

// ---------------------------------------------------------------------------------- consumer

namespace {
struct BatchDeleter {
    void operator()(const ffi::RecordBatchBox* b) const noexcept {
        if (b) (void)rust::Box<ffi::RecordBatchBox>::from_raw(const_cast<ffi::RecordBatchBox*>(b));
    }
};
}  // namespace

std::string_view Message::topic() const {
    rust::Str t = batch_->topic(index_);
    return {t.data(), t.size()};
}
std::int32_t Message::partition() const { return batch_->partition(index_); }
std::int64_t Message::offset() const { return batch_->offset(index_); }
std::int64_t Message::timestamp() const { return batch_->timestamp(index_); }
std::optional<std::string_view> Message::key() const {
    if (batch_->key_is_null(index_)) return std::nullopt;
    return view(batch_->key(index_));
}
std::optional<std::string_view> Message::value() const {
    if (batch_->value_is_null(index_)) return std::nullopt;
    return view(batch_->value(index_));
}
std::size_t Message::header_count() const { return batch_->header_count(index_); }
HeaderView Message::header(std::size_t h) const {
    HeaderView out{view(batch_->header_key(index_, h)), std::nullopt};
    if (!batch_->header_value_is_null(index_, h)) out.value = view(batch_->header_value(index_, h));
    return out;
}
std::optional<std::int16_t> Message::delivery_count() const {
    std::int16_t n = batch_->delivery_count(index_);
    if (n < 0) return std::nullopt;
    return n;
}
std::vector<HeaderView> Message::headers() const {
    std::vector<HeaderView> out;
    std::size_t n = header_count();
    out.reserve(n);
    for (std::size_t h = 0; h < n; ++h) out.push_back(header(h));
    return out;
}

struct Consumer::Impl {
    rust::Box<ffi::ConsumerBox> box;
    bool closed = false;
    // The core may hold the error callback past the box (a queued error): clear it here too.
    ~Impl() {
        try {
            ffi::consumer_set_error_sink(*box, nullptr);
        } catch (...) {
        }
    }
};

Consumer::Consumer(const Config& config) : Consumer(config, TokenProvider()) {}

Consumer::Consumer(const Config& config, TokenProvider token_provider)
    : impl_(new Impl{call([&] {
          auto p = properties(config);
          return ffi::consumer_new(as_slice(p), token_sink(std::move(token_provider)));
      })}) {}

Consumer::~Consumer() {
    if (!impl_ || impl_->closed) return;
    try {
        close();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "odradek: closing a consumer: %s\n", e.what());
    }
}

Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&& other) noexcept {
    if (this != &other) {
        Consumer old(std::move(*this));
        impl_ = std::move(other.impl_);
    }
    return *this;
}

namespace {
void need(const void* impl) {
    if (!impl) throw KafkaError("_DESTROY", -197, ErrorClass::Fatal, "the client was moved from");
}
std::vector<ffi::PartitionOffset> partition_offsets(const std::vector<TopicPartitionOffset>& in) {
    std::vector<ffi::PartitionOffset> out;
    out.reserve(in.size());
    for (const auto& p : in) out.push_back({rust::String(p.topic), p.partition, p.offset});
    return out;
}
}  // namespace

void Consumer::subscribe(const std::vector<std::string>& topics) {
    need(impl_.get());
    call([&] {
        std::vector<rust::String> t;
        t.reserve(topics.size());
        for (const auto& s : topics) t.emplace_back(s);
        impl_->box->subscribe(rust::Slice<const rust::String>(t.data(), t.size()));
    });
}

void Consumer::assign(const std::vector<TopicPartitionOffset>& partitions) {
    need(impl_.get());
    call([&] {
        auto v = partition_offsets(partitions);
        impl_->box->assign(rust::Slice<const ffi::PartitionOffset>(v.data(), v.size()));
    });
}

void Consumer::unassign() {
    need(impl_.get());
    call([&] { impl_->box->unassign(); });
}

std::vector<TopicPartitionOffset> Consumer::assignment() const {
    need(impl_.get());
    return call([&] {
        std::vector<TopicPartitionOffset> out;
        for (const auto& p : impl_->box->assignment()) {
            out.push_back({std::string(p.topic), p.partition, p.offset});
        }
        return out;
    });
}

std::vector<Message> Consumer::poll_batch(std::size_t max, std::chrono::milliseconds timeout) {
    need(impl_.get());
    return call([&] {
        rust::Box<ffi::RecordBatchBox> box = impl_->box->poll_batch(max, millis(timeout));
        std::shared_ptr<const ffi::RecordBatchBox> batch(box.into_raw(), BatchDeleter{});
        std::vector<Message> out;
        std::size_t n = batch->len();
        out.reserve(n);
        for (std::size_t i = 0; i < n; ++i) out.push_back(Message(batch, i));
        return out;
    });
}

std::optional<Message> Consumer::poll(std::chrono::milliseconds timeout) {
    std::vector<Message> one = poll_batch(1, timeout);
    if (one.empty()) return std::nullopt;
    return std::move(one.front());
}

void Consumer::seek(std::string_view topic, std::int32_t partition, std::int64_t offset) {
    need(impl_.get());
    call([&] { impl_->box->seek(slice(topic), partition, offset); });
}

std::optional<std::int64_t> Consumer::position(std::string_view topic, std::int32_t partition) const {
    need(impl_.get());
    std::int64_t p = call([&] { return impl_->box->position(slice(topic), partition); });
    if (p < 0) return std::nullopt;
    return p;
}

namespace {
std::vector<ffi::PartitionOffset> to_ffi(const std::vector<TopicPartition>& partitions) {
    std::vector<ffi::PartitionOffset> v;
    v.reserve(partitions.size());
    for (const auto& p : partitions) v.push_back({rust::String(p.topic), p.partition, -1});
    return v;
}
}  // namespace

void Consumer::pause(const std::vector<TopicPartition>& partitions) {
    need(impl_.get());
    call([&] {
        auto v = to_ffi(partitions);
        impl_->box->pause(rust::Slice<const ffi::PartitionOffset>(v.data(), v.size()));
    });
}

void Consumer::resume(const std::vector<TopicPartition>& partitions) {
    need(impl_.get());
    call([&] {
        auto v = to_ffi(partitions);
        impl_->box->resume(rust::Slice<const ffi::PartitionOffset>(v.data(), v.size()));
    });
}

std::pair<std::int64_t, std::int64_t> Consumer::watermarks(std::string_view topic, std::int32_t partition) const {
    need(impl_.get());
    return call([&] {
        rust::Vec<std::int64_t> lh = impl_->box->watermarks(slice(topic), partition);
        return std::make_pair(lh[0], lh[1]);
    });
}

ConsumerGroupMetadata Consumer::group_metadata() const {
    need(impl_.get());
    return call([&] {
        ffi::GroupMetadata m = impl_->box->group_metadata();
        ConsumerGroupMetadata out;
        out.group_id = std::string(m.group_id);
        out.generation_id = m.generation_id;
        out.member_id = std::string(m.member_id);
        if (!m.group_instance_id.empty()) out.group_instance_id = std::string(m.group_instance_id);
        return out;
    });
}

void Producer::init_transactions(std::chrono::milliseconds timeout) {
    need(impl_.get());
    call([&] { impl_->box->init_transactions(millis(timeout)); });
}

void Producer::begin_transaction() {
    need(impl_.get());
    call([&] { impl_->box->begin_transaction(); });
}

void Producer::send_offsets_to_transaction(const std::vector<TopicPartitionOffset>& offsets,
                                           const ConsumerGroupMetadata& group,
                                           std::chrono::milliseconds timeout) {
    need(impl_.get());
    call([&] {
        auto v = partition_offsets(offsets);
        ffi::GroupMetadata m{rust::String(group.group_id), group.generation_id, rust::String(group.member_id),
                             rust::String(group.group_instance_id.value_or(""))};
        impl_->box->send_offsets_to_transaction(rust::Slice<const ffi::PartitionOffset>(v.data(), v.size()), m,
                                                millis(timeout));
    });
}

void Producer::commit_transaction(std::chrono::milliseconds timeout) {
    need(impl_.get());
    call([&] { impl_->box->commit_transaction(millis(timeout)); });
}

void Producer::abort_transaction(std::chrono::milliseconds timeout) {
    need(impl_.get());
    call([&] { impl_->box->abort_transaction(millis(timeout)); });
}

void Consumer::commit() {
    need(impl_.get());
    call([&] { impl_->box->commit(); });
}

void Consumer::commit(const std::vector<TopicPartitionOffset>& offsets) {
    need(impl_.get());
    call([&] {
        auto v = partition_offsets(offsets);
        impl_->box->commit_offsets(rust::Slice<const ffi::PartitionOffset>(v.data(), v.size()));
    });
}

std::vector<std::optional<std::int64_t>> Consumer::committed(const std::vector<TopicPartition>& partitions) {
    need(impl_.get());
    return call([&] {
        auto v = to_ffi(partitions);
        rust::Vec<std::int64_t> got =
            impl_->box->committed(rust::Slice<const ffi::PartitionOffset>(v.data(), v.size()));
        std::vector<std::optional<std::int64_t>> out;
        for (std::int64_t o : got) out.push_back(o < 0 ? std::nullopt : std::optional<std::int64_t>(o));
        return out;
    });
}

void Consumer::set_rebalance_callbacks(RebalanceCallbacks callbacks) {
    need(impl_.get());
    auto sink = std::make_unique<ffi::RebalanceSink>();
    sink->callbacks = std::move(callbacks);
    call([&] { impl_->box->set_rebalance_sink(std::move(sink)); });
}

void Consumer::close() {
    if (!impl_ || impl_->closed) return;
    impl_->closed = true;
    call([&] { ffi::consumer_set_error_sink(*impl_->box, nullptr); });
    call([&] { impl_->box->close(); });
}

// ---------------------------------------------------------------------- errors and statistics

namespace ffi {

void error_event(const ErrorSink& sink, rust::Str error) noexcept {
    try {
        if (sink.callback) sink.callback(decode_error(std::string_view(error.data(), error.size())));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "odradek: the error callback threw: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "odradek: the error callback threw\n");
    }
}

}  // namespace ffi

namespace {

// The bridge's error sink for a callback; null (none) for an empty std::function.
std::unique_ptr<ffi::ErrorSink> error_sink(ErrorCallback callback) {
    if (!callback) return nullptr;
    auto sink = std::make_unique<ffi::ErrorSink>();
    sink->callback = std::move(callback);
    return sink;
}

std::vector<BrokerStats> broker_stats(const rust::Vec<ffi::BrokerStatsRow>& rows) {
    std::vector<BrokerStats> out;
    out.reserve(rows.size());
    for (const auto& b : rows) {
        out.push_back(BrokerStats{std::string(b.address), std::string(b.state), b.connects, b.connect_failures,
                                  b.disconnects, b.requests, b.request_latency_avg_us, b.request_latency_max_us,
                                  b.in_flight});
    }
    return out;
}

}  // namespace

void Producer::set_error_callback(ErrorCallback callback) {
    if (!impl_) throw KafkaError("_DESTROY", -197, ErrorClass::Fatal, "the producer was moved from");
    call([&] { ffi::producer_set_error_sink(*impl_->box, error_sink(std::move(callback))); });
}

ProducerMetrics Producer::metrics() const {
    if (!impl_) throw KafkaError("_DESTROY", -197, ErrorClass::Fatal, "the producer was moved from");
    ffi::ProducerStats m = call([&] { return ffi::producer_metrics(*impl_->box); });
    return ProducerMetrics{m.records_delivered, m.records_failed, m.bytes_delivered, m.requests, m.retries,
                           m.request_latency_avg_us, m.request_latency_max_us, m.queue_records, m.queue_bytes,
                           broker_stats(m.brokers)};
}

void Consumer::set_error_callback(ErrorCallback callback) {
    need(impl_.get());
    call([&] { ffi::consumer_set_error_sink(*impl_->box, error_sink(std::move(callback))); });
}

ConsumerMetrics Consumer::metrics() const {
    need(impl_.get());
    ffi::ConsumerStats m = call([&] { return ffi::consumer_metrics(*impl_->box); });
    ConsumerMetrics out{m.records_consumed, m.bytes_consumed, m.fetch_requests, m.fetch_latency_avg_us,
                        m.fetch_latency_max_us, m.buffered_bytes, {}, broker_stats(m.brokers)};
    for (const auto& p : m.partitions) {
        out.partitions.push_back(PartitionStats{std::string(p.topic), p.partition, p.position, p.high_watermark, p.lag,
                                                p.paused});
    }
    return out;
}

// ---------------------------------------------------------------------------- share consumer

struct ShareConsumer::Impl {
    rust::Box<ffi::ShareConsumerBox> box;
    bool closed = false;
};

ShareConsumer::ShareConsumer(const Config& config) : ShareConsumer(config, TokenProvider()) {}

ShareConsumer::ShareConsumer(const Config& config, TokenProvider token_provider)
    : impl_(new Impl{call([&] {
          auto p = properties(config);
          return ffi::share_consumer_new(as_slice(p), token_sink(std::move(token_provider)));
      })}) {}

ShareConsumer::~ShareConsumer() {
    if (!impl_ || impl_->closed) return;
    try {
        close();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "odradek: closing a share consumer: %s\n", e.what());
    }
}

ShareConsumer::ShareConsumer(ShareConsumer&&) noexcept = default;
ShareConsumer& ShareConsumer::operator=(ShareConsumer&& other) noexcept {
    if (this != &other) {
        ShareConsumer old(std::move(*this));
        impl_ = std::move(other.impl_);
    }
    return *this;
}

void ShareConsumer::subscribe(const std::vector<std::string>& topics) {
    need(impl_.get());
    call([&] {
        std::vector<rust::String> t(topics.begin(), topics.end());
        impl_->box->subscribe(rust::Slice<const rust::String>(t.data(), t.size()));
    });
}

std::vector<TopicPartition> ShareConsumer::assignment() const {
    need(impl_.get());
    return call([&] {
        std::vector<TopicPartition> out;
        for (const auto& p : impl_->box->assignment()) out.push_back({std::string(p.topic), p.partition});
        return out;
    });
}

std::vector<Message> ShareConsumer::poll(std::chrono::milliseconds timeout) {
    need(impl_.get());
    return call([&] {
        std::shared_ptr<const ffi::RecordBatchBox> batch(impl_->box->poll(millis(timeout)).into_raw(),
                                                         BatchDeleter{});
        std::vector<Message> out;
        for (std::size_t i = 0; i < batch->len(); ++i) out.push_back(Message(batch, i));
        return out;
    });
}

void ShareConsumer::acknowledge(const Message& message, AcknowledgeType type) {
    need(impl_.get());
    call([&] {
        impl_->box->acknowledge(slice(message.topic()), message.partition(), message.offset(),
                                static_cast<std::uint8_t>(type));
    });
}

void ShareConsumer::commit_sync() {
    need(impl_.get());
    call([&] { impl_->box->commit_sync(); });
}

void ShareConsumer::commit_async() {
    need(impl_.get());
    call([&] { impl_->box->commit_async(); });
}

void ShareConsumer::close() {
    if (!impl_ || impl_->closed) return;
    impl_->closed = true;
    call([&] { impl_->box->close(); });
}

// ------------------------------------------------------------------------------------- admin

struct Admin::Impl {
    rust::Box<ffi::AdminBox> box;
};

Admin::Admin(const Config& config) : Admin(config, TokenProvider()) {}

Admin::Admin(const Config& config, TokenProvider token_provider)
    : impl_(new Impl{call([&] {
          auto p = properties(config);
          return ffi::admin_new(as_slice(p), token_sink(std::move(token_provider)));
      })}) {}
Admin::~Admin() = default;
Admin::Admin(Admin&&) noexcept = default;
Admin& Admin::operator=(Admin&&) noexcept = default;

void Admin::create_topic(std::string_view name, std::int32_t partitions, const Config& topic_config,
                         std::int16_t replication_factor) {
    need(impl_.get());
    call([&] {
        auto props = properties(topic_config);
        impl_->box->create_topic(slice(name), partitions, replication_factor,
                                 rust::Slice<const ffi::Property>(props.data(), props.size()));
    });
}

void Admin::delete_topic(std::string_view name) {
    need(impl_.get());
    call([&] { impl_->box->delete_topic(slice(name)); });
}

void Admin::create_partitions(std::string_view topic, std::int32_t total) {
    need(impl_.get());
    call([&] { impl_->box->create_partitions(slice(topic), total); });
}

std::vector<TopicInfo> Admin::list_topics() {
    need(impl_.get());
    return call([&] {
        std::vector<TopicInfo> out;
        for (const auto& t : impl_->box->list_topics()) out.push_back({std::string(t.name), t.partitions});
        return out;
    });
}

// ----------------------------------------------- admin: configs, groups, records, cluster, ACLs

namespace {
std::vector<rust::String> rust_strings(const std::vector<std::string>& in) {
    std::vector<rust::String> out;
    out.reserve(in.size());
    for (const auto& s : in) out.emplace_back(s);
    return out;
}

std::optional<std::string> optional_of(bool present, const rust::String& s) {
    if (!present) return std::nullopt;
    return std::string(s);
}

std::vector<TopicPartitionOffset> partition_offsets_of(const rust::Vec<ffi::PartitionOffset>& in) {
    std::vector<TopicPartitionOffset> out;
    out.reserve(in.size());
    for (const auto& p : in) out.push_back({std::string(p.topic), p.partition, p.offset});
    return out;
}

ffi::AclRow acl_row(const AclBinding& a) {
    return ffi::AclRow{static_cast<std::int8_t>(a.resource_type), rust::String(a.resource_name),
                       static_cast<std::int8_t>(a.pattern_type),  rust::String(a.principal),
                       rust::String(a.host),                      static_cast<std::int8_t>(a.operation),
                       static_cast<std::int8_t>(a.permission)};
}

std::vector<AclBinding> acls_of(const rust::Vec<ffi::AclRow>& rows) {
    std::vector<AclBinding> out;
    for (const auto& r : rows) {
        out.push_back({static_cast<ResourceType>(r.resource_type), std::string(r.resource_name),
                       static_cast<AclPatternType>(r.pattern_type), std::string(r.principal), std::string(r.host),
                       static_cast<AclOperation>(r.operation), static_cast<AclPermission>(r.permission)});
    }
    return out;
}
}  // namespace

std::vector<ConfigEntry> Admin::describe_configs(const ConfigResource& resource, const std::vector<std::string>& keys) {
    need(impl_.get());
    return call([&] {
        auto k = rust_strings(keys);
        std::vector<ConfigEntry> out;
        for (const auto& e : ffi::admin_describe_configs(*impl_->box, static_cast<std::int8_t>(resource.type),
                                                         resource.name, as_slice(k))) {
            out.push_back({std::string(e.name), optional_of(e.has_value, e.value), e.read_only, e.is_default,
                           e.is_sensitive});
        }
        return out;
    });
}

void Admin::alter_configs(const ConfigResource& resource, const std::vector<ConfigChange>& changes) {
    need(impl_.get());
    call([&] {
        std::vector<ffi::ConfigChange> c;
        for (const auto& ch : changes) c.push_back({rust::String(ch.name), rust::String(ch.value.value_or("")), !ch.value});
        ffi::admin_alter_configs(*impl_->box, static_cast<std::int8_t>(resource.type), resource.name, as_slice(c));
    });
}

std::vector<GroupListing> Admin::list_groups() {
    need(impl_.get());
    return call([&] {
        std::vector<GroupListing> out;
        for (const auto& g : ffi::admin_list_groups(*impl_->box)) {
            out.push_back({std::string(g.group_id), std::string(g.protocol_type), std::string(g.state),
                           std::string(g.group_type)});
        }
        return out;
    });
}

std::vector<GroupDescription> Admin::describe_groups(const std::vector<std::string>& groups) {
    need(impl_.get());
    return call([&] {
        auto names = rust_strings(groups);
        std::vector<GroupDescription> out;
        for (const auto& g : ffi::admin_describe_groups(*impl_->box, as_slice(names))) {
            GroupDescription d{std::string(g.group_id), std::string(g.group_type), std::string(g.state),
                               std::string(g.assignor), g.epoch, {}};
            for (const auto& m : g.members) {
                GroupMember member{std::string(m.member_id), optional_of(m.has_instance_id, m.instance_id),
                                   std::string(m.client_id), std::string(m.host), m.member_epoch, {}};
                for (const auto& p : m.assignment) member.assignment.push_back({std::string(p.topic), p.partition});
                d.members.push_back(std::move(member));
            }
            out.push_back(std::move(d));
        }
        return out;
    });
}

std::vector<TopicPartitionOffset> Admin::list_group_offsets(const std::string& group) {
    need(impl_.get());
    return call([&] { return partition_offsets_of(ffi::admin_list_group_offsets(*impl_->box, group)); });
}

void Admin::alter_group_offsets(const std::string& group, const std::vector<TopicPartitionOffset>& offsets) {
    need(impl_.get());
    call([&] {
        auto v = partition_offsets(offsets);
        ffi::admin_alter_group_offsets(*impl_->box, group, as_slice(v));
    });
}

void Admin::delete_group_offsets(const std::string& group, const std::vector<TopicPartition>& partitions) {
    need(impl_.get());
    call([&] {
        auto v = to_ffi(partitions);
        ffi::admin_delete_group_offsets(*impl_->box, group, as_slice(v));
    });
}

void Admin::delete_groups(const std::vector<std::string>& groups) {
    need(impl_.get());
    call([&] {
        auto names = rust_strings(groups);
        ffi::admin_delete_groups(*impl_->box, as_slice(names));
    });
}

std::vector<PartitionLag> Admin::group_lag(const std::string& group, const std::vector<std::string>& topics) {
    need(impl_.get());
    return call([&] {
        auto t = rust_strings(topics);
        std::vector<PartitionLag> out;
        for (const auto& l : ffi::admin_group_lag(*impl_->box, group, as_slice(t))) {
            std::optional<std::int64_t> committed;
            if (l.committed != offsets::invalid) committed = l.committed;
            out.push_back({std::string(l.topic), l.partition, committed, l.log_end, l.lag});
        }
        return out;
    });
}

std::vector<TopicPartitionOffset> Admin::delete_records(const std::vector<TopicPartitionOffset>& before) {
    need(impl_.get());
    return call([&] {
        auto v = partition_offsets(before);
        return partition_offsets_of(ffi::admin_delete_records(*impl_->box, as_slice(v)));
    });
}

ClusterDescription Admin::describe_cluster() {
    need(impl_.get());
    return call([&] {
        auto c = ffi::admin_describe_cluster(*impl_->box);
        ClusterDescription out{std::string(c.cluster_id), c.controller_id, {}};
        for (const auto& b : c.brokers) {
            out.brokers.push_back({b.id, std::string(b.host), b.port, optional_of(b.has_rack, b.rack)});
        }
        return out;
    });
}

void Admin::create_acls(const std::vector<AclBinding>& acls) {
    need(impl_.get());
    call([&] {
        std::vector<ffi::AclRow> rows;
        for (const auto& a : acls) rows.push_back(acl_row(a));
        ffi::admin_create_acls(*impl_->box, as_slice(rows));
    });
}

std::vector<AclBinding> Admin::describe_acls(const AclBindingFilter& filter) {
    need(impl_.get());
    return call([&] { return acls_of(ffi::admin_describe_acls(*impl_->box, acl_row(filter))); });
}

std::vector<AclBinding> Admin::delete_acls(const std::vector<AclBindingFilter>& filters) {
    need(impl_.get());
    return call([&] {
        std::vector<ffi::AclRow> rows;
        for (const auto& f : filters) rows.push_back(acl_row(f));
        return acls_of(ffi::admin_delete_acls(*impl_->box, as_slice(rows)));
    });
}

std::vector<ScramCredential> Admin::describe_user_scram_credentials(const std::vector<std::string>& users) {
    need(impl_.get());
    return call([&] {
        auto names = rust_strings(users);
        std::vector<ScramCredential> out;
        for (const auto& c : ffi::admin_describe_scram(*impl_->box, as_slice(names))) {
            out.push_back({std::string(c.user), static_cast<ScramMechanism>(c.mechanism), c.iterations});
        }
        return out;
    });
}

void Admin::upsert_user_scram_credential(const std::string& user, ScramMechanism mechanism, const std::string& password,
                                         std::uint32_t iterations) {
    need(impl_.get());
    call([&] {
        ffi::admin_upsert_scram(*impl_->box, user, static_cast<std::int8_t>(mechanism), password, iterations);
    });
}

void Admin::delete_user_scram_credential(const std::string& user, ScramMechanism mechanism) {
    need(impl_.get());
    call([&] { ffi::admin_delete_scram(*impl_->box, user, static_cast<std::int8_t>(mechanism)); });
}

void Consumer::offsets_for_times(std::vector<TopicPartitionOffset>& partitions) const {
    need(impl_.get());
    call([&] {
        auto v = partition_offsets(partitions);
        auto found = ffi::consumer_offsets_for_times(*impl_->box, as_slice(v));
        for (std::size_t i = 0; i < partitions.size() && i < found.size(); i++) partitions[i].offset = found[i].offset;
    });
}

std::string version() { return std::string(ffi::library_version()); }

// ---------------------------------------------------------------------------- testing::Broker

namespace testing {

struct Broker::Impl {
    rust::Box<ffi::BrokerBox> box;
};

Broker::Broker(const Config& properties_)
    : impl_(new Impl{call([&] { auto p = properties(properties_); return ffi::broker_start(as_slice(p)); })}),
      bootstrap_(std::string(impl_->box->bootstrap_servers())) {}

Broker::Broker(const std::string& username, const std::string& password, const Config& properties_)
    : impl_(new Impl{call([&] {
          auto p = properties(properties_);
          return ffi::broker_start_sasl_ssl(username, password, as_slice(p));
      })}),
      bootstrap_(std::string(impl_->box->bootstrap_servers())),
      ca_pem_(std::string(impl_->box->ca_pem())),
      username_(username),
      password_(password) {}

Broker Broker::sasl_ssl(const std::string& username, const std::string& password, const Config& properties) {
    return Broker(username, password, properties);
}

Config Broker::client_config() const {
    Config config{{"bootstrap.servers", bootstrap_}};
    if (!ca_pem_.empty()) {
        config["security.protocol"] = "SASL_SSL";
        config["sasl.mechanism"] = "SCRAM-SHA-512";
        config["sasl.username"] = username_;
        config["sasl.password"] = password_;
        config["ssl.ca.pem"] = ca_pem_;
    }
    return config;
}

Broker::~Broker() { stop(); }
Broker::Broker(Broker&&) noexcept = default;
Broker& Broker::operator=(Broker&& other) noexcept {
    if (this != &other) {
        stop();
        impl_ = std::move(other.impl_);
        bootstrap_ = std::move(other.bootstrap_);
        ca_pem_ = std::move(other.ca_pem_);
        username_ = std::move(other.username_);
        password_ = std::move(other.password_);
    }
    return *this;
}

void Broker::stop() {
    if (impl_) impl_->box->stop();
}

// --------------------------------------------------------------------------- testing::Cluster

struct Cluster::Impl {
    rust::Box<ffi::ClusterBox> box;
    // A cluster that was stopped (or moved from) refuses every call.
    static ffi::ClusterBox& live(const std::unique_ptr<Impl>& impl);
};

Cluster::Cluster(int nodes, const Config& properties_)
    : impl_(new Impl{call([&] {
          if (nodes < 0 || nodes > 65535) nodes = 0;  // the core refuses 0 with a clear error
          auto p = properties(properties_);
          return ffi::cluster_start(static_cast<uint16_t>(nodes), as_slice(p));
      })}) {}

Cluster::~Cluster() { stop(); }
Cluster::Cluster(Cluster&&) noexcept = default;
Cluster& Cluster::operator=(Cluster&& other) noexcept {
    if (this != &other) {
        stop();
        impl_ = std::move(other.impl_);
    }
    return *this;
}

ffi::ClusterBox& Cluster::Impl::live(const std::unique_ptr<Impl>& impl) {
    if (!impl) throw std::logic_error("odradek::testing::Cluster: the cluster was stopped");
    return *impl->box;
}

std::string Cluster::bootstrap_servers() const { return std::string(Impl::live(impl_).cluster_bootstrap()); }

Config Cluster::client_config() const { return Config{{"bootstrap.servers", bootstrap_servers()}}; }

std::vector<int> Cluster::node_ids() const {
    std::vector<int> out;
    for (auto id : Impl::live(impl_).cluster_node_ids()) out.push_back(static_cast<int>(id));
    return out;
}

void Cluster::kill(int node_id) { call([&] { Impl::live(impl_).cluster_kill(static_cast<uint64_t>(node_id)); }); }
void Cluster::restart(int node_id) { call([&] { Impl::live(impl_).cluster_restart(static_cast<uint64_t>(node_id)); }); }
void Cluster::isolate(int node_id) { call([&] { Impl::live(impl_).cluster_isolate(static_cast<uint64_t>(node_id)); }); }
void Cluster::heal(int node_id) { call([&] { Impl::live(impl_).cluster_heal(static_cast<uint64_t>(node_id)); }); }

std::optional<int> Cluster::leader(const std::string& topic, int partition) const {
    int64_t id = Impl::live(impl_).cluster_leader(topic, partition);
    if (id < 0) return std::nullopt;
    return static_cast<int>(id);
}

void Cluster::stop() {
    if (impl_) {
        impl_->box->cluster_stop();
        impl_.reset();
    }
}

}  // namespace testing

}  // namespace odradek

// C++ types the Rust half of the bridge calls into (see src/lib.rs). Internal to the library.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

#include "odradek/odradek.hpp"
#include "rust/cxx.h"

namespace odradek {
namespace ffi {

struct Report;
struct PartitionOffset;
struct OAuthToken;

/// Where one delivery result goes: a promise (send -> std::future) or a callback. The promise is
/// made only for the future form (it allocates its shared state).
struct DeliverySink {
    std::optional<std::promise<DeliveryReport>> promise;
    DeliveryCallback callback;
};

/// The user's rebalance callbacks.
struct RebalanceSink {
    mutable std::mutex lock;
    RebalanceCallbacks callbacks;
};

/// The user's OAUTHBEARER token provider; calls are serialized.
struct TokenSink {
    mutable std::mutex lock;
    TokenProvider provider;
};

/// The user's error callback; the core calls it from one thread, one error at a time.
struct ErrorSink {
    ErrorCallback callback;
};

void deliver_ok(std::unique_ptr<DeliverySink> sink, const Report& report) noexcept;
void deliver_err(std::unique_ptr<DeliverySink> sink, rust::Str error) noexcept;
void rebalance_event(const RebalanceSink& sink, std::uint8_t kind,
                     rust::Slice<const PartitionOffset> partitions) noexcept;
OAuthToken provide_token(const TokenSink& sink, rust::Str oauthbearer_config);
void log_record(std::uint8_t level, rust::Str target, rust::Str message) noexcept;
void error_event(const ErrorSink& sink, rust::Str error) noexcept;

}  // namespace ffi
}  // namespace odradek

// The error callback (failures no call returns), the statistics of metrics(), send_batch.
#include <odradek/odradek.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Keeps every error a callback receives; counts those after the client was closed.
struct ErrorLog {
    std::mutex lock;
    std::vector<odradek::KafkaError> seen;
    bool closed = false;
    int late = 0;

    odradek::ErrorCallback callback() {
        return [this](const odradek::KafkaError& e) {
            std::lock_guard<std::mutex> g(lock);
            if (closed) ++late;
            seen.push_back(e);
        };
    }

    // The first error named one of `names` within `timeout`.
    std::optional<odradek::KafkaError> wait_for(std::chrono::milliseconds timeout, const std::vector<std::string>& names) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (true) {
            {
                std::lock_guard<std::mutex> g(lock);
                for (const auto& e : seen) {
                    if (std::find(names.begin(), names.end(), e.name()) != names.end()) return e;
                }
            }
            if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
            std::this_thread::sleep_for(50ms);
        }
    }
};

std::vector<odradek::Message> consume(odradek::Consumer& c, std::size_t n) {
    std::vector<odradek::Message> out;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
        for (auto& m : c.poll_batch(n - out.size(), 200ms)) out.push_back(std::move(m));
    }
    return out;
}

}  // namespace

TEST(Observability, SendBatchAndMetricsCountRecordsAndShowLag) {
    odradek::testing::Broker broker;
    odradek::Config config{{"bootstrap.servers", broker.bootstrap_servers()}};
    odradek::Admin(config).create_topic("metrics", 1);
    odradek::Producer producer(config);
    std::vector<std::string> values;
    for (int i = 0; i < 20; ++i) values.push_back("value-" + std::to_string(i % 10));
    std::vector<odradek::ProducerRecord> records;
    for (const auto& v : values) records.push_back(odradek::ProducerRecord("metrics").value(v));
    auto futures = producer.send_batch(records);
    ASSERT_EQ(futures.size(), 20u);
    for (std::size_t i = 0; i < futures.size(); ++i) EXPECT_EQ(futures[i].get().offset, static_cast<std::int64_t>(i));
    odradek::ProducerMetrics sent = producer.metrics();
    EXPECT_EQ(sent.records_delivered, 20u);
    EXPECT_EQ(sent.records_failed, 0u);
    ASSERT_EQ(sent.brokers.size(), 1u);
    EXPECT_EQ(sent.brokers[0].address, broker.bootstrap_servers());
    EXPECT_EQ(sent.brokers[0].state, "up");
    EXPECT_GE(sent.brokers[0].requests, 1u);

    odradek::Consumer consumer(config);
    consumer.assign({{"metrics", 0, odradek::offsets::beginning}});
    ASSERT_EQ(consume(consumer, 15).size(), 15u);
    odradek::ConsumerMetrics read = consumer.metrics();
    EXPECT_EQ(read.records_consumed, 15u);
    EXPECT_EQ(read.bytes_consumed, 15u * std::string("value-0").size());
    EXPECT_GE(read.fetch_requests, 1u);
    ASSERT_EQ(read.partitions.size(), 1u);
    const auto& p = read.partitions[0];
    EXPECT_EQ(p.topic, "metrics");
    EXPECT_EQ(p.partition, 0);
    EXPECT_EQ(p.position, 15);
    EXPECT_EQ(p.high_watermark, 20);
    EXPECT_EQ(p.lag, 5);
    EXPECT_FALSE(p.paused);
}

TEST(Observability, AStoppedBrokerReachesTheErrorCallback_NeverAfterClose) {
    odradek::testing::Broker broker;
    odradek::Config config{{"bootstrap.servers", broker.bootstrap_servers()}};
    odradek::Admin(config).create_topic("stopped", 1);
    {
        odradek::Producer producer(config);
        producer.send(odradek::ProducerRecord("stopped").value("v")).get();
    }
    ErrorLog log;
    odradek::Consumer consumer(config);
    consumer.set_error_callback(log.callback());
    consumer.assign({{"stopped", 0, odradek::offsets::beginning}});
    ASSERT_EQ(consume(consumer, 1).size(), 1u);
    EXPECT_FALSE(log.wait_for(0ms, {"_TRANSPORT", "_ALL_BROKERS_DOWN"})) << "an error before the broker stopped";

    broker.stop();
    auto e = log.wait_for(15s, {"_TRANSPORT", "_ALL_BROKERS_DOWN"});
    ASSERT_TRUE(e) << "no _TRANSPORT / _ALL_BROKERS_DOWN within 15 s";
    EXPECT_TRUE(e->retriable()) << e->what();
    odradek::ConsumerMetrics stats = consumer.metrics();
    ASSERT_FALSE(stats.brokers.empty());
    EXPECT_GT(stats.brokers[0].disconnects + stats.brokers[0].connect_failures, 0u);

    consumer.close();
    {
        std::lock_guard<std::mutex> g(log.lock);
        log.closed = true;
    }
    std::this_thread::sleep_for(500ms);
    std::lock_guard<std::mutex> g(log.lock);
    EXPECT_EQ(log.late, 0) << "error callbacks after close()";
}

TEST(Observability, SetErrorCallbackReplacesTheCallback_EmptyStopsIt) {
    ErrorLog first, second;
    odradek::Producer producer({{"bootstrap.servers", "127.0.0.1:1"}, {"message.timeout.ms", "2000"}});
    producer.set_error_callback(first.callback());
    producer.set_error_callback(second.callback());
    auto sent = producer.send(odradek::ProducerRecord("nowhere").value("v"));
    EXPECT_TRUE(second.wait_for(15s, {"_ALL_BROKERS_DOWN"})) << "no _ALL_BROKERS_DOWN";
    {
        std::lock_guard<std::mutex> g(first.lock);
        EXPECT_TRUE(first.seen.empty()) << "the replaced callback still ran";
    }
    producer.set_error_callback(nullptr);
    EXPECT_THROW(sent.get(), odradek::KafkaError);
}

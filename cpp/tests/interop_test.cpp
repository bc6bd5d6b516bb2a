// Interop with librdkafka's C++ API (Debian's librdkafka++ 2.0.2), both ways, on the embedded
// broker: keys, values and headers arrive byte for byte (binary bytes, null and empty keys and
// values, null header values, duplicate header names in order); keyed partitions match
// librdkafka's murmur2 partitioner (the Java client's).
#include <odradek/odradek.hpp>

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using OptBytes = std::optional<std::string>;

struct Rec {
    OptBytes key, value;
    std::vector<std::pair<std::string, OptBytes>> headers;
    bool operator==(const Rec& o) const { return key == o.key && value == o.value && headers == o.headers; }
};

std::string binary(int seed, std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((seed * 131 + i * 7) & 0xff);
    return s;
}

// Every corner of the record format the two clients must agree on.
std::vector<Rec> corpus() {
    std::vector<Rec> out;
    out.push_back({std::string("plain-key"), std::string("plain value"), {}});
    out.push_back({std::nullopt, std::string("null key"), {}});
    out.push_back({std::string(""), std::string(""), {}});
    out.push_back({std::string("tombstone"), std::nullopt, {}});
    out.push_back({binary(1, 16), binary(2, 300), {{"bin", binary(3, 5)}}});
    out.push_back({std::string("hdrs"), std::string("v"),
                   {{"trace", std::string("abc")}, {"trace", std::string("def")}, {"empty", std::string("")},
                    {"none", std::nullopt}, {"ünïcødé", std::string("✓")}}});
    out.push_back({std::string("big"), std::string(100000, 'z'), {}});
    for (int i = 0; i < 20; ++i) out.push_back({"k-" + std::to_string(i), binary(i, 64), {{"i", std::to_string(i)}}});
    return out;
}

std::string show(const OptBytes& b) { return b ? "\"" + b->substr(0, 40) + "\"(" + std::to_string(b->size()) + ")" : "null"; }

void expect_same(const std::vector<Rec>& want, const std::vector<Rec>& got) {
    ASSERT_EQ(want.size(), got.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(want[i].key, got[i].key) << "record " << i << ": key " << show(got[i].key);
        EXPECT_EQ(want[i].value, got[i].value) << "record " << i << ": value " << show(got[i].value);
        ASSERT_EQ(want[i].headers.size(), got[i].headers.size()) << "record " << i;
        for (std::size_t h = 0; h < want[i].headers.size(); ++h) {
            EXPECT_EQ(want[i].headers[h].first, got[i].headers[h].first) << "record " << i << " header " << h;
            EXPECT_EQ(want[i].headers[h].second, got[i].headers[h].second)
                << "record " << i << " header " << h << ": " << show(got[i].headers[h].second);
        }
    }
}

std::unique_ptr<RdKafka::Conf> rdk_conf(const std::string& bootstrap, const std::map<std::string, std::string>& extra) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string err;
    auto set = [&](const std::string& k, const std::string& v) {
        if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(k + ": " + err);
    };
    set("bootstrap.servers", bootstrap);
    for (const auto& [k, v] : extra) set(k, v);
    return conf;
}


// librdkafka needs a non-NULL pointer to tell an empty key/value from a null one.
const char kEmpty[1] = {0};
const void* ptr_or_empty(const OptBytes& b) { return !b ? nullptr : (b->empty() ? kEmpty : b->data()); }

class Interop : public ::testing::Test {
protected:
    odradek::testing::Broker broker{{{"auto.create.topics.enable", "true"}}};
    std::string bootstrap() const { return broker.bootstrap_servers(); }
};

TEST_F(Interop, OdradekProducesLibrdkafkaCppConsumesByteIdentical) {
    const auto want = corpus();
    odradek::Admin({{"bootstrap.servers", bootstrap()}}).create_topic("to-rdk", 1);
    odradek::Producer producer({{"bootstrap.servers", bootstrap()}, {"linger.ms", "5"}});
    std::vector<std::future<odradek::DeliveryReport>> futures;
    for (const auto& r : want) {
        odradek::ProducerRecord rec("to-rdk");
        if (r.key) rec.key(*r.key);
        if (r.value) rec.value(*r.value);
        for (const auto& [n, v] : r.headers) rec.header(n, v ? odradek::Bytes(*v) : odradek::Bytes(nullptr));
        futures.push_back(producer.send(rec));
    }
    for (auto& f : futures) f.get();

    std::string err;
    auto conf = rdk_conf(bootstrap(), {{"group.id", "rdk-reader"}, {"enable.auto.commit", "false"}});
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
    ASSERT_TRUE(consumer) << err;
    std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create("to-rdk", 0, 0));
    std::vector<RdKafka::TopicPartition*> parts{tp.get()};
    ASSERT_EQ(consumer->assign(parts), RdKafka::ERR_NO_ERROR);
    std::vector<Rec> got;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (got.size() < want.size() && std::chrono::steady_clock::now() < deadline) {
        std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
        if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
        ASSERT_EQ(m->err(), RdKafka::ERR_NO_ERROR) << m->errstr();
        Rec r;
        if (m->key_pointer()) r.key = std::string(static_cast<const char*>(m->key_pointer()), m->key_len());
        if (m->payload()) r.value = std::string(static_cast<const char*>(m->payload()), m->len());
        if (RdKafka::Headers* hs = m->headers()) {
            for (const auto& h : hs->get_all()) {
                OptBytes v;
                if (h.value()) v = std::string(static_cast<const char*>(h.value()), h.value_size());
                r.headers.emplace_back(h.key(), v);
            }
        }
        EXPECT_EQ(m->offset(), static_cast<std::int64_t>(got.size()));
        got.push_back(std::move(r));
    }
    consumer->close();
    expect_same(want, got);
}

TEST_F(Interop, LibrdkafkaCppProducesOdradekConsumesByteIdentical) {
    const auto want = corpus();
    odradek::Admin({{"bootstrap.servers", bootstrap()}}).create_topic("from-rdk", 1);
    std::string err;
    auto conf = rdk_conf(bootstrap(), {{"linger.ms", "5"}});
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
    ASSERT_TRUE(producer) << err;
    for (const auto& r : want) {
        RdKafka::Headers* headers = RdKafka::Headers::create();
        for (const auto& [n, v] : r.headers) {
            headers->add(n, v ? static_cast<const void*>(v->data()) : nullptr, v ? v->size() : 0);
        }
        RdKafka::ErrorCode e = producer->produce(
            "from-rdk", 0, RdKafka::Producer::RK_MSG_COPY, const_cast<void*>(ptr_or_empty(r.value)),
            r.value ? r.value->size() : 0, ptr_or_empty(r.key), r.key ? r.key->size() : 0, 0, headers, nullptr);
        if (e != RdKafka::ERR_NO_ERROR) delete headers;
        ASSERT_EQ(e, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(e);
    }
    ASSERT_EQ(producer->flush(30000), RdKafka::ERR_NO_ERROR);

    odradek::Consumer consumer({{"bootstrap.servers", bootstrap()}});
    consumer.assign({{"from-rdk", 0, odradek::offsets::beginning}});
    std::vector<Rec> got;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (got.size() < want.size() && std::chrono::steady_clock::now() < deadline) {
        for (const auto& m : consumer.poll_batch(want.size() - got.size(), 200ms)) {
            Rec r;
            if (auto k = m.key()) r.key = std::string(*k);
            if (auto v = m.value()) r.value = std::string(*v);
            for (const auto& h : m.headers()) {
                r.headers.emplace_back(std::string(h.key), h.value ? OptBytes(std::string(*h.value)) : std::nullopt);
            }
            EXPECT_EQ(m.offset(), static_cast<std::int64_t>(got.size()));
            got.push_back(std::move(r));
        }
    }
    expect_same(want, got);
}

TEST_F(Interop, KeyedRecordsLandOnLibrdkafkaMurmur2Partitions) {
    odradek::Admin admin({{"bootstrap.servers", bootstrap()}});
    admin.create_topic("keyed-ours", 6);
    admin.create_topic("keyed-rdk", 6);
    std::string err;
    auto conf = rdk_conf(bootstrap(), {{"partitioner", "murmur2_random"}});
    std::unique_ptr<RdKafka::Producer> rdk(RdKafka::Producer::create(conf.get(), err));
    ASSERT_TRUE(rdk) << err;
    struct Dr : RdKafka::DeliveryReportCb {
        std::map<std::string, int> partitions;
        void dr_cb(RdKafka::Message& m) override {
            partitions[std::string(static_cast<const char*>(m.key_pointer()), m.key_len())] = m.partition();
        }
    } dr;
    // The callback is set on a fresh producer so it sees every report.
    auto conf2 = rdk_conf(bootstrap(), {{"partitioner", "murmur2_random"}});
    ASSERT_EQ(conf2->set("dr_cb", &dr, err), RdKafka::Conf::CONF_OK) << err;
    rdk.reset(RdKafka::Producer::create(conf2.get(), err));
    ASSERT_TRUE(rdk) << err;
    odradek::Producer ours({{"bootstrap.servers", bootstrap()}});
    std::map<std::string, int> our_partitions;
    for (int i = 0; i < 50; ++i) {
        std::string key = "user-" + std::to_string(i * 7919);
        ASSERT_EQ(rdk->produce("keyed-rdk", RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                               const_cast<char*>("v"), 1, key.data(), key.size(), 0, nullptr),
                  RdKafka::ERR_NO_ERROR);
        our_partitions[key] = ours.send(odradek::ProducerRecord("keyed-ours").key(key).value("v")).get().partition;
    }
    ASSERT_EQ(rdk->flush(30000), RdKafka::ERR_NO_ERROR);
    rdk->poll(0);
    ASSERT_EQ(dr.partitions.size(), 50u);
    EXPECT_EQ(dr.partitions, our_partitions);
}

}  // namespace

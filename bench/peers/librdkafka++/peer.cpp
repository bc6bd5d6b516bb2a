// Benchmark peer on Debian's librdkafka C++ API (librdkafka++ 2.0.2): produce and consume, same
// command line and JSON line as the other peers (bench/README.md). Settings as bench/peers/librdkafka/peer.c.
//   peer produce --bootstrap B --topic T --count N --size S --acks 1|all --compression C
//                --linger-ms L --batch-size BYTES
//   peer consume --bootstrap B --topic T --count N
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "librdkafka++ peer: %s\n", what.c_str());
    std::exit(1);
}

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string payload_pool(std::size_t n) {
    std::string p(n, 'A');
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = static_cast<char>('A' + x % 26);
    }
    return p;
}
constexpr std::size_t kPool = 1 << 20;

std::string client() { return "librdkafka++ " + RdKafka::version_str(); }

std::unique_ptr<RdKafka::Conf> conf(const std::map<std::string, std::string>& props) {
    std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string err;
    for (const auto& [k, v] : props) {
        if (c->set(k, v, err) != RdKafka::Conf::CONF_OK) die(k + ": " + err);
    }
    return c;
}

struct Counter : RdKafka::DeliveryReportCb {
    long delivered = 0, failed = 0;
    void dr_cb(RdKafka::Message& m) override {
        if (m.err()) {
            if (failed++ == 0) std::fprintf(stderr, "delivery failed: %s\n", m.errstr().c_str());
        } else {
            ++delivered;
        }
    }
};

int run_produce(std::map<std::string, std::string>& o) {
    const long count = std::atol(o["count"].c_str());
    const std::size_t size = static_cast<std::size_t>(std::atol(o["size"].c_str()));
    const std::string pool = payload_pool(kPool);
    Counter counter;
    auto c = conf({{"bootstrap.servers", o["bootstrap"]},
                   {"acks", o["acks"] == "all" ? "-1" : o["acks"]},
                   {"compression.codec", o["compression"]},
                   {"linger.ms", o["linger-ms"]},
                   {"batch.size", o["batch-size"]},
                   {"batch.num.messages", "1000000"},
                   {"enable.idempotence", "false"},
                   {"max.in.flight.requests.per.connection", "5"},
                   {"queue.buffering.max.messages", "1000000"},
                   {"queue.buffering.max.kbytes", "1048576"}});
    std::string err;
    if (c->set("dr_cb", &counter, err) != RdKafka::Conf::CONF_OK) die("dr_cb: " + err);
    std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(c.get(), err));
    if (!p) die("producer: " + err);
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
        std::size_t off = (static_cast<std::size_t>(i) * 4099) % (kPool - size);
        for (;;) {
            RdKafka::ErrorCode e = p->produce(o["topic"], RdKafka::Topic::PARTITION_UA,
                                              RdKafka::Producer::RK_MSG_COPY,
                                              const_cast<char*>(pool.data() + off), size, nullptr, 0, 0, nullptr);
            if (e == RdKafka::ERR_NO_ERROR) break;
            if (e != RdKafka::ERR__QUEUE_FULL) die("produce: " + RdKafka::err2str(e));
            p->poll(1);
        }
        if ((i & 1023) == 0) p->poll(0);
    }
    while (counter.delivered + counter.failed < count) p->poll(10);
    double seconds = since(t0);
    if (counter.failed) die("some deliveries failed");
    std::printf("{\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"client\":\"%s\"}\n", counter.delivered,
                counter.delivered * static_cast<long>(size), seconds, client().c_str());
    return 0;
}

int run_consume(std::map<std::string, std::string>& o) {
    const long count = std::atol(o["count"].c_str());
    auto c = conf({{"bootstrap.servers", o["bootstrap"]},
                   {"group.id", "odradek-bench"},
                   {"enable.auto.commit", "false"},
                   {"fetch.min.bytes", "1"},
                   {"max.partition.fetch.bytes", "1048576"},
                   {"fetch.max.bytes", "52428800"}});
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), err));
    if (!consumer) die("consumer: " + err);
    // Offset 0 (the topics are fresh): no ListOffsets round trip before the first fetch.
    std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(o["topic"], 0, 0));
    std::vector<RdKafka::TopicPartition*> parts{tp.get()};
    if (RdKafka::ErrorCode e = consumer->assign(parts)) die("assign: " + RdKafka::err2str(e));
    long n = 0, bytes = 0;
    std::chrono::steady_clock::time_point t0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (n < count) {
        std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
        if (std::chrono::steady_clock::now() > deadline) die("consume timed out after 300 s");
        if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
        if (m->err()) die("consume: " + m->errstr());
        if (n++ == 0) t0 = std::chrono::steady_clock::now();
        bytes += static_cast<long>(m->len());
    }
    double seconds = since(t0);
    consumer->close();
    std::printf("{\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"client\":\"%s\"}\n", n, bytes, seconds,
                client().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) die("usage: peer produce|consume --bootstrap B --topic T ...");
    std::map<std::string, std::string> o{{"acks", "1"},      {"compression", "none"}, {"count", "100000"},
                                         {"size", "100"},    {"linger-ms", "5"},      {"batch-size", "65536"}};
    std::string mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        if (k.rfind("--", 0) != 0) die("bad option " + k);
        o[k.substr(2)] = argv[i + 1];
    }
    if (o["bootstrap"].empty() || o["topic"].empty()) die("--bootstrap and --topic are required");
    if (mode == "produce") return run_produce(o);
    if (mode == "consume") return run_consume(o);
    die("unknown mode " + mode + " (this peer does produce and consume)");
}

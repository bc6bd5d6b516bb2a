// Benchmark peer on odradek's C++ binding (cpp/): produce and consume, same command line and
// JSON line as the other peers (bench/README.md); CPU and RSS are measured from outside.
//   peer produce --bootstrap B --topic T --count N --size S --acks 1|all --compression C
//                --linger-ms L --batch-size BYTES
//   peer consume --bootstrap B --topic T --count N
#include <odradek/odradek.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "odradek-cpp peer: %s\n", what.c_str());
    std::exit(1);
}

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Random upper-case letters, as the other peers (compresses about like ProducerPerformance's).
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

std::string client() { return "odradek-cpp " + odradek::version(); }

int run_produce(std::map<std::string, std::string>& o) {
    const long count = std::atol(o["count"].c_str());
    const std::size_t size = static_cast<std::size_t>(std::atol(o["size"].c_str()));
    const std::string pool = payload_pool(kPool);
    odradek::Producer producer({{"bootstrap.servers", o["bootstrap"]},
                                {"acks", o["acks"]},
                                {"compression.type", o["compression"]},
                                {"linger.ms", o["linger-ms"]},
                                {"batch.size", o["batch-size"]},
                                {"enable.idempotence", "false"},
                                {"max.in.flight.requests.per.connection", "5"}});
    std::atomic<long> failed{0};
    std::string first_error;
    auto on_delivery = [&](const odradek::DeliveryReport&, const odradek::KafkaError* err) {
        if (err && failed.fetch_add(1) == 0) first_error = err->what();
    };
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
        std::size_t off = (static_cast<std::size_t>(i) * 4099) % (kPool - size);
        producer.send(odradek::ProducerRecord(o["topic"]).value(std::string_view(pool).substr(off, size)),
                      on_delivery);
    }
    producer.flush();  // every delivery callback has run when it returns
    double seconds = since(t0);
    producer.close();
    if (failed) die("delivery failed: " + first_error);
    std::printf("{\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"client\":\"%s\"}\n", count,
                count * static_cast<long>(size), seconds, client().c_str());
    return 0;
}

int run_consume(std::map<std::string, std::string>& o) {
    const long count = std::atol(o["count"].c_str());
    odradek::Consumer consumer({{"bootstrap.servers", o["bootstrap"]},
                                {"enable.auto.commit", "false"},
                                {"fetch.min.bytes", "1"},
                                {"max.partition.fetch.bytes", "1048576"},
                                {"fetch.max.bytes", "52428800"}});
    // Offset 0 (the topics are fresh): no ListOffsets round trip before the first fetch.
    consumer.assign({{o["topic"], 0, 0}});
    long n = 0, bytes = 0;
    // Steady-state rate: the clock starts at the first record (not at assign/connect).
    std::chrono::steady_clock::time_point t0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (n < count) {
        if (std::chrono::steady_clock::now() > deadline) die("consume timed out after 300 s");
        auto batch = consumer.poll_batch(static_cast<std::size_t>(std::min(10000L, count - n)),
                                         std::chrono::milliseconds(100));
        if (!batch.empty() && n == 0) t0 = std::chrono::steady_clock::now();
        for (const auto& m : batch) {
            ++n;
            bytes += static_cast<long>(m.value().value_or(std::string_view()).size());
        }
    }
    double seconds = since(t0);
    consumer.close();
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
    try {
        if (mode == "produce") return run_produce(o);
        if (mode == "consume") return run_consume(o);
    } catch (const odradek::KafkaError& e) {
        die(e.name() + ": " + e.what());
    }
    die("unknown mode " + mode + " (this peer does produce and consume)");
}

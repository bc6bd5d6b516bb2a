// The C++ API itself: errors, producer (future and callback), consumer, groups, admin, RAII.
#include <odradek/odradek.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

// The core's small rules as the C ABI header publishes them: a C++ copy that drifts stops the build.
#include "../../bindings/c/include/odradek.h"
static_assert(odradek::offsets::beginning == ODRADEK_OFFSET_BEGINNING, "offsets::beginning");
static_assert(odradek::offsets::end == ODRADEK_OFFSET_END, "offsets::end");
static_assert(odradek::offsets::stored == ODRADEK_OFFSET_STORED, "offsets::stored");
static_assert(odradek::offsets::invalid == ODRADEK_OFFSET_INVALID, "offsets::invalid");
static_assert(static_cast<int>(odradek::ErrorClass::Retriable) == ODRADEK_CLASS_RETRIABLE, "ErrorClass");
static_assert(static_cast<int>(odradek::ErrorClass::Permanent) == ODRADEK_CLASS_PERMANENT, "ErrorClass");
static_assert(static_cast<int>(odradek::ErrorClass::Abortable) == ODRADEK_CLASS_ABORTABLE, "ErrorClass");
static_assert(static_cast<int>(odradek::ErrorClass::Fatal) == ODRADEK_CLASS_FATAL, "ErrorClass");

using namespace std::chrono_literals;

namespace {

class ClientTest : public ::testing::Test {
protected:
    odradek::testing::Broker broker{{{"num.partitions", "1"}}};
    odradek::Config with(odradek::Config c) const {
        c["bootstrap.servers"] = broker.bootstrap_servers();
        return c;
    }
};

std::vector<odradek::Message> consume(odradek::Consumer& c, std::size_t n,
                                      std::chrono::milliseconds timeout = 15s) {
    std::vector<odradek::Message> out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
        for (auto& m : c.poll_batch(n - out.size(), 200ms)) out.push_back(std::move(m));
    }
    return out;
}

}  // namespace

TEST(Errors, UnknownConfigKeyIsInvalidConfigAndNotRetriable) {
    try {
        odradek::Producer p({{"bootstrap.servers", "127.0.0.1:1"}, {"linger.msec", "5"}});
        FAIL() << "an unknown key must be refused";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "_INVALID_CONFIG");
        EXPECT_EQ(e.code(), -186);
        EXPECT_FALSE(e.retriable());
        EXPECT_EQ(e.error_class(), odradek::ErrorClass::Permanent);
        EXPECT_NE(std::string(e.what()).find("linger.msec"), std::string::npos) << e.what();
    }
}

TEST(Errors, KafkaErrorIsARuntimeError) {
    EXPECT_THROW(odradek::Consumer({{"auto.offset.reset", "sometimes"}}), std::runtime_error);
}

TEST(Errors, BadBrokerPropertyIsInvalidConfig) {
    try {
        odradek::testing::Broker b({{"log.retention.hours", "many"}});
        FAIL() << "a bad broker property must be refused";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "_INVALID_CONFIG") << e.what();
    }
}

TEST_F(ClientTest, FutureAndCallbackDeliveriesRoundTripBytesExactly) {
    odradek::Admin admin(with({}));
    admin.create_topic("t", 2);
    odradek::Producer producer(with({{"linger.ms", "2"}}));

    const std::string binary("\x00\xff\x01\x80", 4);
    const std::vector<std::uint8_t> bytes{0xde, 0xad, 0xbe, 0xef};
    auto f = producer.send(odradek::ProducerRecord("t").partition(0).key(binary).value(bytes)
                               .header("h", "1").header("h", nullptr).header("e", ""));
    odradek::DeliveryReport r = f.get();
    EXPECT_EQ(r.partition, 0);
    EXPECT_EQ(r.offset, 0);

    std::mutex m;
    std::vector<odradek::DeliveryReport> reports;
    int errors = 0;
    for (int i = 0; i < 100; ++i) {
        std::string v = "v" + std::to_string(i);
        producer.send(odradek::ProducerRecord("t").partition(1).value(v),
                      [&](const odradek::DeliveryReport& rep, const odradek::KafkaError* err) {
                          std::lock_guard<std::mutex> g(m);
                          if (err) ++errors; else reports.push_back(rep);
                      });
    }
    producer.flush(30s);  // returns only once every callback ran
    {
        std::lock_guard<std::mutex> g(m);
        EXPECT_EQ(errors, 0);
        ASSERT_EQ(reports.size(), 100u);
        std::set<std::int64_t> offsets;
        for (auto& rep : reports) offsets.insert(rep.offset);
        EXPECT_EQ(offsets.size(), 100u);
        EXPECT_EQ(*offsets.begin(), 0);
        EXPECT_EQ(*offsets.rbegin(), 99);
    }
    producer.send(odradek::ProducerRecord("t").partition(0)).get();  // null key and value

    odradek::Consumer consumer(with({}));
    consumer.assign({{"t", 0, odradek::offsets::beginning}});
    auto got = consume(consumer, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].topic(), "t");
    EXPECT_EQ(got[0].key().value(), binary);
    EXPECT_EQ(got[0].value().value(), std::string("\xde\xad\xbe\xef"));
    ASSERT_EQ(got[0].header_count(), 3u);
    EXPECT_EQ(got[0].header(0).key, "h");
    EXPECT_EQ(got[0].header(0).value.value(), "1");
    EXPECT_EQ(got[0].header(1).key, "h");
    EXPECT_FALSE(got[0].header(1).value.has_value());
    EXPECT_EQ(got[0].header(2).value.value(), "");
    EXPECT_FALSE(got[1].key().has_value());
    EXPECT_FALSE(got[1].value().has_value());
    EXPECT_EQ(got[1].offset(), 1);
    EXPECT_EQ(consumer.position("t", 0), 2);
    EXPECT_TRUE(consumer.poll_batch(10, 100ms).empty());
}

TEST_F(ClientTest, DeliveryFailureArrivesAsKafkaErrorThroughTheFuture) {
    odradek::Admin admin(with({}));
    admin.create_topic("small", 1, {{"max.message.bytes", "1024"}});
    odradek::Producer producer(with({{"linger.ms", "0"}}));
    std::string big(4096, 'x');
    auto f = producer.send(odradek::ProducerRecord("small").value(big));
    try {
        f.get();
        FAIL() << "a record over max.message.bytes must fail";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "MESSAGE_TOO_LARGE");
        EXPECT_EQ(e.code(), 10);
        EXPECT_FALSE(e.retriable());
    }
    // The callback form sees the same error.
    std::promise<std::string> seen;
    producer.send(odradek::ProducerRecord("small").value(big),
                  [&](const odradek::DeliveryReport&, const odradek::KafkaError* err) {
                      seen.set_value(err ? err->name() : "ok");
                  });
    EXPECT_EQ(seen.get_future().get(), "MESSAGE_TOO_LARGE");
}

TEST_F(ClientTest, SendAfterCloseFailsAndBlockingCallsInCallbacksAreRefused) {
    odradek::Producer producer(with({}));
    std::promise<std::string> from_callback;
    producer.send(odradek::ProducerRecord("cb").value("x"),
                  [&](const odradek::DeliveryReport&, const odradek::KafkaError*) {
                      try {
                          producer.flush(1s);  // would deadlock the library thread
                          from_callback.set_value("flush returned");
                      } catch (const odradek::KafkaError& e) {
                          from_callback.set_value(e.name());
                      }
                  });
    EXPECT_EQ(from_callback.get_future().get(), "_INVALID_ARG");
    producer.close();
    producer.close();  // idempotent
    try {
        producer.send(odradek::ProducerRecord("cb").value("late")).get();
        FAIL() << "send after close must fail";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "_DESTROY") << e.what();
    }
}

TEST_F(ClientTest, InvalidUtf8TopicIsAnInvalidArgument) {
    odradek::Producer producer(with({}));
    EXPECT_THROW(producer.send(odradek::ProducerRecord(std::string_view("\xff\xfe", 2)).value("v")),
                 odradek::KafkaError);
}

TEST_F(ClientTest, AdminCreatesListsGrowsAndDeletesTopics) {
    odradek::Admin admin(with({}));
    admin.create_topic("a", 2);
    admin.create_topic("b", 1, {{"cleanup.policy", "compact"}});
    try {
        admin.create_topic("a", 2);
        FAIL() << "creating an existing topic must fail";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "TOPIC_ALREADY_EXISTS");
        EXPECT_EQ(e.code(), 36);
    }
    admin.create_partitions("a", 4);
    auto topics = admin.list_topics();
    std::map<std::string, int> m;
    for (auto& t : topics) m[t.name] = t.partitions;
    EXPECT_EQ(m["a"], 4);
    EXPECT_EQ(m["b"], 1);
    admin.delete_topic("b");
    for (auto& t : admin.list_topics()) EXPECT_NE(t.name, "b");
}

TEST_F(ClientTest, PausedPartitionsWaitAndWatermarksAreTheLogBounds) {
    odradek::Admin admin(with({}));
    admin.create_topic("pr", 2);
    odradek::Producer producer(with({}));
    for (int i = 0; i < 10; ++i) {
        producer.send(odradek::ProducerRecord("pr").partition(i % 2).value("v")).get();
    }
    odradek::Consumer c(with({}));
    c.assign({{"pr", 0, odradek::offsets::beginning}, {"pr", 1, odradek::offsets::beginning}});
    EXPECT_EQ(c.watermarks("pr", 0), std::make_pair(std::int64_t{0}, std::int64_t{5}));

    c.pause({{"pr", 1}});
    auto first = consume(c, 5);
    ASSERT_EQ(first.size(), 5u);
    for (auto& m : first) EXPECT_EQ(m.partition(), 0) << "a paused partition was fetched";
    EXPECT_TRUE(c.poll_batch(10, 300ms).empty());

    c.resume({{"pr", 1}});
    auto rest = consume(c, 5);
    ASSERT_EQ(rest.size(), 5u);
    for (auto& m : rest) EXPECT_EQ(m.partition(), 1);
}

TEST_F(ClientTest, GroupMembersSplitPartitionsAndSeeRebalanceCallbacks) {
    odradek::Admin admin(with({}));
    admin.create_topic("g", 4);
    odradek::Producer producer(with({}));
    for (int i = 0; i < 40; ++i) {
        producer.send(odradek::ProducerRecord("g").key("k" + std::to_string(i)).value("v"));
    }
    producer.flush(30s);

    odradek::Config group = with({{"group.id", "cpp-group"}, {"auto.offset.reset", "earliest"},
                                  {"heartbeat.interval.ms", "300"}});
    odradek::Consumer a(group);
    std::mutex m;
    std::condition_variable cv;
    std::vector<odradek::TopicPartition> assigned;
    a.set_rebalance_callbacks({[&](const std::vector<odradek::TopicPartition>& parts) {
                                   std::lock_guard<std::mutex> g(m);
                                   assigned.insert(assigned.end(), parts.begin(), parts.end());
                                   cv.notify_all();
                               },
                               nullptr, nullptr});
    a.subscribe({"g"});
    auto got = consume(a, 40, 30s);
    EXPECT_EQ(got.size(), 40u);
    {
        std::unique_lock<std::mutex> g(m);
        EXPECT_TRUE(cv.wait_for(g, 10s, [&] { return assigned.size() == 4; }));
    }
    EXPECT_EQ(a.assignment().size(), 4u);
    a.commit();
    auto committed = a.committed({{"g", 0}, {"g", 1}, {"g", 2}, {"g", 3}});
    std::int64_t total = 0;
    for (auto& c : committed) total += c.value_or(0);
    EXPECT_EQ(total, 40);

    // A plain consumer (no group.id) cannot commit: the error says which key is missing.
    odradek::Consumer plain(with({}));
    try {
        plain.commit();
        FAIL() << "commit without group.id must fail";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "_INVALID_CONFIG");
        EXPECT_NE(std::string(e.what()).find("group.id"), std::string::npos);
    }
    a.close();
    EXPECT_THROW(a.poll(10ms), odradek::KafkaError);
}

TEST_F(ClientTest, ClientsMoveAndCloseOnDestruction) {
    odradek::Producer p1(with({}));
    odradek::Producer p2 = std::move(p1);
    auto f = p2.send(odradek::ProducerRecord("moved").value("v"));
    EXPECT_EQ(f.get().offset, 0);
    EXPECT_THROW(p1.send(odradek::ProducerRecord("moved").value("v")), odradek::KafkaError);
    {
        odradek::Producer scoped(with({{"linger.ms", "50"}}));
        scoped.send(odradek::ProducerRecord("moved").value("flushed by the destructor"),
                    [](const odradek::DeliveryReport&, const odradek::KafkaError*) {});
    }
    odradek::Consumer c(with({}));
    c.assign({{"moved", 0, odradek::offsets::beginning}});
    auto got = consume(c, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].value().value(), "flushed by the destructor");
}

TEST(Broker, StopsAndRefusesConnections) {
    odradek::testing::Broker b;
    std::string addr = b.bootstrap_servers();
    EXPECT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
    b.stop();
    b.stop();
    odradek::Producer p({{"bootstrap.servers", addr}, {"delivery.timeout.ms", "1500"},
                         {"request.timeout.ms", "1000"}});
    auto f = p.send(odradek::ProducerRecord("t").value("v"));
    try {
        f.get();
        FAIL() << "a stopped broker cannot acknowledge";
    } catch (const odradek::KafkaError& e) {
        EXPECT_TRUE(e.name() == "_MSG_TIMED_OUT" || e.name() == "_TRANSPORT" ||
                    e.name() == "_ALL_BROKERS_DOWN") << e.name() << ": " << e.what();
    }
}

// An unsecured JWT (alg none) naming `principal`, which the embedded broker's OAUTHBEARER accepts.
std::string unsecured_jwt(const std::string& principal, std::int64_t exp) {
    auto b64url = [](const std::string& in) {
        static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        std::string out;
        unsigned bits = 0;
        int n = 0;
        for (unsigned char c : in) {
            bits = (bits << 8) | c;
            n += 8;
            while (n >= 6) out += abc[(bits >> (n -= 6)) & 63];
        }
        if (n > 0) out += abc[(bits << (6 - n)) & 63];
        return out;
    };
    return b64url(R"({"alg":"none"})") + "." +
           b64url(R"({"sub":")" + principal + R"(","exp":)" + std::to_string(exp) + "}") + ".";
}

// The SASL_SSL test broker through client_config(), a wrong password (fatal _AUTHENTICATION,
// the password in no message), and OAUTHBEARER tokens from a std::function: it gets
// sasl.oauthbearer.config, its token logs in, what it throws fails the login.
TEST(Security, SaslSslBrokerWrongPasswordAndTokenProvider) {
    auto broker = odradek::testing::Broker::sasl_ssl(
        "alice", "alice-secret", {{"sasl.enabled.mechanisms", "SCRAM-SHA-512,OAUTHBEARER"}});
    EXPECT_NE(broker.ca_pem().find("BEGIN CERTIFICATE"), std::string::npos);
    odradek::Admin(broker.client_config()).create_topic("cpp-secure", 1);

    auto wrong = broker.client_config();
    wrong["sasl.password"] = "wrong-password";
    try {
        odradek::Admin(wrong).list_topics();
        FAIL() << "a wrong password logged in";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "_AUTHENTICATION") << e.what();
        EXPECT_TRUE(e.fatal()) << e.what();
        EXPECT_EQ(std::string(e.what()).find("wrong-password"), std::string::npos) << e.what();
    }

    odradek::Config oauth{{"bootstrap.servers", broker.bootstrap_servers()},
                          {"security.protocol", "SASL_SSL"},
                          {"ssl.ca.pem", broker.ca_pem()},
                          {"sasl.mechanism", "OAUTHBEARER"},
                          {"sasl.oauthbearer.config", "scope=cpp-test"}};
    std::mutex lock;
    std::vector<std::string> configs;
    odradek::TokenProvider provider = [&](const std::string& config) {
        std::lock_guard<std::mutex> g(lock);
        configs.push_back(config);
        auto expiry = std::chrono::system_clock::now() + 10min;
        auto exp = std::chrono::duration_cast<std::chrono::seconds>(expiry.time_since_epoch()).count();
        return odradek::OAuthBearerToken{unsecured_jwt("alice", exp), expiry, "alice", {{"traceid", "cpp"}}};
    };
    {
        odradek::Producer p(oauth, provider);
        EXPECT_EQ(p.send(odradek::ProducerRecord("cpp-secure").value("via a token")).get().offset, 0);
    }
    {
        std::lock_guard<std::mutex> g(lock);
        ASSERT_FALSE(configs.empty());
        EXPECT_EQ(configs[0], "scope=cpp-test");
    }

    odradek::Admin refusing(oauth, [](const std::string&) -> odradek::OAuthBearerToken {
        throw std::runtime_error("no token for you");
    });
    try {
        refusing.list_topics();
        FAIL() << "a refused token logged in";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "_AUTHENTICATION") << e.what();
        EXPECT_NE(std::string(e.what()).find("no token for you"), std::string::npos) << e.what();
    }
}

TEST(Logging, WarningsReachTheHandlerAndNothingBelowItsLevel) {
    // An address nothing listens on: a broker's, once stopped.
    odradek::testing::Broker gone;
    std::string address = gone.bootstrap_servers();
    gone.stop();

    struct Seen {
        odradek::LogLevel level;
        std::string target, message;
    };
    std::mutex lock;
    std::condition_variable changed;
    std::vector<Seen> seen;
    odradek::set_log_handler(odradek::LogLevel::Warn,
                             [&](odradek::LogLevel level, const std::string& target, const std::string& message) {
                                 std::lock_guard<std::mutex> g(lock);
                                 seen.push_back({level, target, message});
                                 changed.notify_all();
                             });
    {
        odradek::Producer producer({{"bootstrap.servers", address}, {"message.timeout.ms", "1000"}});
        auto f = producer.send(odradek::ProducerRecord("logged").value("v"));
        std::unique_lock<std::mutex> g(lock);
        bool found = changed.wait_for(g, 15s, [&] {
            for (const auto& r : seen) {
                if (r.message.find("cannot connect") != std::string::npos &&
                    r.message.find(address) != std::string::npos)
                    return true;
            }
            return false;
        });
        EXPECT_TRUE(found) << "no 'cannot connect' record naming " << address;
        for (const auto& r : seen) {
            EXPECT_LE(static_cast<int>(r.level), static_cast<int>(odradek::LogLevel::Warn)) << r.message;
            EXPECT_EQ(r.target.rfind("odradek", 0), 0u) << r.target;
        }
        g.unlock();
        EXPECT_THROW(f.get(), odradek::KafkaError);
    }
    odradek::set_log_handler(odradek::LogLevel::Warn, nullptr);
    // A level out of range is refused.
    EXPECT_THROW(odradek::set_log_handler(static_cast<odradek::LogLevel>(9), [](auto, auto&, auto&) {}),
                 odradek::KafkaError);
}

TEST(Version, IsTheCrateVersion) { EXPECT_EQ(odradek::version(), "0.1.0"); }

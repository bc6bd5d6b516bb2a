// The conformance runner: every tests/conformance/scenarios/*.json, step by step, against a
// fresh embedded broker each (format: tests/conformance/README.md). An unknown op or step key
// fails the scenario, so a new step kind shows up here at once.
#include <odradek/odradek.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

using OptBytes = std::optional<std::string>;

struct Rec {
    std::string topic;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    OptBytes key, value;
    std::vector<std::pair<std::string, OptBytes>> headers;
};

struct StepFailure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) { throw StepFailure(what); }

std::string show(const OptBytes& b) {
    if (!b) return "null";
    std::string s = json(*b).dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

std::string hex_decode(const std::string& hex) {
    if (hex.size() % 2) fail("odd hex string " + hex);
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

// null | "utf-8" | {"hex": ...} | {"repeat": s, "count": n}
OptBytes bytes_of(const json& j) {
    if (j.is_null()) return std::nullopt;
    if (j.is_string()) return j.get<std::string>();
    if (j.is_object() && j.contains("hex") && j.size() == 1) return hex_decode(j["hex"].get<std::string>());
    if (j.is_object() && j.contains("repeat") && j.contains("count") && j.size() == 2) {
        std::string unit = j["repeat"].get<std::string>(), out;
        for (int i = 0, n = j["count"].get<int>(); i < n; ++i) out += unit;
        return out;
    }
    fail("not a bytes value: " + j.dump());
}

std::string replace_i(std::string pattern, int i) {
    const std::string tag = "{i}";
    for (std::size_t at; (at = pattern.find(tag)) != std::string::npos;) {
        pattern.replace(at, tag.size(), std::to_string(i));
    }
    return pattern;
}

std::vector<std::pair<OptBytes, OptBytes>> generated(const json& g) {
    for (auto& [k, _] : g.items()) {
        if (k != "count" && k != "key" && k != "value") fail("unknown generate key " + k);
    }
    std::vector<std::pair<OptBytes, OptBytes>> out;
    int n = g.at("count").get<int>();
    for (int i = 0; i < n; ++i) {
        OptBytes key, value;
        if (g.contains("key") && !g["key"].is_null()) key = replace_i(g["key"].get<std::string>(), i);
        if (g.contains("value") && !g["value"].is_null()) value = replace_i(g["value"].get<std::string>(), i);
        out.emplace_back(key, value);
    }
    return out;
}

std::map<std::string, std::set<std::string>> allowed_keys() {
    return {
        {"create_topic", {"topic", "partitions", "config", "replication_factor"}},
        {"producer", {"client", "config"}},
        {"produce", {"client", "topic", "records", "generate", "expect"}},
        {"flush", {"client"}},
        {"consumer", {"client", "config", "on_revoke"}},
        {"assign", {"client", "partitions"}},
        {"subscribe", {"client", "topics"}},
        {"consume", {"client", "count", "timeout_ms", "expect", "generate"}},
        {"consume_none", {"client", "timeout_ms"}},
        {"iterate", {"client", "count", "timeout_ms", "expect"}},
        {"seek", {"client", "topic", "partition", "offset"}},
        {"position", {"client", "topic", "partition", "expect"}},
        {"pause", {"client", "partitions"}},
        {"resume", {"client", "partitions"}},
        {"commit", {"client", "offsets"}},
        {"committed", {"client", "partitions", "expect"}},
        {"wait_assignment", {"clients", "topic", "partitions", "timeout_ms"}},
        {"close", {"client"}},
        {"init_transactions", {"client"}},
        {"begin_transaction", {"client"}},
        {"commit_transaction", {"client"}},
        {"abort_transaction", {"client"}},
        {"send_offsets_to_transaction", {"client", "consumer", "offsets"}},
        {"share_consumer", {"client", "config"}},
        {"share_subscribe", {"client", "topics", "timeout_ms"}},
        {"share_poll", {"client", "count", "timeout_ms", "expect"}},
        {"acknowledge", {"client", "topic", "partition", "offsets", "type"}},
        {"share_commit", {"client"}},
        {"watermarks", {"client", "topic", "partition", "expect"}},
        {"offsets_for_times", {"client", "partitions", "expect"}},
        {"describe_cluster", {"brokers"}},
        {"describe_group", {"group", "state", "members"}},
        {"group_lag", {"group", "expect"}},
        {"alter_group_offsets", {"group", "offsets"}},
        {"delete_group", {"group"}},
        {"alter_config", {"topic", "set"}},
        {"describe_config", {"topic", "expect"}},
        {"delete_records", {"topic", "partition", "offset", "expect"}},
        {"stop_broker", {}},
        {"expect_error_event", {"client", "names", "retriable", "timeout_ms"}},
        {"expect_log", {"level", "timeout_ms"}},
        {"leader", {"topic", "partition", "name", "not", "timeout_ms"}},
        {"kill_node", {"node"}},
        {"restart_node", {"node"}},
        {"isolate_node", {"node"}},
        {"heal_node", {"node"}},
    };
}

class Runner {
public:
    explicit Runner(const json& scenario) : scenario_(scenario) {
        odradek::Config props;
        if (scenario.contains("broker_config")) {
            for (auto& [k, v] : scenario["broker_config"].items()) props[k] = v.get<std::string>();
        }
        std::string security = scenario.value("security", "");
        if (scenario.contains("cluster")) {
            cluster_ = std::make_unique<odradek::testing::Cluster>(scenario["cluster"].at("nodes").get<int>(), props);
        } else if (security.empty()) {
            broker_ = std::make_unique<odradek::testing::Broker>(props);
        } else if (security == "sasl_ssl") {
            // The SCRAM user of the embedded broker in a "security": "sasl_ssl" scenario.
            broker_ = std::make_unique<odradek::testing::Broker>(
                odradek::testing::Broker::sasl_ssl("conformance", "conformance-secret", props));
        } else {
            fail("unknown security " + security);
        }
    }

    void run() {
        const auto& steps = scenario_.at("steps");
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const json& step = steps[i];
            try {
                run_step(step);
                std::lock_guard<std::mutex> guard(callback_lock_);
                if (!callback_errors_.empty()) {
                    std::string failed;
                    for (const auto& e : callback_errors_) failed += (failed.empty() ? "" : "; ") + e;
                    callback_errors_.clear();
                    fail(failed);
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << "scenario " << scenario_.at("name").get<std::string>() << ", step " << i
                              << " (" << step.dump() .substr(0, 300) << "): " << e.what();
                return;
            }
        }
    }

private:
    // The broker's client config (bootstrap.servers, and the security keys of a sasl_ssl
    // scenario), with the step's own keys replacing them.
    odradek::Config client_config(const json& step) const {
        odradek::Config c = cluster_ ? cluster_->client_config() : broker_->client_config();
        if (step.contains("config")) {
            for (auto& [k, v] : step["config"].items()) c[k] = v.get<std::string>();
        }
        return c;
    }

    odradek::Producer& producer(const json& step) {
        auto it = producers_.find(step.at("client").get<std::string>());
        if (it == producers_.end()) fail("no producer named " + step.at("client").dump());
        return *it->second;
    }

    odradek::Consumer& consumer(const std::string& name) {
        auto it = consumers_.find(name);
        if (it == consumers_.end()) fail("no consumer named " + name);
        return *it->second;
    }

    static void check_error(const json& expect, const odradek::KafkaError& e) {
        std::string name = expect.at("name").get<std::string>();
        if (e.name() != name) fail("expected error " + name + ", got " + e.name() + ": " + e.what());
        if (expect.contains("retriable") && expect["retriable"].get<bool>() != e.retriable()) {
            fail("error " + name + ": expected retriable=" + expect["retriable"].dump() + ", got " +
                 (e.retriable() ? "true" : "false"));
        }
        if (expect.contains("fatal") && expect["fatal"].get<bool>() != e.fatal()) {
            fail("error " + name + ": expected fatal=" + expect["fatal"].dump() + ", got " +
                 (e.fatal() ? "true" : "false"));
        }
        if (expect.contains("topic") && expect["topic"].get<std::string>() != e.topic()) {
            fail("error " + name + ": expected topic " + expect["topic"].dump() + ", got \"" + e.topic() + "\"");
        }
        if (expect.contains("partition") && expect["partition"].get<int>() != e.partition()) {
            fail("error " + name + ": expected partition " + expect["partition"].dump() + ", got " +
                 std::to_string(e.partition()));
        }
    }

    // Runs `f`; with expect_error it must throw that KafkaError, otherwise it must not throw.
    template <typename F>
    void expecting(const json& step, F&& f) {
        if (!step.contains("expect_error")) {
            f();
            return;
        }
        try {
            f();
        } catch (const odradek::KafkaError& e) {
            check_error(step["expect_error"], e);
            return;
        }
        fail("expected error " + step["expect_error"].dump() + ", but the step succeeded");
    }

    void run_step(const json& step) {
        static const auto allowed = allowed_keys();
        std::string op = step.at("op").get<std::string>();
        auto known = allowed.find(op);
        if (known == allowed.end()) fail("unknown op '" + op + "' (this runner must learn it)");
        for (auto& [k, _] : step.items()) {
            if (k != "op" && k != "comment" && k != "expect_error" && !known->second.count(k)) {
                fail("unknown key '" + k + "' for op " + op);
            }
        }
        static const std::set<std::string> may_fail = {
            "producer", "consumer", "create_topic", "produce", "init_transactions", "begin_transaction",
            "commit_transaction", "abort_transaction", "send_offsets_to_transaction", "share_consumer",
            "share_poll", "acknowledge",
            "alter_group_offsets", "delete_group", "alter_config", "delete_records"};
        if (step.contains("expect_error") && !may_fail.count(op)) {
            fail("expect_error is not supported on op " + op);
        }

        if (op == "create_topic") {
            odradek::Config topic_config;
            if (step.contains("config")) {
                for (auto& [k, v] : step["config"].items()) topic_config[k] = v.get<std::string>();
            }
            odradek::Admin admin(client_config(json::object()));
            auto factor = static_cast<std::int16_t>(step.value("replication_factor", -1));
            expecting(step, [&] {
                admin.create_topic(step.at("topic").get<std::string>(), step.at("partitions").get<int>(),
                                   topic_config, factor);
            });
        } else if (op == "producer") {
            expecting(step, [&] {
                auto p = std::make_unique<odradek::Producer>(client_config(step));
                watch_errors(step.at("client").get<std::string>(), *p);
                producers_[step.at("client").get<std::string>()] = std::move(p);
            });
        } else if (op == "consumer") {
            expecting(step, [&] {
                auto c = std::make_unique<odradek::Consumer>(client_config(step));
                if (step.contains("on_revoke")) {
                    if (step["on_revoke"] != "commit") fail("unknown on_revoke " + step["on_revoke"].dump());
                    // From the callback, as users do: the group waits, so the commit lands first.
                    odradek::Consumer* self = c.get();
                    odradek::RebalanceCallbacks callbacks;
                    callbacks.on_revoked = [this, self](const std::vector<odradek::TopicPartition>&) {
                        try {
                            self->commit();
                        } catch (const std::exception& e) {
                            std::lock_guard<std::mutex> guard(callback_lock_);
                            callback_errors_.push_back(std::string("commit in on_revoked: ") + e.what());
                        }
                    };
                    c->set_rebalance_callbacks(std::move(callbacks));
                }
                watch_errors(step.at("client").get<std::string>(), *c);
                consumers_[step.at("client").get<std::string>()] = std::move(c);
            });
        } else if (op == "produce") {
            produce(step);
        } else if (op == "flush") {
            producer(step).flush(30s);
        } else if (op == "assign") {
            std::vector<odradek::TopicPartitionOffset> parts;
            for (const auto& p : step.at("partitions")) {
                std::int64_t offset;
                const json& o = p.at("offset");
                if (o == "earliest") offset = odradek::offsets::beginning;
                else if (o == "latest") offset = odradek::offsets::end;
                else if (o == "committed") offset = odradek::offsets::stored;
                else if (o.is_number_integer()) offset = o.get<std::int64_t>();
                else fail("bad offset " + o.dump());
                parts.push_back({p.at("topic").get<std::string>(), p.at("partition").get<int>(), offset});
            }
            consumer(step.at("client")).assign(parts);
        } else if (op == "subscribe") {
            consumer(step.at("client")).subscribe(step.at("topics").get<std::vector<std::string>>());
        } else if (op == "consume") {
            consume(step);
        } else if (op == "iterate") {
            iterate(step);
        } else if (op == "consume_none") {
            std::string name = step.at("client");
            auto& buffered = buffered_[name];
            if (!buffered.empty()) fail("a record was already buffered: offset " + std::to_string(buffered.front().offset));
            auto got = consumer(name).poll_batch(10, std::chrono::milliseconds(step.at("timeout_ms").get<int>()));
            if (!got.empty()) {
                fail("expected no record, got " + std::string(got[0].topic()) + "/" +
                     std::to_string(got[0].partition()) + "@" + std::to_string(got[0].offset()));
            }
        } else if (op == "seek") {
            std::string name = step.at("client");
            std::string topic = step.at("topic");
            int partition = step.at("partition");
            consumer(name).seek(topic, partition, step.at("offset").get<std::int64_t>());
            auto& buffered = buffered_[name];
            buffered.erase(std::remove_if(buffered.begin(), buffered.end(),
                                          [&](const Rec& r) { return r.topic == topic && r.partition == partition; }),
                           buffered.end());
        } else if (op == "position") {
            auto pos = consumer(step.at("client")).position(step.at("topic").get<std::string>(),
                                                             step.at("partition").get<int>());
            std::int64_t want = step.at("expect");
            if (!pos || *pos != want) {
                fail("position: expected " + std::to_string(want) + ", got " +
                     (pos ? std::to_string(*pos) : std::string("unknown")));
            }
        } else if (op == "pause" || op == "resume") {
            std::vector<odradek::TopicPartition> parts;
            for (const auto& p : step.at("partitions")) parts.push_back({p.at("topic"), p.at("partition")});
            auto& c = consumer(step.at("client"));
            if (op == "pause") c.pause(parts);
            else c.resume(parts);
        } else if (op == "commit") {
            auto& c = consumer(step.at("client"));
            if (step.contains("offsets")) {
                std::vector<odradek::TopicPartitionOffset> offsets;
                for (const auto& o : step["offsets"]) {
                    offsets.push_back({o.at("topic"), o.at("partition"), o.at("offset")});
                }
                c.commit(offsets);
            } else {
                c.commit();
            }
        } else if (op == "committed") {
            std::vector<odradek::TopicPartition> parts;
            for (const auto& p : step.at("partitions")) parts.push_back({p.at("topic"), p.at("partition")});
            auto got = consumer(step.at("client")).committed(parts);
            auto want = step.at("expect").get<std::vector<std::int64_t>>();
            if (got.size() != want.size()) fail("committed: wrong number of offsets");
            for (std::size_t i = 0; i < want.size(); ++i) {
                std::int64_t g = got[i].value_or(-1);
                if (g != want[i]) {
                    fail("committed[" + std::to_string(i) + "]: expected " + std::to_string(want[i]) + ", got " +
                         std::to_string(g));
                }
            }
        } else if (op == "wait_assignment") {
            wait_assignment(step);
        } else if (op == "init_transactions") {
            expecting(step, [&] { producer(step).init_transactions(30s); });
        } else if (op == "begin_transaction") {
            expecting(step, [&] { producer(step).begin_transaction(); });
        } else if (op == "commit_transaction") {
            expecting(step, [&] { producer(step).commit_transaction(30s); });
        } else if (op == "abort_transaction") {
            expecting(step, [&] { producer(step).abort_transaction(30s); });
        } else if (op == "send_offsets_to_transaction") {
            std::vector<odradek::TopicPartitionOffset> offsets;
            for (const auto& o : step.at("offsets")) {
                offsets.push_back({o.at("topic"), o.at("partition"), o.at("offset")});
            }
            odradek::ConsumerGroupMetadata group = consumer(step.at("consumer")).group_metadata();
            expecting(step, [&] { producer(step).send_offsets_to_transaction(offsets, group, 30s); });
        } else if (op == "share_consumer") {
            expecting(step, [&] {
                shares_[step.at("client").get<std::string>()] =
                    std::make_unique<odradek::ShareConsumer>(client_config(step));
            });
        } else if (op == "share_subscribe") {
            share_subscribe(step);
        } else if (op == "share_poll") {
            expecting(step, [&] { share_poll(step); });
        } else if (op == "acknowledge") {
            expecting(step, [&] { acknowledge(step); });
        } else if (op == "share_commit") {
            share(step.at("client")).commit_sync();
        } else if (op == "close") {
            std::string name = step.at("client");
            if (auto p = producers_.find(name); p != producers_.end()) {
                p->second->close(30s);
                producers_.erase(p);
            } else if (auto c = consumers_.find(name); c != consumers_.end()) {
                c->second->close();
                consumers_.erase(c);
                buffered_.erase(name);
            } else if (auto s = shares_.find(name); s != shares_.end()) {
                s->second->close();
                shares_.erase(s);
                received_.erase(name);
            } else {
                fail("no client named " + name);
            }
        } else if (!events_step(op, step) && !cluster_step(op, step)) {
            expecting(step, [&] { admin_step(op, step); });
        }
    }

    // ---- the cluster ops of a "cluster" scenario: leader binds a node name, the others act on it

    int node(const std::string& name) const {
        auto it = nodes_.find(name);
        if (it == nodes_.end()) fail("no node named " + name + " (bind it with a leader step)");
        return it->second;
    }

    // Runs a cluster op; false when `op` is not one.
    bool cluster_step(const std::string& op, const json& step) {
        static const std::set<std::string> ops = {"leader", "kill_node", "restart_node", "isolate_node", "heal_node"};
        if (!ops.count(op)) return false;
        if (!cluster_) fail("a cluster op in a scenario without \"cluster\"");
        if (op == "kill_node") {
            cluster_->kill(node(step.at("node").get<std::string>()));
        } else if (op == "restart_node") {
            cluster_->restart(node(step.at("node").get<std::string>()));
        } else if (op == "isolate_node") {
            cluster_->isolate(node(step.at("node").get<std::string>()));
        } else if (op == "heal_node") {
            cluster_->heal(node(step.at("node").get<std::string>()));
        } else {
            std::set<int> excluded;
            for (const auto& n : step.value("not", json::array())) excluded.insert(node(n.get<std::string>()));
            auto topic = step.at("topic").get<std::string>();
            int partition = step.at("partition").get<int>();
            auto ms = step.at("timeout_ms").get<int>();
            auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
            for (;;) {
                auto leader = cluster_->leader(topic, partition);
                if (leader && !excluded.count(*leader)) {
                    nodes_[step.at("name").get<std::string>()] = *leader;
                    break;
                }
                if (std::chrono::steady_clock::now() > deadline) {
                    fail("no leader of " + topic + "-" + std::to_string(partition) + " other than the excluded nodes within " +
                         std::to_string(ms) + " ms (last seen: " + (leader ? std::to_string(*leader) : "none") + ")");
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
        return true;
    }

    // ---- background failures: stop_broker, expect_error_event, expect_log

    // Every error a client's callback received (shared with the callback, which may outlive a step).
    struct ErrorLog {
        std::mutex lock;
        std::vector<odradek::KafkaError> seen;
    };
    // Log records at warn and more severe, captured from stop_broker on.
    struct LogCapture {
        std::mutex lock;
        std::vector<std::pair<odradek::LogLevel, std::string>> records;
    };

    template <typename Client>
    void watch_errors(const std::string& name, Client& client) {
        auto log = std::make_shared<ErrorLog>();
        error_logs_[name] = log;
        client.set_error_callback([log](const odradek::KafkaError& e) {
            std::lock_guard<std::mutex> guard(log->lock);
            log->seen.push_back(e);
        });
    }

    // Runs a background-failure op; false when `op` is not one.
    bool events_step(const std::string& op, const json& step) {
        if (op == "stop_broker") {
            if (!logs_) {
                auto logs = std::make_shared<LogCapture>();
                odradek::set_log_handler(odradek::LogLevel::Warn,
                                         [logs](odradek::LogLevel level, const std::string&, const std::string& message) {
                                             std::lock_guard<std::mutex> guard(logs->lock);
                                             logs->records.emplace_back(level, message);
                                         });
                logs_ = logs;
            }
            if (!broker_) fail("stop_broker in a scenario without a single broker");
            broker_->stop();
        } else if (op == "expect_error_event") {
            std::string name = step.at("client");
            auto it = error_logs_.find(name);
            if (it == error_logs_.end()) fail("no client named " + name);
            auto names = step.at("names").get<std::vector<std::string>>();
            auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step.at("timeout_ms").get<int>());
            while (true) {
                std::optional<odradek::KafkaError> hit;
                std::string received;
                {
                    std::lock_guard<std::mutex> guard(it->second->lock);
                    for (const auto& e : it->second->seen) {
                        received += e.name() + " (" + e.what() + "); ";
                        if (!hit && std::find(names.begin(), names.end(), e.name()) != names.end()) hit = e;
                    }
                }
                if (hit) {
                    if (step.contains("retriable") && step["retriable"].get<bool>() != hit->retriable()) {
                        fail("error event " + hit->name() + ": expected retriable=" + step["retriable"].dump());
                    }
                    break;
                }
                if (std::chrono::steady_clock::now() > deadline) {
                    fail("no error event named " + step["names"].dump() + " within " + step["timeout_ms"].dump() +
                         " ms; received " + received);
                }
                std::this_thread::sleep_for(50ms);
            }
        } else if (op == "expect_log") {
            std::string level = step.at("level");
            if (level != "warn" && level != "error") fail("level " + level + " is not warn or error");
            // LogLevel numbers the most severe first.
            auto least = level == "warn" ? odradek::LogLevel::Warn : odradek::LogLevel::Error;
            if (!logs_) fail("expect_log before stop_broker: no log capture");
            auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step.at("timeout_ms").get<int>());
            while (true) {
                std::string captured;
                {
                    std::lock_guard<std::mutex> guard(logs_->lock);
                    for (const auto& [l, message] : logs_->records) {
                        if (l <= least) return true;
                        captured += message + "; ";
                    }
                }
                if (std::chrono::steady_clock::now() > deadline) {
                    fail("no log record at " + level + " or above within " + step["timeout_ms"].dump() + " ms; captured " +
                         captured);
                }
                std::this_thread::sleep_for(50ms);
            }
        } else {
            return false;
        }
        return true;
    }

public:
    ~Runner() {
        if (logs_) odradek::set_log_handler(odradek::LogLevel::Warn, nullptr);
    }

private:

    // The admin ops (and the consumer's watermarks and offsets_for_times) of the admin scenario.
    void admin_step(const std::string& op, const json& step) {
        odradek::Admin admin(client_config(json::object()));
        if (op == "watermarks") {
            auto [low, high] = consumer(step.at("client")).watermarks(step.at("topic").get<std::string>(),
                                                                     step.at("partition").get<int>());
            auto want = step.at("expect").get<std::vector<std::int64_t>>();
            if (want != std::vector<std::int64_t>{low, high}) {
                fail("watermarks: expected " + step["expect"].dump() + ", got [" + std::to_string(low) + ", " +
                     std::to_string(high) + "]");
            }
        } else if (op == "offsets_for_times") {
            std::vector<odradek::TopicPartitionOffset> times;
            for (const auto& q : step.at("partitions")) times.push_back({q.at("topic"), q.at("partition"), q.at("timestamp")});
            consumer(step.at("client")).offsets_for_times(times);
            std::vector<std::int64_t> got;
            for (const auto& t : times) got.push_back(t.offset);
            if (got != step.at("expect").get<std::vector<std::int64_t>>()) {
                fail("offsets_for_times: expected " + step["expect"].dump() + ", got " + json(got).dump());
            }
        } else if (op == "describe_cluster") {
            auto cluster = admin.describe_cluster();
            bool controller = std::any_of(cluster.brokers.begin(), cluster.brokers.end(),
                                          [&](const auto& b) { return b.id == cluster.controller_id; });
            if (cluster.brokers.size() != step.at("brokers").get<std::size_t>() || !controller) {
                fail("describe_cluster: expected " + step["brokers"].dump() + " brokers with the controller, got " +
                     std::to_string(cluster.brokers.size()));
            }
        } else if (op == "describe_group") {
            auto g = admin.describe_groups({step.at("group").get<std::string>()}).at(0);
            if (g.state != step.at("state").get<std::string>() || g.members.size() != step.at("members").get<std::size_t>()) {
                fail("describe_group: expected " + step["state"].dump() + " with " + step["members"].dump() +
                     " members, got " + g.state + " with " + std::to_string(g.members.size()));
            }
        } else if (op == "group_lag") {
            auto lags = admin.group_lag(step.at("group").get<std::string>());
            std::sort(lags.begin(), lags.end(), [](const auto& a, const auto& b) {
                return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
            });
            const auto& want = step.at("expect");
            if (lags.size() != want.size()) fail("group_lag: expected " + want.dump() + ", got " + std::to_string(lags.size()) + " partitions");
            for (std::size_t i = 0; i < lags.size(); ++i) {
                const auto& l = lags[i];
                for (auto& [k, v] : want[i].items()) {
                    json got;
                    if (k == "topic") got = l.topic;
                    else if (k == "partition") got = l.partition;
                    else if (k == "committed") got = l.committed.value_or(-1);  // the scenarios' "none"
                    else if (k == "log_end") got = l.log_end;
                    else if (k == "lag") got = l.lag;
                    else fail("group_lag: unknown key " + k);
                    if (got != v) fail("group_lag [" + std::to_string(i) + "]." + k + ": expected " + v.dump() + ", got " + got.dump());
                }
            }
        } else if (op == "alter_group_offsets") {
            std::vector<odradek::TopicPartitionOffset> offsets;
            for (const auto& o : step.at("offsets")) offsets.push_back({o.at("topic"), o.at("partition"), o.at("offset")});
            admin.alter_group_offsets(step.at("group").get<std::string>(), offsets);
        } else if (op == "delete_group") {
            admin.delete_groups({step.at("group").get<std::string>()});
        } else if (op == "alter_config") {
            std::vector<odradek::ConfigChange> changes;
            for (auto& [k, v] : step.at("set").items()) changes.push_back({k, v.get<std::string>()});
            admin.alter_configs({odradek::ResourceType::Topic, step.at("topic").get<std::string>()}, changes);
        } else if (op == "describe_config") {
            auto entries = admin.describe_configs({odradek::ResourceType::Topic, step.at("topic").get<std::string>()});
            for (auto& [k, v] : step.at("expect").items()) {
                auto e = std::find_if(entries.begin(), entries.end(), [&](const auto& c) { return c.name == k; });
                std::string seen = e == entries.end() || !e->value ? "nothing" : *e->value;
                if (seen != v.get<std::string>()) fail("describe_config: " + k + " expected " + v.dump() + ", got " + seen);
            }
        } else if (op == "delete_records") {
            auto low = admin.delete_records({{step.at("topic"), step.at("partition"), step.at("offset")}});
            if (step.contains("expect") && (low.size() != 1 || low[0].offset != step["expect"].get<std::int64_t>())) {
                fail("delete_records: expected low watermark " + step["expect"].dump());
            }
        } else {
            fail("unknown op '" + op + "'");
        }
    }

    void produce(const json& step) {
        auto& p = producer(step);
        std::string topic = step.at("topic");
        // Keep the bytes alive until send() copied them (it does before returning).
        std::vector<std::future<odradek::DeliveryReport>> futures;
        auto send = [&](const OptBytes& key, const OptBytes& value, const json* rec) {
            odradek::ProducerRecord r(topic);
            if (key) r.key(*key);
            if (value) r.value(*value);
            std::vector<std::pair<std::string, OptBytes>> headers;
            if (rec) {
                for (auto& [k, _] : rec->items()) {
                    if (k != "key" && k != "value" && k != "headers" && k != "partition" && k != "timestamp") {
                        fail("unknown record key " + k);
                    }
                }
                if (rec->contains("partition")) r.partition((*rec)["partition"].get<int>());
                if (rec->contains("timestamp")) r.timestamp((*rec)["timestamp"].get<std::int64_t>());
                if (rec->contains("headers")) {
                    for (const auto& h : (*rec)["headers"]) headers.emplace_back(h.at(0).get<std::string>(), bytes_of(h.at(1)));
                }
            }
            for (const auto& [name, v] : headers) r.header(name, v ? odradek::Bytes(*v) : odradek::Bytes(nullptr));
            futures.push_back(p.send(r));
        };
        if (step.contains("records")) {
            for (const auto& rec : step["records"]) {
                OptBytes key = rec.contains("key") ? bytes_of(rec["key"]) : std::nullopt;
                OptBytes value = rec.contains("value") ? bytes_of(rec["value"]) : std::nullopt;
                send(key, value, &rec);
            }
        }
        if (step.contains("generate")) {
            for (const auto& [k, v] : generated(step["generate"])) send(k, v, nullptr);
        }
        std::vector<odradek::DeliveryReport> reports;
        for (std::size_t i = 0; i < futures.size(); ++i) {
            try {
                reports.push_back(futures[i].get());
                if (step.contains("expect_error")) {
                    fail("record " + std::to_string(i) + ": expected error " + step["expect_error"].dump() +
                         ", but it was delivered");
                }
            } catch (const odradek::KafkaError& e) {
                if (!step.contains("expect_error")) {
                    fail("record " + std::to_string(i) + " failed: " + e.name() + ": " + e.what());
                }
                check_error(step["expect_error"], e);
            }
        }
        if (step.contains("expect")) {
            const auto& expect = step["expect"];
            if (expect.size() != reports.size()) fail("expect has a different length than the records sent");
            for (std::size_t i = 0; i < reports.size(); ++i) {
                for (auto& [k, v] : expect[i].items()) {
                    std::int64_t got;
                    if (k == "partition") got = reports[i].partition;
                    else if (k == "offset") got = reports[i].offset;
                    else fail("unknown report field " + k);
                    if (got != v.get<std::int64_t>()) {
                        fail("record " + std::to_string(i) + ": expected " + k + " " + v.dump() + ", got " +
                             std::to_string(got));
                    }
                }
            }
        }
    }

    static Rec to_rec(const odradek::Message& m) {
        Rec r;
        r.topic = std::string(m.topic());
        r.partition = m.partition();
        r.offset = m.offset();
        if (auto k = m.key()) r.key = std::string(*k);
        if (auto v = m.value()) r.value = std::string(*v);
        for (const auto& h : m.headers()) {
            r.headers.emplace_back(std::string(h.key), h.value ? OptBytes(std::string(*h.value)) : std::nullopt);
        }
        return r;
    }

    void poll_into(const std::string& name, std::size_t max, std::chrono::milliseconds timeout) {
        for (const auto& m : consumer(name).poll_batch(max, timeout)) buffered_[name].push_back(to_rec(m));
    }

    // One record per poll(), as a read loop does: what the fetch brought beyond them stays in
    // the consumer.
    void iterate(const json& step) {
        std::string name = step.at("client");
        if (!buffered_[name].empty()) fail("records were already buffered");
        std::size_t count = step.at("count").get<std::size_t>();
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step.at("timeout_ms").get<int>());
        std::vector<Rec> got;
        while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
            if (auto m = consumer(name).poll(100ms)) got.push_back(to_rec(*m));
        }
        if (got.size() < count) {
            fail("expected " + std::to_string(count) + " records, got " + std::to_string(got.size()));
        }
        if (step.contains("expect")) {
            const auto& expect = step["expect"];
            if (expect.size() > got.size()) fail("expect lists more records than count");
            for (std::size_t i = 0; i < expect.size(); ++i) check_record(i, expect[i], got[i]);
        }
    }

    void consume(const json& step) {
        std::string name = step.at("client");
        std::size_t count = step.at("count").get<std::size_t>();
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step.at("timeout_ms").get<int>());
        auto& buffered = buffered_[name];
        while (buffered.size() < count && std::chrono::steady_clock::now() < deadline) {
            poll_into(name, count - buffered.size(), 100ms);
        }
        if (buffered.size() < count) {
            fail("expected " + std::to_string(count) + " records, got " + std::to_string(buffered.size()));
        }
        std::vector<Rec> got(buffered.begin(), buffered.begin() + static_cast<std::ptrdiff_t>(count));
        buffered.erase(buffered.begin(), buffered.begin() + static_cast<std::ptrdiff_t>(count));
        std::stable_sort(got.begin(), got.end(), [](const Rec& a, const Rec& b) {
            return std::tie(a.topic, a.partition, a.offset) < std::tie(b.topic, b.partition, b.offset);
        });
        if (step.contains("expect")) {
            const auto& expect = step["expect"];
            if (expect.size() > got.size()) fail("expect lists more records than count");
            for (std::size_t i = 0; i < expect.size(); ++i) check_record(i, expect[i], got[i]);
        }
        if (step.contains("generate")) {
            std::multiset<std::pair<OptBytes, OptBytes>> want, have;
            for (auto& kv : generated(step["generate"])) want.insert(kv);
            for (auto& r : got) have.insert({r.key, r.value});
            if (want != have) {
                std::ostringstream msg;
                msg << "received records differ from the generated ones (" << want.size() << " expected, "
                    << have.size() << " received)";
                for (auto& kv : want) {
                    if (!have.count(kv)) {
                        msg << "; first missing: key " << show(kv.first) << " value " << show(kv.second);
                        break;
                    }
                }
                fail(msg.str());
            }
        }
    }

    static void check_record(std::size_t i, const json& want, const Rec& got) {
        auto where = "record " + std::to_string(i) + " (" + got.topic + "/" + std::to_string(got.partition) + "@" +
                     std::to_string(got.offset) + "): ";
        for (auto& [k, v] : want.items()) {
            if (k == "topic") {
                if (got.topic != v.get<std::string>()) fail(where + "topic " + got.topic);
            } else if (k == "partition") {
                if (got.partition != v.get<int>()) fail(where + "expected partition " + v.dump());
            } else if (k == "offset") {
                if (got.offset != v.get<std::int64_t>()) fail(where + "expected offset " + v.dump());
            } else if (k == "key") {
                if (got.key != bytes_of(v)) fail(where + "key " + show(got.key) + ", expected " + show(bytes_of(v)));
            } else if (k == "value") {
                if (got.value != bytes_of(v)) fail(where + "value " + show(got.value) + ", expected " + show(bytes_of(v)));
            } else if (k == "headers") {
                std::vector<std::pair<std::string, OptBytes>> hs;
                for (const auto& h : v) hs.emplace_back(h.at(0).get<std::string>(), bytes_of(h.at(1)));
                if (hs != got.headers) {
                    std::string seen;
                    for (auto& [n, hv] : got.headers) seen += " " + n + "=" + show(hv);
                    fail(where + "headers differ; got" + (seen.empty() ? " none" : seen));
                }
            } else {
                fail("unknown expect field " + k);
            }
        }
    }

    odradek::ShareConsumer& share(const std::string& name) {
        auto it = shares_.find(name);
        if (it == shares_.end()) fail("no share consumer named " + name);
        return *it->second;
    }

    // Polls until assigned, then once more: the share-partition starts at the log's end when
    // first fetched.
    void share_subscribe(const json& step) {
        auto& c = share(step.at("client"));
        c.subscribe(step.at("topics").get<std::vector<std::string>>());
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step.at("timeout_ms").get<int>());
        while (true) {
            bool assigned = !c.assignment().empty();
            if (!c.poll(100ms).empty()) fail("a record arrived before any was produced");
            if (assigned) return;
            if (std::chrono::steady_clock::now() > deadline) fail("no share assignment in time");
        }
    }

    void share_poll(const json& step) {
        std::string name = step.at("client");
        auto& c = share(name);
        std::size_t count = step.at("count").get<std::size_t>();
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step.at("timeout_ms").get<int>());
        std::vector<odradek::Message> got;
        while (true) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            for (auto& m : c.poll(std::clamp(left, 0ms, std::chrono::milliseconds(200)))) got.push_back(std::move(m));
            bool done = count == 0 ? !got.empty() : got.size() >= count;
            if (done || std::chrono::steady_clock::now() >= deadline) break;
        }
        auto& received = received_[name];
        received.insert(received.end(), got.begin(), got.end());
        if (got.size() != count) {
            fail("received " + std::to_string(got.size()) + " records, expected " + std::to_string(count));
        }
        std::stable_sort(got.begin(), got.end(), [](const odradek::Message& a, const odradek::Message& b) {
            return std::make_tuple(a.topic(), a.partition(), a.offset()) <
                   std::make_tuple(b.topic(), b.partition(), b.offset());
        });
        if (!step.contains("expect")) return;
        const auto& expect = step["expect"];
        if (expect.size() != got.size()) fail("expect has a different length than count");
        for (std::size_t i = 0; i < got.size(); ++i) {
            json fields = expect[i];
            if (fields.contains("delivery_count")) {
                auto want = fields["delivery_count"].get<std::int16_t>();
                fields.erase("delivery_count");
                if (got[i].delivery_count() != want) {
                    fail("record " + std::to_string(i) + ": expected delivery_count " + std::to_string(want) + ", got " +
                         std::to_string(got[i].delivery_count().value_or(-1)));
                }
            }
            check_record(i, fields, to_rec(got[i]));
        }
    }

    void acknowledge(const json& step) {
        std::string name = step.at("client"), topic = step.at("topic"), type = step.at("type");
        static const std::map<std::string, odradek::AcknowledgeType> types = {
            {"accept", odradek::AcknowledgeType::Accept},
            {"release", odradek::AcknowledgeType::Release},
            {"reject", odradek::AcknowledgeType::Reject}};
        auto kind = types.find(type);
        if (kind == types.end()) fail("unknown acknowledge type " + type);
        int partition = step.at("partition");
        for (const auto& o : step.at("offsets")) {
            auto offset = o.get<std::int64_t>();
            const auto& received = received_[name];
            auto found = std::find_if(received.rbegin(), received.rend(), [&](const odradek::Message& m) {
                return m.topic() == topic && m.partition() == partition && m.offset() == offset;
            });
            if (found == received.rend()) fail("no record " + topic + "@" + std::to_string(offset) + " was received");
            share(name).acknowledge(*found, kind->second);
        }
    }

    void wait_assignment(const json& step) {
        auto clients = step.at("clients").get<std::vector<std::string>>();
        std::string topic = step.at("topic");
        int partitions = step.at("partitions");
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step.at("timeout_ms").get<int>());
        std::string last;
        while (true) {
            std::vector<int> owner(static_cast<std::size_t>(partitions), 0);
            bool ok = true;
            std::ostringstream seen;
            for (const auto& c : clients) {
                int owned = 0;
                seen << c << ":";
                for (const auto& tp : consumer(c).assignment()) {
                    if (tp.topic != topic) continue;
                    seen << " " << tp.partition;
                    if (tp.partition < 0 || tp.partition >= partitions) { ok = false; continue; }
                    owner[static_cast<std::size_t>(tp.partition)]++;
                    owned++;
                }
                seen << "; ";
                if (partitions >= static_cast<int>(clients.size()) && owned == 0) ok = false;
            }
            for (int n : owner) ok = ok && n == 1;
            last = seen.str();
            if (ok) return;
            if (std::chrono::steady_clock::now() > deadline) fail("assignment did not settle: " + last);
            for (const auto& c : clients) poll_into(c, 500, 50ms);
        }
    }

    json scenario_;
    std::unique_ptr<odradek::testing::Broker> broker_;
    // The cluster of a "cluster" scenario, and node ids by the names leader steps bound.
    std::unique_ptr<odradek::testing::Cluster> cluster_;
    std::map<std::string, int> nodes_;
    std::map<std::string, std::unique_ptr<odradek::Producer>> producers_;
    std::map<std::string, std::unique_ptr<odradek::Consumer>> consumers_;
    std::map<std::string, std::deque<Rec>> buffered_;
    std::map<std::string, std::unique_ptr<odradek::ShareConsumer>> shares_;
    // Every record share_poll handed out, per share consumer, for acknowledge to find by offset.
    std::map<std::string, std::vector<odradek::Message>> received_;
    // Failures inside on_revoked ("on_revoke": "commit"), reported after the step.
    std::mutex callback_lock_;
    std::vector<std::string> callback_errors_;
    // stop_broker, expect_error_event, expect_log
    std::map<std::string, std::shared_ptr<ErrorLog>> error_logs_;
    std::shared_ptr<LogCapture> logs_;
};

std::vector<std::string> scenario_files() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(ODRADEK_SCENARIO_DIR)) {
        if (e.path().extension() == ".json") out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, Scenario) {
    std::ifstream in(GetParam());
    ASSERT_TRUE(in) << "cannot read " << GetParam();
    json scenario = json::parse(in);
    for (auto& [k, _] : scenario.items()) {
        ASSERT_TRUE(k == "name" || k == "description" || k == "broker_config" || k == "security" ||
                    k == "cluster" || k == "steps")
            << "unknown scenario key " << k;
    }
    Runner(scenario).run();
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Conformance, ::testing::ValuesIn(scenario_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return std::filesystem::path(info.param).stem().string();
                         });

TEST(ConformanceFiles, ThereAreScenarios) { EXPECT_GE(scenario_files().size(), 7u); }

}  // namespace

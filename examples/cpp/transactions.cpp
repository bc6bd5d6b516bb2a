// Exactly-once consume-transform-produce from C++: reads "orders" as a member of a group
// (read_committed), writes one upper-cased record per input to "orders-upper", and commits the
// input offsets in the same transaction. Killed and started again with the same
// transactional.id, it fences its previous self and resumes from the last committed
// transaction: no output is seen twice by read_committed readers.
//
//   transactions                    starts a broker inside the process and writes four inputs
//   transactions 127.0.0.1:9092     uses that broker (the topics must exist)
#include <odradek/odradek.hpp>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    try {
        std::optional<odradek::testing::Broker> embedded;
        std::string bootstrap;
        std::size_t expected = std::numeric_limits<std::size_t>::max();
        if (argc > 1) {
            bootstrap = argv[1];
        } else {
            embedded.emplace();
            bootstrap = embedded->bootstrap_servers();
            odradek::Admin admin({{"bootstrap.servers", bootstrap}});
            admin.create_topic("orders", 2);
            admin.create_topic("orders-upper", 2);
            odradek::Producer seed({{"bootstrap.servers", bootstrap}});
            const char* inputs[] = {"apple", "pear", "plum", "fig"};
            for (int i = 0; i < 4; ++i) seed.send(odradek::ProducerRecord("orders").partition(i % 2).value(inputs[i])).get();
            expected = 4;
        }

        odradek::Producer producer({{"bootstrap.servers", bootstrap}, {"transactional.id", "orders-upper-1"}});
        producer.init_transactions(std::chrono::seconds(30));
        odradek::Consumer consumer({{"bootstrap.servers", bootstrap},
                                    {"group.id", "orders-upper"},
                                    {"auto.offset.reset", "earliest"},
                                    {"enable.auto.commit", "false"},
                                    {"isolation.level", "read_committed"}});
        consumer.subscribe({"orders"});
        std::size_t done = 0;
        while (done < expected) {
            std::vector<odradek::Message> batch;
            std::optional<odradek::Message> m = consumer.poll(std::chrono::seconds(3));
            while (m) {
                batch.push_back(std::move(*m));
                m = batch.size() < 100 ? consumer.poll(std::chrono::milliseconds(100)) : std::nullopt;
            }
            if (batch.empty()) break;  // idle
            producer.begin_transaction();
            try {
                std::map<std::int32_t, std::int64_t> next;
                for (const auto& in : batch) {
                    std::string upper(in.value().value_or(""));
                    std::transform(upper.begin(), upper.end(), upper.begin(),
                                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
                    // Delivery is checked by commit_transaction.
                    producer.send(odradek::ProducerRecord("orders-upper").partition(in.partition()).value(upper));
                    next[in.partition()] = in.offset() + 1;
                }
                std::vector<odradek::TopicPartitionOffset> offsets;
                for (const auto& [partition, offset] : next) offsets.push_back({"orders", partition, offset});
                // The consumer's generation and member id go with the offsets (KIP-447).
                producer.send_offsets_to_transaction(offsets, consumer.group_metadata(), std::chrono::seconds(30));
                producer.commit_transaction(std::chrono::seconds(30));
            } catch (const odradek::KafkaError& e) {
                // Nothing of this batch is visible; a restart reads it again from the committed offsets.
                if (e.txn_requires_abort()) producer.abort_transaction(std::chrono::seconds(30));
                throw;
            }
            done += batch.size();
        }
        std::cout << "transformed " << done << " records exactly once\n";
        return 0;
    } catch (const odradek::KafkaError& e) {
        std::cerr << "error " << e.name() << " (" << e.code() << "): " << e.what() << "\n";
        return 1;
    }
}

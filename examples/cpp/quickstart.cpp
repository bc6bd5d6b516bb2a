// odradek from C++: produce ten records, read them back, with an embedded broker (or yours).
//
//   quickstart                    starts a broker inside the process (odradek::testing::Broker)
//   quickstart 127.0.0.1:9092     uses that broker instead
#include <odradek/odradek.hpp>

#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    try {
        std::optional<odradek::testing::Broker> embedded;
        std::string bootstrap;
        if (argc > 1) {
            bootstrap = argv[1];
        } else {
            embedded.emplace();
            bootstrap = embedded->bootstrap_servers();
        }
        std::cout << "broker " << bootstrap << "\n";

        odradek::Admin admin({{"bootstrap.servers", bootstrap}});
        try {
            admin.create_topic("greetings", 3);
        } catch (const odradek::KafkaError& e) {
            if (e.name() != "TOPIC_ALREADY_EXISTS") throw;
        }

        odradek::Producer producer({{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}});
        std::vector<std::future<odradek::DeliveryReport>> pending;
        for (int i = 0; i < 10; ++i) {
            std::string key = "user-" + std::to_string(i % 3);
            std::string value = "hello " + std::to_string(i);
            pending.push_back(producer.send(
                odradek::ProducerRecord("greetings").key(key).value(value).header("source", "quickstart")));
        }
        for (auto& f : pending) {
            odradek::DeliveryReport r = f.get();  // throws odradek::KafkaError if it failed
            std::cout << "delivered to partition " << r.partition << " offset " << r.offset << "\n";
        }

        odradek::Consumer consumer({{"bootstrap.servers", bootstrap}});
        consumer.assign({{"greetings", 0, odradek::offsets::beginning},
                         {"greetings", 1, odradek::offsets::beginning},
                         {"greetings", 2, odradek::offsets::beginning}});
        int seen = 0;
        while (seen < 10) {
            std::optional<odradek::Message> m = consumer.poll(std::chrono::seconds(10));
            if (!m) {
                std::cerr << "no record within 10 s\n";
                return 1;
            }
            ++seen;
            std::cout << m->partition() << "@" << m->offset() << " " << m->key().value_or("(null)")
                      << " = " << m->value().value_or("(null)") << "\n";
        }
        std::cout << "read " << seen << " records\n";
        return 0;
    } catch (const odradek::KafkaError& e) {
        std::cerr << "error " << e.name() << " (" << e.code() << "): " << e.what() << "\n";
        return 1;
    }
}

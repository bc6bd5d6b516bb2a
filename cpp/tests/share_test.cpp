// odradek::ShareConsumer (KIP-932) against the embedded broker, in explicit acknowledgement mode:
// delivery counts, release, reject, the refusal to poll past unacknowledged records, commit,
// close. A Consumer's records have no delivery count.
#include <odradek/odradek.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::vector<odradek::Message> poll_n(odradek::ShareConsumer& c, std::size_t n) {
    std::vector<odradek::Message> out;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
        for (auto& m : c.poll(300ms)) out.push_back(std::move(m));
    }
    return out;
}

}  // namespace

TEST(ShareConsumer, ReleaseRedeliversRejectDiscardsExplicitModeInsists) {
    odradek::testing::Broker broker;
    const std::string bootstrap = broker.bootstrap_servers();
    odradek::Admin admin({{"bootstrap.servers", bootstrap}});
    admin.create_topic("share", 1);
    try {
        odradek::ShareConsumer nogroup({{"bootstrap.servers", bootstrap}});
        FAIL() << "a share consumer without group.id";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "_INVALID_CONFIG");
    }
    odradek::ShareConsumer c({{"bootstrap.servers", bootstrap},
                              {"group.id", "cpp-share"},
                              {"share.acknowledgement.mode", "explicit"}});
    c.subscribe({"share"});
    // The share-partition starts at the log's end when first fetched: wait for the assignment,
    // fetch once, then produce.
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (c.assignment().empty() && std::chrono::steady_clock::now() < deadline) {
        EXPECT_TRUE(c.poll(100ms).empty());
    }
    auto assigned = c.assignment();
    ASSERT_EQ(assigned.size(), 1u);
    EXPECT_EQ(assigned[0].topic, "share");
    EXPECT_EQ(assigned[0].partition, 0);
    EXPECT_TRUE(c.poll(100ms).empty());

    {
        odradek::Producer p({{"bootstrap.servers", bootstrap}});
        for (const char* v : {"accept", "release", "reject"}) {
            p.send(odradek::ProducerRecord("share").partition(0).value(v)).get();
        }
    }
    auto first = poll_n(c, 3);
    ASSERT_EQ(first.size(), 3u);
    const char* want[] = {"accept", "release", "reject"};
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(first[i].value().value_or("<null>"), want[i]);
        EXPECT_EQ(first[i].delivery_count().value_or(-1), 1);
    }
    c.acknowledge(first[0]);
    EXPECT_THROW(c.poll(10ms), odradek::KafkaError);
    EXPECT_THROW(c.acknowledge(first[0], odradek::AcknowledgeType::Reject), odradek::KafkaError);
    c.acknowledge(first[1], odradek::AcknowledgeType::Release);
    c.acknowledge(first[2], odradek::AcknowledgeType::Reject);

    auto again = poll_n(c, 1);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].value().value_or("<null>"), "release");
    EXPECT_EQ(again[0].delivery_count().value_or(-1), 2);
    c.acknowledge(again[0], odradek::AcknowledgeType::Accept);
    c.commit_sync();
    EXPECT_TRUE(c.poll(300ms).empty());
    c.commit_async();
    c.close();
    c.close();

    // A classic consumer's records carry no delivery count.
    odradek::Consumer plain({{"bootstrap.servers", bootstrap}});
    plain.assign({{"share", 0, odradek::offsets::beginning}});
    auto m = plain.poll(10s);
    ASSERT_TRUE(m.has_value());
    EXPECT_FALSE(m->delivery_count().has_value());
}

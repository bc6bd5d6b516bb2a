// Admin beyond topics (configs, records, the cluster, groups, ACLs and SCRAM users) and the
// consumer's offsets_for_times, against the embedded broker.
#include <odradek/odradek.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

class AdminTest : public ::testing::Test {
protected:
    odradek::testing::Broker broker{{{"num.partitions", "1"}}};
    odradek::Config with(odradek::Config c = {}) const {
        c["bootstrap.servers"] = broker.bootstrap_servers();
        return c;
    }
    void produce(const std::string& topic, std::int32_t partition, int count, std::int64_t first_timestamp = 0) {
        odradek::Producer p(with());
        for (int i = 0; i < count; i++) {
            odradek::ProducerRecord r(topic);
            r.partition(partition).value("v");
            if (first_timestamp > 0) r.timestamp(first_timestamp + i * 60000);
            p.send(r).get();
        }
    }
};

}  // namespace

TEST_F(AdminTest, ConfigsAreSetDescribedAndReverted) {
    odradek::Admin admin(with());
    admin.create_topic("cpp-cfg", 1);
    odradek::ConfigResource topic{odradek::ResourceType::Topic, "cpp-cfg"};
    admin.alter_configs(topic, {{"retention.ms", std::string("3600000")}});
    auto entries = admin.describe_configs(topic, {"retention.ms"});
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].value, std::optional<std::string>("3600000"));
    EXPECT_FALSE(entries[0].is_default);
    admin.alter_configs(topic, {{"retention.ms", std::nullopt}});
    EXPECT_TRUE(admin.describe_configs(topic, {"retention.ms"}).at(0).is_default);
    try {
        admin.describe_configs({odradek::ResourceType::Group, "g"});
        FAIL() << "configs of a group";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "_INVALID_ARG") << e.what();
    }
}

TEST_F(AdminTest, ClusterRecordsAndOffsetsForTimes) {
    odradek::Admin admin(with());
    auto cluster = admin.describe_cluster();
    EXPECT_FALSE(cluster.cluster_id.empty());
    ASSERT_EQ(cluster.brokers.size(), 1u);
    EXPECT_EQ(cluster.brokers[0].id, cluster.controller_id);

    admin.create_topic("cpp-times", 1);
    const std::int64_t first = 1700000000000;
    produce("cpp-times", 0, 5, first);
    odradek::Consumer consumer(with());
    std::vector<odradek::TopicPartitionOffset> times{{"cpp-times", 0, first + 2 * 60000}, {"cpp-times", 0, first + 86400000}};
    consumer.offsets_for_times(times);
    EXPECT_EQ(times[0].offset, 2);
    EXPECT_EQ(times[1].offset, odradek::offsets::end);

    auto low = admin.delete_records({{"cpp-times", 0, 3}});
    ASSERT_EQ(low.size(), 1u);
    EXPECT_EQ(low[0].offset, 3);
    EXPECT_EQ(consumer.watermarks("cpp-times", 0).first, 3);
}

TEST_F(AdminTest, GroupOffsetsLagListingDescriptionAndDeletion) {
    odradek::Admin admin(with());
    admin.create_topic("cpp-grp", 2);
    produce("cpp-grp", 0, 4);
    admin.alter_group_offsets("cpp-group", {{"cpp-grp", 0, 1}});
    auto offsets = admin.list_group_offsets("cpp-group");
    ASSERT_EQ(offsets.size(), 1u);
    EXPECT_EQ(offsets[0].offset, 1);

    auto lag = admin.group_lag("cpp-group", {"cpp-grp"});
    ASSERT_EQ(lag.size(), 2u);
    EXPECT_EQ(lag[0].committed, std::optional<std::int64_t>(1));
    EXPECT_EQ(lag[0].log_end, 4);
    EXPECT_EQ(lag[0].lag, 3);
    EXPECT_FALSE(lag[1].committed.has_value());
    admin.alter_group_offsets("cpp-group", {{"cpp-grp", 1, 0}});

    auto groups = admin.list_groups();
    EXPECT_TRUE(std::any_of(groups.begin(), groups.end(), [](const auto& g) { return g.group_id == "cpp-group"; }));
    auto described = admin.describe_groups({"cpp-group", "cpp-never"});
    ASSERT_EQ(described.size(), 2u);
    EXPECT_EQ(described[0].state, "Empty");
    EXPECT_TRUE(described[0].members.empty());
    EXPECT_EQ(described[1].state, "Dead");

    admin.delete_group_offsets("cpp-group", {{"cpp-grp", 0}});
    // The group keeps its offset of partition 1 (a group without any is gone at once).
    ASSERT_EQ(admin.list_group_offsets("cpp-group").size(), 1u);
    admin.delete_groups({"cpp-group"});
    EXPECT_THROW(admin.delete_groups({"cpp-group"}), odradek::KafkaError);
}

TEST(AdminSecurity, AclsAndScramUsersThroughAnAuthorizingBroker) {
    auto broker = odradek::testing::Broker::sasl_ssl(
        "alice", "alice-secret",
        {{"authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"},
         {"super.users", "User:alice"}});
    odradek::Admin admin(broker.client_config());
    odradek::AclBinding grant{odradek::ResourceType::Topic, "cpp-acl-", odradek::AclPatternType::Prefixed, "User:bob",
                              "*", odradek::AclOperation::Read, odradek::AclPermission::Allow};
    admin.create_acls({grant});
    odradek::AclBindingFilter for_bob;
    for_bob.principal = "User:bob";
    auto acls = admin.describe_acls(for_bob);
    ASSERT_EQ(acls.size(), 1u);
    EXPECT_EQ(acls[0], grant);

    admin.upsert_user_scram_credential("bob", odradek::ScramMechanism::ScramSha512, "bob-secret", 4096);
    auto creds = admin.describe_user_scram_credentials({"bob"});
    ASSERT_EQ(creds.size(), 1u);
    EXPECT_EQ(creds[0].mechanism, odradek::ScramMechanism::ScramSha512);
    EXPECT_EQ(creds[0].iterations, 4096);

    auto bob = broker.client_config();
    bob["sasl.username"] = "bob";
    bob["sasl.password"] = "bob-secret";
    try {
        odradek::Admin(bob).create_acls({grant});
        FAIL() << "bob created an ACL";
    } catch (const odradek::KafkaError& e) {
        EXPECT_EQ(e.name(), "CLUSTER_AUTHORIZATION_FAILED") << e.what();
        EXPECT_EQ(std::string(e.what()).find("bob-secret"), std::string::npos) << e.what();
    }

    auto deleted = admin.delete_acls({for_bob});
    ASSERT_EQ(deleted.size(), 1u);
    EXPECT_EQ(deleted[0], grant);
    admin.delete_user_scram_credential("bob", odradek::ScramMechanism::ScramSha512);
    for (const auto& c : admin.describe_user_scram_credentials()) EXPECT_NE(c.user, "bob");
}

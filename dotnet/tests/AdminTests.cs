// The admin client's configs, records, cluster, groups, ACLs and SCRAM users, and the consumer's
// OffsetsForTimes, against the embedded broker.
using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;
using Odradek.Testing;

namespace Odradek.Tests
{
    [TestFixture]
    public class AdminTests : BrokerFixture
    {
        private static readonly TimeSpan Ten = TimeSpan.FromSeconds(10);

        private void Produce(string topic, int partition, int count, long firstTimestamp = 0)
        {
            using (var producer = new Producer(Config()))
            {
                for (int i = 0; i < count; i++)
                {
                    var m = new Message { Value = new byte[] { 1 } };
                    if (firstTimestamp > 0) m.Timestamp = firstTimestamp + i * 60000;
                    producer.ProduceAsync(new TopicPartition(topic, partition), m).Wait();
                }
            }
        }

        [Test]
        public void Configs_AreSetDescribedAndReverted()
        {
            string topic = NewTopic(1);
            var resource = new ConfigResource { Type = ResourceType.Topic, Name = topic };
            Admin.AlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
            {
                { resource, new List<ConfigEntry> { new ConfigEntry { Name = "retention.ms", Value = "3600000" } } },
            }).Wait();
            var described = Admin.DescribeConfigsAsync(new[] { resource }).Result;
            Assert.AreEqual(1, described.Count);
            var retention = described[0].Entries["retention.ms"];
            Assert.AreEqual("3600000", retention.Value);
            Assert.IsFalse(retention.IsDefault);

            Admin.AlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
            {
                { resource, new List<ConfigEntry> { new ConfigEntry { Name = "retention.ms", Value = null } } },
            }).Wait();
            Assert.IsTrue(Admin.DescribeConfigsAsync(new[] { resource }).Result[0].Entries["retention.ms"].IsDefault);

            var missing = new ConfigResource { Type = ResourceType.Topic, Name = Unique("no-such-topic") };
            var e = Assert.Throws<AggregateException>(() => Admin.DescribeConfigsAsync(new[] { missing }).Wait());
            Assert.AreEqual("UNKNOWN_TOPIC_OR_PARTITION", ((KafkaException)e.InnerException).Name);
            var bad = Assert.Throws<AggregateException>(() => Admin.DescribeConfigsAsync(new[] { new ConfigResource { Type = ResourceType.Group, Name = "g" } }).Wait());
            Assert.IsInstanceOf<ArgumentException>(bad.InnerException);
        }

        [Test]
        public void Cluster_Records_And_OffsetsForTimes()
        {
            var cluster = Admin.DescribeClusterAsync().Result;
            Assert.IsNotEmpty(cluster.ClusterId);
            Assert.AreEqual(1, cluster.Nodes.Count);
            Assert.Greater(cluster.Nodes[0].Port, 0);

            string topic = NewTopic(1);
            long first = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
            Produce(topic, 0, 5, first);
            using (var consumer = new Consumer(Config()))
            {
                var found = consumer.OffsetsForTimes(new[] { new TopicPartitionTimestamp(topic, 0, first + 2 * 60000) }, Ten);
                Assert.AreEqual(new TopicPartitionOffset(topic, 0, 2), found[0]);
                var future = consumer.OffsetsForTimes(new[] { new TopicPartitionTimestamp(topic, 0, first + 86400000L) }, Ten);
                Assert.AreEqual(Offset.End, future[0].Offset);

                var low = Admin.DeleteRecordsAsync(new[] { new TopicPartitionOffset(topic, 0, 3) }).Result;
                Assert.AreEqual(new TopicPartitionOffset(topic, 0, 3), low[0]);
                Assert.AreEqual(3L, consumer.QueryWatermarkOffsets(new TopicPartition(topic, 0), Ten).Low.Value);
            }
        }

        [Test]
        public void Groups_OffsetsLagListingDescriptionAndDeletion()
        {
            string topic = NewTopic(2);
            Produce(topic, 0, 4);
            string group = Unique("dotnet-admin-group");
            Admin.AlterConsumerGroupOffsetsAsync(group, new[] { new TopicPartitionOffset(topic, 0, 1) }).Wait();
            CollectionAssert.AreEqual(new[] { new TopicPartitionOffset(topic, 0, 1) }, Admin.ListConsumerGroupOffsetsAsync(group).Result);

            var lag = Admin.ListConsumerGroupLagAsync(group, new[] { topic }).Result;
            Assert.AreEqual(2, lag.Count);
            Assert.AreEqual(new Offset(1), lag[0].Committed);
            Assert.AreEqual(4, lag[0].LogEndOffset);
            Assert.AreEqual(3, lag[0].Lag);
            Assert.AreEqual(Offset.Unset, lag[1].Committed);
            Assert.AreEqual(0, lag[1].Lag);
            Admin.AlterConsumerGroupOffsetsAsync(group, new[] { new TopicPartitionOffset(topic, 1, 0) }).Wait();

            Assert.IsTrue(Admin.ListConsumerGroupsAsync().Result.Any(g => g.GroupId == group));
            var described = Admin.DescribeConsumerGroupsAsync(new[] { group, Unique("never") }).Result;
            Assert.AreEqual("Empty", described[0].State);
            Assert.IsEmpty(described[0].Members);
            Assert.AreEqual("Dead", described[1].State);

            // The group keeps its offsets of partition 1 (a group without any is gone at once).
            Admin.DeleteConsumerGroupOffsetsAsync(group, new[] { new TopicPartition(topic, 0) }).Wait();
            CollectionAssert.AreEqual(new[] { new TopicPartitionOffset(topic, 1, 0) }, Admin.ListConsumerGroupOffsetsAsync(group).Result);
            Admin.DeleteGroupsAsync(new[] { group }).Wait();
            Assert.Throws<AggregateException>(() => Admin.DeleteGroupsAsync(new[] { group }).Wait());
        }

        [Test]
        public void AclsAndScramUsers_ThroughAnAuthorizingBroker()
        {
            var props = new Dictionary<string, string>
            {
                { "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer" },
                { "super.users", "User:alice" },
            };
            using (var broker = Broker.StartSaslSsl("alice", "alice-secret", props))
            using (var admin = new AdminClient(broker.ClientConfig()))
            {
                var grant = new AclBinding
                {
                    Type = ResourceType.Topic, Name = "dotnet-acl-", ResourcePatternType = ResourcePatternType.Prefixed,
                    Principal = "User:bob", Host = "*", Operation = AclOperation.Read, PermissionType = AclPermissionType.Allow,
                };
                admin.CreateAclsAsync(new[] { grant }).Wait();
                var forBob = new AclBindingFilter
                {
                    Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any, Principal = "User:bob",
                    Operation = AclOperation.Any, PermissionType = AclPermissionType.Any,
                };
                CollectionAssert.AreEqual(new[] { grant }, admin.DescribeAclsAsync(forBob).Result);

                var upsert = new UserScramCredentialUpsertion
                {
                    User = "bob", Password = "bob-secret",
                    ScramCredentialInfo = new ScramCredentialInfo { Mechanism = ScramMechanism.ScramSha512, Iterations = 4096 },
                };
                StringAssert.DoesNotContain("bob-secret", upsert.ToString());
                admin.AlterUserScramCredentialsAsync(new UserScramCredentialAlteration[] { upsert }).Wait();
                var creds = admin.DescribeUserScramCredentialsAsync(new[] { "bob" }).Result;
                Assert.AreEqual(1, creds.Count);
                Assert.AreEqual(ScramMechanism.ScramSha512, creds[0].ScramCredentialInfos[0].Mechanism);
                Assert.AreEqual(4096, creds[0].ScramCredentialInfos[0].Iterations);

                var bob = broker.ClientConfig();
                bob["sasl.username"] = "bob";
                bob["sasl.password"] = "bob-secret";
                using (var bobAdmin = new AdminClient(bob))
                {
                    var e = Assert.Throws<AggregateException>(() => bobAdmin.CreateAclsAsync(new[] { grant }).Wait());
                    Assert.AreEqual("CLUSTER_AUTHORIZATION_FAILED", ((KafkaException)e.InnerException).Name);
                }

                CollectionAssert.AreEqual(new[] { grant }, admin.DeleteAclsAsync(new[] { forBob }).Result);
                admin.AlterUserScramCredentialsAsync(new UserScramCredentialAlteration[]
                {
                    new UserScramCredentialDeletion { User = "bob", Mechanism = ScramMechanism.ScramSha512 },
                }).Wait();
                Assert.IsFalse(admin.DescribeUserScramCredentialsAsync().Result.Any(u => u.User == "bob"));
            }
        }
    }
}

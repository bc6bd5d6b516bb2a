using System;
using System.Collections.Generic;
using System.Diagnostics;
using NUnit.Framework;

namespace Odradek.Tests
{
    /// <summary>The share consumer (KIP-932) in explicit mode: three records arrive with delivery
    /// count 1; polling again before all are acknowledged throws; the released one comes back with
    /// delivery count 2, the rejected one never; after CommitSync nothing is left.</summary>
    [TestFixture]
    public class ShareConsumerTests : BrokerFixture
    {
        [Test]
        public void ReleaseRedelivers_RejectDiscards_ExplicitModeInsists()
        {
            string topic = NewTopic(1);
            var timeout = TimeSpan.FromSeconds(20);
            Assert.AreEqual("_INVALID_CONFIG", Assert.Throws<KafkaException>(() => new ShareConsumer(Config())).Name);
            using (var consumer = new ShareConsumer(Config("group.id", Unique("share"), "share.acknowledgement.mode", "explicit")))
            {
                consumer.Subscribe(topic);
                // The share-partition starts at the log's end when first fetched: wait for the
                // assignment and fetch once before producing.
                var clock = Stopwatch.StartNew();
                while (consumer.Assignment.Count == 0 && clock.Elapsed < timeout)
                    Assert.AreEqual(0, consumer.Poll(TimeSpan.FromMilliseconds(100)).Count);
                Assert.AreEqual(1, consumer.Assignment.Count);
                Assert.AreEqual(0, consumer.Poll(TimeSpan.FromMilliseconds(100)).Count);

                using (var producer = new Producer(Config()))
                {
                    foreach (var v in new[] { "accept", "release", "reject" })
                        producer.ProduceAsync(topic, Message.FromStrings(null, v)).Wait(timeout);
                }
                var first = new List<ShareConsumeResult>();
                while (first.Count < 3 && clock.Elapsed < timeout + timeout)
                    first.AddRange(consumer.Poll(TimeSpan.FromMilliseconds(300)));
                Assert.AreEqual(new[] { "accept", "release", "reject" }, first.ConvertAll(r => r.Record.ValueString).ToArray());
                Assert.IsTrue(first.TrueForAll(r => r.DeliveryCount == 1));

                consumer.Acknowledge(first[0], AcknowledgeType.Accept);
                Assert.AreEqual("_INVALID_ARG", Assert.Throws<KafkaException>(() => consumer.Poll(TimeSpan.FromMilliseconds(10))).Name);
                Assert.Throws<KafkaException>(() => consumer.Acknowledge(first[0], AcknowledgeType.Reject));
                consumer.Acknowledge(first[1], AcknowledgeType.Release);
                consumer.Acknowledge(first[2], AcknowledgeType.Reject);

                var again = new List<ShareConsumeResult>();
                while (again.Count < 1 && clock.Elapsed < timeout + timeout)
                    again.AddRange(consumer.Poll(TimeSpan.FromMilliseconds(300)));
                Assert.AreEqual(1, again.Count);
                Assert.AreEqual("release", again[0].Record.ValueString);
                Assert.AreEqual(2, again[0].DeliveryCount);
                consumer.Acknowledge(again[0], AcknowledgeType.Accept);
                consumer.CommitSync(timeout);
                Assert.AreEqual(0, consumer.Poll(TimeSpan.FromMilliseconds(300)).Count);
                consumer.CommitAsync();
                consumer.Close();
                consumer.Close();
                Assert.AreEqual("_DESTROY", Assert.Throws<KafkaException>(() => consumer.Poll(TimeSpan.FromMilliseconds(10))).Name);
            }
        }
    }
}

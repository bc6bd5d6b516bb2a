using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Odradek.Tests
{
    [TestFixture]
    public class ClientTests : BrokerFixture
    {
        private static byte[] B(string s) { return Encoding.UTF8.GetBytes(s); }

        [Test]
        public void NativeLibraryIsLoaded()
        {
            StringAssert.IsMatch(@"^\d+\.\d+\.\d+", Library.Version);
        }

        [Test]
        public void ProduceAsyncReportsWhereEachRecordWent_AndConsumeReadsThemBackByteForByte()
        {
            string topic = NewTopic(1);
            var sent = new List<Message>
            {
                new Message { Key = B("k0"), Value = B("hello") },
                new Message { Key = null, Value = B("no key") },
                new Message { Key = new byte[0], Value = new byte[0] },
                new Message { Key = new byte[] { 0, 0xff, 0x7f, 0x80 }, Value = new byte[] { 0xde, 0xad, 0xbe, 0xef, 0 } },
                new Message { Key = B("tombstone"), Value = null },
                new Message { Key = B("h"), Value = B("v"), Headers = new Headers { { "trace", "abc" }, { "trace", "def" }, { "none", (byte[])null }, { "empty", new byte[0] } }, Timestamp = 1700000000123 },
            };
            using (var producer = new Producer(Config("linger.ms", "0")))
            {
                var tasks = sent.Select(m => producer.ProduceAsync(topic, m)).ToList();
                Assert.IsTrue(Task.WaitAll(tasks.ToArray(), TimeSpan.FromSeconds(30)));
                for (int i = 0; i < tasks.Count; i++)
                {
                    Assert.AreEqual(topic, tasks[i].Result.Topic);
                    Assert.AreEqual(0, tasks[i].Result.Partition);
                    Assert.AreEqual(i, tasks[i].Result.Offset);
                }
                Assert.AreEqual(1700000000123, tasks[5].Result.Timestamp);
            }
            using (var consumer = new Consumer(Config()))
            {
                consumer.Assign(new[] { new TopicPartitionOffset(topic, 0, Offset.Beginning) });
                for (int i = 0; i < sent.Count; i++)
                {
                    ConsumeResult r = consumer.Consume(TimeSpan.FromSeconds(10));
                    Assert.IsNotNull(r, "record " + i);
                    Assert.AreEqual(i, r.Offset);
                    Assert.AreEqual(sent[i].Key, r.Key, "key " + i);
                    Assert.AreEqual(sent[i].Value, r.Value, "value " + i);
                    if (sent[i].Timestamp.HasValue) Assert.AreEqual(sent[i].Timestamp.Value, r.Timestamp);
                    int hn = sent[i].Headers == null ? 0 : sent[i].Headers.Count;
                    Assert.AreEqual(hn, r.Headers.Count);
                    for (int j = 0; j < hn; j++)
                    {
                        Assert.AreEqual(sent[i].Headers[j].Key, r.Headers[j].Key);
                        Assert.AreEqual(sent[i].Headers[j].Value, r.Headers[j].Value);
                    }
                }
                Assert.AreEqual(new Offset(6), consumer.Position(new TopicPartition(topic, 0)));
                Assert.IsNull(consumer.Consume(TimeSpan.FromMilliseconds(200)));
            }
        }

        [Test]
        public void ProduceBatchCompletesOneTaskPerRecordInOrder_AndConsumeBatchReadsManyAtOnce()
        {
            string topic = NewTopic(1);
            using (var producer = new Producer(Config("linger.ms", "5")))
            {
                var tasks = producer.ProduceBatch(topic, Enumerable.Range(0, 1000).Select(i => Message.FromStrings("k" + i, "v" + i)));
                Assert.IsTrue(Task.WaitAll(tasks.ToArray(), TimeSpan.FromSeconds(30)));
                CollectionAssert.AreEqual(Enumerable.Range(0, 1000).Select(i => (long)i), tasks.Select(t => t.Result.Offset));
            }
            using (var consumer = new Consumer(Config()))
            {
                consumer.Assign(new[] { new TopicPartitionOffset(topic, 0, Offset.Beginning) });
                var got = new List<ConsumeResult>();
                var sw = Stopwatch.StartNew();
                while (got.Count < 1000 && sw.Elapsed < TimeSpan.FromSeconds(20)) got.AddRange(consumer.ConsumeBatch(500, TimeSpan.FromSeconds(1)));
                Assert.AreEqual(1000, got.Count);
                Assert.AreEqual("v999", got[999].ValueString);
            }
        }

        [Test]
        public void PauseStopsAPartitionUntilResume_AndWatermarksComeFromTheLeader()
        {
            string topic = NewTopic(2);
            using (var producer = new Producer(Config()))
            {
                for (int p = 0; p < 2; p++)
                {
                    for (int i = 0; i < 3; i++) producer.ProduceAsync(new TopicPartition(topic, p), Message.FromStrings("k", "v")).Wait();
                }
            }
            using (var consumer = new Consumer(Config()))
            {
                var marks = consumer.QueryWatermarkOffsets(new TopicPartition(topic, 1), TimeSpan.FromSeconds(10));
                Assert.AreEqual(0L, marks.Low.Value);
                Assert.AreEqual(3L, marks.High.Value);
                consumer.Assign(new[] { new TopicPartitionOffset(topic, 0, Offset.Beginning), new TopicPartitionOffset(topic, 1, Offset.Beginning) });
                consumer.Pause(new[] { new TopicPartition(topic, 1) });
                var got = new List<ConsumeResult>();
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < TimeSpan.FromSeconds(2)) got.AddRange(consumer.ConsumeBatch(10, TimeSpan.FromMilliseconds(200)));
                CollectionAssert.AreEqual(new[] { 0, 0, 0 }, got.Select(r => r.Partition));
                consumer.Resume(new[] { new TopicPartition(topic, 1) });
                got.Clear();
                sw.Restart();
                while (got.Count < 3 && sw.Elapsed < TimeSpan.FromSeconds(20)) got.AddRange(consumer.ConsumeBatch(10, TimeSpan.FromSeconds(1)));
                CollectionAssert.AreEqual(new[] { 1, 1, 1 }, got.Select(r => r.Partition));
            }
        }

        [Test]
        public void ConfigErrorsAreKafkaExceptionsWithTheSharedNames()
        {
            var e = Assert.Throws<KafkaException>(() => new Producer(Config("linger.msec", "5")));
            Assert.AreEqual("_INVALID_CONFIG", e.Name);
            Assert.AreEqual(-186, e.Code);
            Assert.IsFalse(e.IsRetriable);
            StringAssert.Contains("linger.msec", e.Message);
            e = Assert.Throws<KafkaException>(() => new Consumer(Config("auto.offset.reset", "sometimes")));
            Assert.AreEqual("_INVALID_CONFIG", e.Name);
            e = Assert.Throws<KafkaException>(() => new AdminClient(Config("acks", "most")));
            Assert.AreEqual("_INVALID_CONFIG", e.Name);
        }

        [Test]
        public void BrokerErrorsCarryTheKafkaCode()
        {
            string topic = NewTopic(1);
            var e = Assert.Throws<KafkaException>(() => Admin.CreateTopic(topic, 1, 1));
            Assert.AreEqual("TOPIC_ALREADY_EXISTS", e.Name);
            Assert.AreEqual(36, e.Code);
            Assert.AreEqual(ErrorClass.Permanent, e.Class);

            Admin.CreateTopic(topic + "-small", 1, 1, new Dictionary<string, string> { { "max.message.bytes", "1024" } });
            using (var producer = new Producer(Config("compression.type", "none")))
            {
                var t = producer.ProduceAsync(topic + "-small", new Message { Value = new byte[4096] });
                var agg = Assert.Throws<AggregateException>(() => t.Wait(TimeSpan.FromSeconds(30)));
                var ke = (KafkaException)agg.InnerException;
                Assert.AreEqual("MESSAGE_TOO_LARGE", ke.Name);
                Assert.AreEqual(10, ke.Code);
                Assert.IsFalse(ke.IsRetriable);
            }
        }

        [Test]
        public void AdminListsCreatesPartitionsAndDeletesTopics()
        {
            string topic = NewTopic(2);
            Assert.AreEqual(2, Admin.ListTopics()[topic]);
            Admin.CreatePartitions(topic, 3);
            Assert.AreEqual(3, Admin.ListTopics()[topic]);
            Admin.DeleteTopics(new[] { topic });
            Assert.IsFalse(Admin.ListTopics().ContainsKey(topic));
        }

        [Test]
        public void ConsumeWithACancellationTokenStopsWaitingWhenCancelled()
        {
            string topic = NewTopic(1);
            using (var consumer = new Consumer(Config()))
            using (var cts = new CancellationTokenSource())
            {
                consumer.Assign(new[] { new TopicPartitionOffset(topic, 0, Offset.Beginning) });
                cts.CancelAfter(300);
                var sw = Stopwatch.StartNew();
                Assert.Throws<OperationCanceledException>(() => consumer.Consume(cts.Token));
                Assert.Less(sw.Elapsed, TimeSpan.FromSeconds(10));
                // The consumer is still usable afterwards.
                using (var producer = new Producer(Config()))
                {
                    producer.ProduceAsync(topic, Message.FromStrings("a", "after cancel")).Wait();
                }
                ConsumeResult r = consumer.Consume(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
                Assert.AreEqual("after cancel", r.ValueString);
            }
        }

        [Test]
        public void ConsumeTimesOutWithNull()
        {
            string topic = NewTopic(1);
            using (var consumer = new Consumer(Config()))
            {
                consumer.Assign(new[] { new TopicPartitionOffset(topic, 0, Offset.End) });
                var sw = Stopwatch.StartNew();
                Assert.IsNull(consumer.Consume(TimeSpan.FromMilliseconds(250)));
                Assert.GreaterOrEqual(sw.ElapsedMilliseconds, 200);
            }
        }

        [Test]
        public void SeekPositionCommitAndCommittedWithManualAssignment()
        {
            string topic = NewTopic(1);
            string group = Unique("group");
            using (var producer = new Producer(Config()))
            {
                Task.WaitAll(producer.ProduceBatch(topic, Enumerable.Range(0, 10).Select(i => Message.FromStrings("k" + i, "v" + i))).ToArray());
            }
            var tp = new TopicPartition(topic, 0);
            using (var consumer = new Consumer(Config("group.id", group, "enable.auto.commit", "false", "auto.offset.reset", "earliest")))
            {
                Assert.AreEqual(Offset.Unset, consumer.Committed(new[] { tp }, TimeSpan.FromSeconds(10))[0].Offset);
                consumer.Assign(new[] { tp });
                Assert.AreEqual(0, consumer.Consume(TimeSpan.FromSeconds(10)).Offset);
                Assert.AreEqual(1, consumer.Consume(TimeSpan.FromSeconds(10)).Offset);
                Assert.AreEqual(new Offset(2), consumer.Position(tp));
                consumer.Commit();
                Assert.AreEqual(new Offset(2), consumer.Committed(new[] { tp }, TimeSpan.FromSeconds(10))[0].Offset);
                consumer.Seek(new TopicPartitionOffset(tp, 7));
                Assert.AreEqual(new Offset(7), consumer.Position(tp));
                ConsumeResult r = consumer.Consume(TimeSpan.FromSeconds(10));
                Assert.AreEqual("k7", r.KeyString);
                consumer.Commit(r);
                Assert.AreEqual(new Offset(8), consumer.Committed(new[] { tp }, TimeSpan.FromSeconds(10))[0].Offset);
                CollectionAssert.AreEqual(new[] { tp }, consumer.Assignment);
            }
        }

        [Test]
        public void GroupMembersGetRebalanceEvents()
        {
            string topic = NewTopic(4);
            string group = Unique("group");
            var events = new List<string>();
            Func<string, Consumer> member = name =>
            {
                var c = new Consumer(Config("group.id", group, "auto.offset.reset", "earliest", "session.timeout.ms", "10000", "heartbeat.interval.ms", "500", "partition.assignment.strategy", "range"));
                c.PartitionsAssigned += (s, e) => { lock (events) events.Add(name + " assigned " + e.Partitions.Count); };
                c.PartitionsRevoked += (s, e) => { lock (events) events.Add(name + " revoked " + e.Partitions.Count); };
                c.PartitionsLost += (s, e) => { lock (events) events.Add(name + " lost " + e.Partitions.Count); };
                c.Subscribe(topic);
                return c;
            };
            Func<string, bool> seen = e => { lock (events) return events.Contains(e); };
            using (Consumer a = member("a"))
            {
                WaitUntil(() => a.Assignment.Count == 4 && seen("a assigned 4"), new[] { a });
                using (Consumer b = member("b"))
                {
                    WaitUntil(() => a.Assignment.Count == 2 && b.Assignment.Count == 2 && seen("a revoked 4") && seen("b assigned 2"), new[] { a, b });
                    CollectionAssert.IsEmpty(a.Assignment.Intersect(b.Assignment));
                    b.Close();
                    // Close returns after the member's revocation ran.
                    Assert.IsTrue(seen("b revoked 2"), string.Join("; ", events));
                }
                WaitUntil(() => a.Assignment.Count == 4, new[] { a });
            }
            lock (events) CollectionAssert.DoesNotContain(events, "a lost 4");
        }

        [Test]
        public void AnExceptionInARebalanceHandlerIsRethrownByConsume()
        {
            string topic = NewTopic(1);
            using (var c = new Consumer(Config("group.id", Unique("group"), "session.timeout.ms", "10000", "heartbeat.interval.ms", "500")))
            {
                c.PartitionsAssigned += (s, e) => { throw new InvalidOperationException("handler failed"); };
                c.Subscribe(topic);
                var sw = Stopwatch.StartNew();
                InvalidOperationException seen = null;
                while (seen == null && sw.Elapsed < TimeSpan.FromSeconds(30))
                {
                    try { c.Consume(TimeSpan.FromMilliseconds(100)); }
                    catch (InvalidOperationException e) { seen = e; }
                }
                Assert.IsNotNull(seen);
                Assert.AreEqual("handler failed", seen.Message);
            }
        }

        [Test]
        public void DisposeIsIdempotentAndUseAfterDisposeThrows()
        {
            var p = new Producer(Config());
            p.Dispose();
            p.Dispose();
            Assert.Throws<ObjectDisposedException>(() => p.ProduceAsync("t", Message.FromStrings("k", "v")));
            var c = new Consumer(Config("group.id", Unique("group")));
            c.Dispose();
            c.Dispose();
            Assert.Throws<ObjectDisposedException>(() => c.Consume(TimeSpan.Zero));
            var a = new AdminClient(Config());
            a.Dispose();
            Assert.Throws<ObjectDisposedException>(() => a.ListTopics());
        }

        [Test]
        public void UndisposedClientsAreFreedByTheFinalizer()
        {
            string topic = NewTopic(1);
            MakeGarbage(topic);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            // The process is still healthy: a new client works.
            using (var p = new Producer(Config()))
            {
                Assert.IsTrue(p.ProduceAsync(topic, Message.FromStrings("k", "after gc")).Wait(TimeSpan.FromSeconds(30)));
            }
        }

        private void MakeGarbage(string topic)
        {
            for (int i = 0; i < 5; i++)
            {
                var p = new Producer(Config());
                p.ProduceAsync(topic, Message.FromStrings("k", "v" + i));
                var c = new Consumer(Config("group.id", Unique("group")));
                c.Subscribe(topic);
                new AdminClient(Config());
            }
        }

        private static void WaitUntil(Func<bool> condition, Consumer[] poll)
        {
            var sw = Stopwatch.StartNew();
            while (!condition())
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(30)) Assert.Fail("condition not reached within 30 s");
                foreach (var c in poll) c.Consume(TimeSpan.FromMilliseconds(50));
            }
        }
    }
}

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using Odradek.Testing;

namespace Odradek.Tests
{
    /// <summary>Keeps every error a handler receives; counts those after the client closed.</summary>
    internal sealed class ErrorLog
    {
        private readonly List<KafkaException> _seen = new List<KafkaException>();
        private bool _closed;
        public int Late { get; private set; }

        public void Handle(KafkaException e)
        {
            lock (_seen)
            {
                if (_closed) Late++;
                _seen.Add(e);
            }
        }

        public void MarkClosed()
        {
            lock (_seen) _closed = true;
        }

        public List<KafkaException> Seen
        {
            get { lock (_seen) return new List<KafkaException>(_seen); }
        }

        /// <summary>The first error named one of <paramref name="names"/> within the timeout, else null.</summary>
        public KafkaException WaitFor(TimeSpan timeout, params string[] names)
        {
            var sw = Stopwatch.StartNew();
            while (true)
            {
                KafkaException hit = Seen.FirstOrDefault(e => names.Contains(e.Name));
                if (hit != null || sw.Elapsed > timeout) return hit;
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>SetErrorHandler (failures no call returns) and the statistics of Metrics().</summary>
    [TestFixture]
    public class ObservabilityTests : BrokerFixture
    {
        [Test]
        public void MetricsCountRecordsAndShowLag()
        {
            string topic = NewTopic(1);
            using (var producer = new Producer(Config("linger.ms", "1")))
            {
                var tasks = producer.ProduceBatch(topic, Enumerable.Range(0, 20).Select(i => Message.FromStrings(null, "value-" + (i % 10))));
                Assert.IsTrue(Task.WaitAll(tasks.ToArray(), TimeSpan.FromSeconds(30)));
                ProducerMetrics sent = producer.Metrics();
                Assert.AreEqual(20UL, sent.RecordsDelivered);
                Assert.AreEqual(0UL, sent.RecordsFailed);
                Assert.IsTrue(sent.Brokers.Any(b => b.Address == Broker.BootstrapServers && b.State == "up" && b.Requests >= 1),
                    "no broker row up with requests");
            }
            using (var consumer = new Consumer(Config()))
            {
                consumer.Assign(new[] { new TopicPartitionOffset(topic, 0, Offset.Beginning) });
                var got = new List<ConsumeResult>();
                var sw = Stopwatch.StartNew();
                while (got.Count < 15 && sw.Elapsed < TimeSpan.FromSeconds(20)) got.AddRange(consumer.ConsumeBatch(15 - got.Count, TimeSpan.FromSeconds(1)));
                Assert.AreEqual(15, got.Count);
                ConsumerMetrics read = consumer.Metrics();
                Assert.AreEqual(15UL, read.RecordsConsumed);
                Assert.AreEqual(15UL * (ulong)"value-0".Length, read.BytesConsumed);
                Assert.GreaterOrEqual(read.FetchRequests, 1UL);
                Assert.AreEqual(1, read.Partitions.Length);
                PartitionStats p = read.Partitions[0];
                Assert.AreEqual(new object[] { topic, 0, 15L, 20L, 5L, false },
                    new object[] { p.Topic, p.Partition, p.Position, p.HighWatermark, p.Lag, p.Paused });
            }
        }

        [Test]
        public void AStoppedBrokerReachesTheErrorHandler_NeverAfterClose()
        {
            var log = new ErrorLog();
            using (var own = new Broker())
            {
                var config = new Dictionary<string, string> { { "bootstrap.servers", own.BootstrapServers } };
                using (var admin = new AdminClient(config)) admin.CreateTopic("stopped", 1, 1);
                using (var producer = new Producer(config))
                {
                    Assert.IsTrue(producer.ProduceAsync("stopped", Message.FromStrings("k", "v")).Wait(TimeSpan.FromSeconds(30)));
                }
                var consumer = new Consumer(config);
                consumer.SetErrorHandler(log.Handle);
                consumer.Assign(new[] { new TopicPartitionOffset("stopped", 0, Offset.Beginning) });
                Assert.IsNotNull(consumer.Consume(TimeSpan.FromSeconds(20)), "the record did not arrive");
                Assert.IsEmpty(log.Seen, "an error before the broker stopped");

                own.Dispose();
                KafkaException e = log.WaitFor(TimeSpan.FromSeconds(15), "_TRANSPORT", "_ALL_BROKERS_DOWN");
                Assert.IsNotNull(e, "no _TRANSPORT / _ALL_BROKERS_DOWN within 15 s; got " +
                    string.Join(", ", log.Seen.Select(x => x.Name)));
                Assert.IsTrue(e.IsRetriable, e.Name + " is retriable");
                ConsumerMetrics stats = consumer.Metrics();
                Assert.IsTrue(stats.Brokers.Any(b => b.Disconnects + b.ConnectFailures > 0), "the broker rows show no loss");

                consumer.Close();
                log.MarkClosed();
                Thread.Sleep(500);
                consumer.Dispose();
                Assert.AreEqual(0, log.Late, "error handler calls after Close");
            }
        }

        [Test]
        public void SetErrorHandlerReplacesTheHandler_NullStopsIt()
        {
            var first = new ErrorLog();
            var second = new ErrorLog();
            var config = new Dictionary<string, string> { { "bootstrap.servers", "127.0.0.1:1" }, { "message.timeout.ms", "2000" } };
            using (var producer = new Producer(config))
            {
                producer.SetErrorHandler(first.Handle);
                producer.SetErrorHandler(second.Handle);
                var sent = producer.ProduceAsync("nowhere", Message.FromStrings(null, "v"));
                Assert.IsNotNull(second.WaitFor(TimeSpan.FromSeconds(15), "_ALL_BROKERS_DOWN"), "no _ALL_BROKERS_DOWN");
                Assert.IsEmpty(first.Seen, "the replaced handler still ran");
                producer.SetErrorHandler(null);
                Assert.Throws<AggregateException>(() => sent.Wait());
            }
        }
    }
}

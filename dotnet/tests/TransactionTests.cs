using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace Odradek.Tests
{
    /// <summary>The exception types of the transactional producer (the conformance scenario covers
    /// commit, abort, offsets and read_committed): a failed record makes CommitTransaction throw
    /// KafkaTxnRequiresAbortException and the producer goes on after AbortTransaction; a second
    /// producer with the same id fences the first (PRODUCER_FENCED, IsFatal).</summary>
    [TestFixture]
    public class TransactionTests : BrokerFixture
    {
        [Test]
        public void AFailedRecordNeedsAnAbort_AndASecondProducerFencesTheFirst()
        {
            string topic = NewTopic(1);
            Admin.CreateTopic(topic + "-small", 1, 1, new Dictionary<string, string> { { "max.message.bytes", "1024" } });
            var timeout = TimeSpan.FromSeconds(30);
            using (var producer = new Producer(Config("transactional.id", topic)))
            using (var second = new Producer(Config("transactional.id", topic)))
            {
                producer.InitTransactions(timeout);
                producer.BeginTransaction();
                var t = producer.ProduceAsync(topic + "-small", new Message { Value = new byte[4096] });
                Assert.Throws<AggregateException>(() => t.Wait(timeout));
                var abortable = Assert.Throws<KafkaTxnRequiresAbortException>(() => producer.CommitTransaction(timeout));
                Assert.IsTrue(abortable.TxnRequiresAbort);
                Assert.IsFalse(abortable.IsFatal);
                producer.AbortTransaction(timeout);

                producer.BeginTransaction();
                producer.ProduceAsync(topic, new Message { Value = new byte[] { 1 } }).Wait(timeout);
                second.InitTransactions(timeout);
                var fenced = Assert.Throws<KafkaException>(() => producer.CommitTransaction(timeout));
                Assert.AreEqual("PRODUCER_FENCED", fenced.Name);
                Assert.IsTrue(fenced.IsFatal);
                Assert.AreEqual("PRODUCER_FENCED", Assert.Throws<KafkaException>(() => producer.BeginTransaction()).Name);
            }
            using (var consumer = new Consumer(Config()))
            {
                Assert.Throws<KafkaException>(() => { var unused = consumer.ConsumerGroupMetadata; });
            }
        }
    }
}

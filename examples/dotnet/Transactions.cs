// Exactly-once consume-transform-produce: starts an embedded broker, writes four inputs to
// "orders", then reads them as a member of a group (read_committed), writes one upper-cased
// record per input to "orders-upper" and commits the input offsets in the same transaction.
// Killed and started again with the same transactional.id, such a processor fences its
// previous self and resumes from the last committed transaction: no output is seen twice by
// read_committed readers.
// Build and run (from the repository root, after `cargo build --release -p odradek-ffi`):
//   mcs -out:Transactions.exe -r:Odradek.dll examples/dotnet/Transactions.cs
//   LD_LIBRARY_PATH=$CARGO_TARGET_DIR/release mono Transactions.exe
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Odradek;
using Odradek.Testing;

public static class Transactions
{
    public static int Main()
    {
        using (var broker = new Broker())
        {
            var config = new Dictionary<string, string> { { "bootstrap.servers", broker.BootstrapServers } };
            using (var admin = new AdminClient(config))
            {
                admin.CreateTopic("orders", partitions: 2, replicationFactor: 1);
                admin.CreateTopic("orders-upper", partitions: 2, replicationFactor: 1);
            }
            using (var seed = new Producer(config))
            {
                string[] inputs = { "apple", "pear", "plum", "fig" };
                for (int i = 0; i < inputs.Length; i++)
                {
                    seed.ProduceAsync(new TopicPartition("orders", i % 2), Message.FromStrings(null, inputs[i])).Wait();
                }
            }
            int done = Transform(config, 4);
            Console.WriteLine("transformed " + done + " records exactly once");
        }
        return 0;
    }

    // Runs the processor until `expected` records are transformed (or the input is idle).
    private static int Transform(Dictionary<string, string> config, int expected)
    {
        var producerConfig = new Dictionary<string, string>(config) { { "transactional.id", "orders-upper-1" } };
        var consumerConfig = new Dictionary<string, string>(config)
        {
            { "group.id", "orders-upper" },
            { "auto.offset.reset", "earliest" },
            { "enable.auto.commit", "false" },
            { "isolation.level", "read_committed" },
        };
        var timeout = TimeSpan.FromSeconds(30);
        using (var producer = new Producer(producerConfig))
        using (var consumer = new Consumer(consumerConfig))
        {
            producer.InitTransactions(timeout);
            consumer.Subscribe("orders");
            int done = 0;
            while (done < expected)
            {
                var batch = new List<ConsumeResult>();
                ConsumeResult next = consumer.Consume(TimeSpan.FromSeconds(3));
                while (next != null)
                {
                    batch.Add(next);
                    next = batch.Count < 100 ? consumer.Consume(TimeSpan.FromMilliseconds(100)) : null;
                }
                if (batch.Count == 0) break; // idle
                producer.BeginTransaction();
                try
                {
                    foreach (var r in batch)
                    {
                        // Delivery is checked by CommitTransaction.
                        string upper = Encoding.UTF8.GetString(r.Value).ToUpperInvariant();
                        producer.ProduceAsync(new TopicPartition("orders-upper", r.Partition), Message.FromStrings(null, upper));
                    }
                    var offsets = batch.GroupBy(r => r.Partition)
                        .Select(g => new TopicPartitionOffset("orders", g.Key, new Offset(g.Max(r => r.Offset) + 1)));
                    // The consumer's generation and member id go with the offsets (KIP-447).
                    using (var metadata = consumer.ConsumerGroupMetadata)
                    {
                        producer.SendOffsetsToTransaction(offsets, metadata, timeout);
                    }
                    producer.CommitTransaction(timeout);
                }
                catch (KafkaTxnRequiresAbortException)
                {
                    // Nothing of this batch is visible; a restart reads it again from the committed offsets.
                    producer.AbortTransaction(timeout);
                    throw;
                }
                done += batch.Count;
            }
            return done;
        }
    }
}

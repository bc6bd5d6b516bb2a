// Benchmark peer on the odradek .NET binding (dotnet/, over the C ABI): produce and consume.
// Same command line and JSON output as the other peers (bench/README.md). Produce hands the
// records over with ProduceBatch (1,000 per native call) and waits for every task; consume reads
// with ConsumeBatch.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading.Tasks;
using Odradek;

namespace BenchPeer
{
    internal static class OdradekDotnetPeer
    {
        private const int Chunk = 1000;

        private static string Client { get { return "odradek-dotnet " + Library.Version; } }

        private static int Main(string[] args)
        {
            return PeerOutput.Run("odradek-dotnet", args, Produce, Consume);
        }

        private static int Produce(PeerOptions o)
        {
            var config = new Dictionary<string, string>
            {
                { "bootstrap.servers", o.Bootstrap },
                { "acks", o.AcksConfig },
                { "compression.type", o.Compression },
                { "linger.ms", o.LingerMs.ToString() },
                { "batch.size", o.BatchSize.ToString() },
                { "enable.idempotence", "false" },
                { "max.in.flight.requests.per.connection", "5" },
                { "queue.buffering.max.messages", "1000000" },
                { "queue.buffering.max.kbytes", "1048576" },
            };
            byte[][] values = PeerOutput.Values(o.Count, o.Size);
            var chunks = new List<Message[]>();
            for (int i = 0; i < o.Count; i += Chunk)
            {
                var chunk = new Message[Math.Min(Chunk, o.Count - i)];
                for (int j = 0; j < chunk.Length; j++) chunk[j] = new Message { Value = values[i + j] };
                chunks.Add(chunk);
            }
            using (var producer = new Producer(config))
            {
                var tasks = new List<Task<DeliveryResult>>(o.Count);
                var clock = Stopwatch.StartNew();
                foreach (Message[] chunk in chunks) tasks.AddRange(producer.ProduceBatch(o.Topic, chunk));
                // Flush waits for every delivery; then the tasks are only read (a WaitAll over
                // every task would add a continuation to each).
                producer.Flush(TimeSpan.FromSeconds(300));
                double seconds = clock.Elapsed.TotalSeconds;
                foreach (Task<DeliveryResult> t in tasks)
                {
                    if (t.IsFaulted) throw t.Exception.InnerException;
                }
                PeerOutput.Emit(Client, o.Count, (long)o.Count * o.Size, seconds);
            }
            return 0;
        }

        private static int Consume(PeerOptions o)
        {
            var config = new Dictionary<string, string>
            {
                { "bootstrap.servers", o.Bootstrap },
                { "fetch.min.bytes", "1" },
                { "max.partition.fetch.bytes", "1048576" },
                { "fetch.max.bytes", "52428800" },
            };
            using (var consumer = new Consumer(config))
            {
                // Offset 0 (the topics are fresh), partition 0, no group.
                consumer.Assign(new[] { new TopicPartitionOffset(o.Topic, 0, new Offset(0)) });
                long n = 0, bytes = 0;
                Stopwatch clock = null;
                var deadline = Stopwatch.StartNew();
                while (n < o.Count)
                {
                    if (deadline.Elapsed.TotalSeconds > 300) throw new TimeoutException("timed out after 300 s");
                    IReadOnlyList<ConsumeResult> batch = consumer.ConsumeBatch((int)Math.Min(10000, o.Count - n), TimeSpan.FromMilliseconds(100));
                    if (batch.Count > 0 && clock == null) clock = Stopwatch.StartNew(); // the clock starts at the first record
                    foreach (ConsumeResult r in batch)
                    {
                        n++;
                        bytes += r.Value == null ? 0 : r.Value.Length;
                    }
                }
                PeerOutput.Emit(Client, n, bytes, clock.Elapsed.TotalSeconds);
            }
            return 0;
        }
    }
}

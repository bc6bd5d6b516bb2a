// Starts an embedded broker, creates a topic, produces three records and reads them back.
// Build and run (from the repository root, after `cargo build --release -p odradek-ffi`):
//   mcs -out:Quickstart.exe -r:Odradek.dll examples/dotnet/Quickstart.cs
//   LD_LIBRARY_PATH=$CARGO_TARGET_DIR/release mono Quickstart.exe
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Odradek;
using Odradek.Testing;

public static class Quickstart
{
    public static int Main()
    {
        using (var broker = new Broker())
        {
            var config = new Dictionary<string, string> { { "bootstrap.servers", broker.BootstrapServers } };
            using (var admin = new AdminClient(config))
            {
                admin.CreateTopic("greetings", partitions: 3, replicationFactor: 1);
            }
            using (var producer = new Producer(config))
            {
                var sends = new List<Task<DeliveryResult>>();
                foreach (var kv in new[] { new[] { "alice", "hello" }, new[] { "bob", "hi" }, new[] { "alice", "again" } })
                {
                    sends.Add(producer.ProduceAsync("greetings", Message.FromStrings(kv[0], kv[1])));
                }
                foreach (var t in sends)
                {
                    Console.WriteLine("delivered to " + t.Result);
                }
            }
            var consumerConfig = new Dictionary<string, string>(config)
            {
                { "group.id", "quickstart" },
                { "auto.offset.reset", "earliest" },
            };
            using (var consumer = new Consumer(consumerConfig))
            {
                consumer.PartitionsAssigned += (s, e) => Console.WriteLine("assigned " + string.Join(", ", e.Partitions));
                consumer.Subscribe("greetings");
                for (int read = 0; read < 3;)
                {
                    ConsumeResult r = consumer.Consume(TimeSpan.FromSeconds(30));
                    if (r == null)
                    {
                        Console.Error.WriteLine("no record within 30 s");
                        return 1;
                    }
                    Console.WriteLine(r.KeyString + ": " + r.ValueString + " (" + r + ")");
                    read++;
                }
                consumer.Commit();
            }
        }
        return 0;
    }
}

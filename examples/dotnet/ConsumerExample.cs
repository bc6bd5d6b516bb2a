// Reads a topic as a member of a consumer group until Ctrl-C, committing after each record.
//   mono ConsumerExample.exe 127.0.0.1:9092 greetings my-group
using System;
using System.Collections.Generic;
using System.Threading;
using Odradek;

public static class ConsumerExample
{
    public static int Main(string[] args)
    {
        if (args.Length != 3)
        {
            Console.Error.WriteLine("usage: ConsumerExample.exe BOOTSTRAP TOPIC GROUP");
            return 2;
        }
        var config = new Dictionary<string, string>
        {
            { "bootstrap.servers", args[0] },
            { "group.id", args[2] },
            { "auto.offset.reset", "earliest" },
            { "enable.auto.commit", "false" },
        };
        using (var stop = new CancellationTokenSource())
        using (var consumer = new Consumer(config))
        {
            Console.CancelKeyPress += (s, e) => { e.Cancel = true; stop.Cancel(); };
            consumer.PartitionsAssigned += (s, e) => Console.Error.WriteLine("assigned: " + string.Join(", ", e.Partitions));
            consumer.PartitionsRevoked += (s, e) => Console.Error.WriteLine("revoked: " + string.Join(", ", e.Partitions));
            consumer.Subscribe(args[1]);
            try
            {
                while (true)
                {
                    ConsumeResult r = consumer.Consume(stop.Token);
                    Console.WriteLine(r.KeyString + "\t" + r.ValueString);
                    consumer.Commit(r);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
        return 0;
    }
}

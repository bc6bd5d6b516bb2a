// Sends one record per line of stdin ("key:value", or just a value) to a topic.
//   mono ProducerExample.exe 127.0.0.1:9092 greetings < lines.txt
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Odradek;

public static class ProducerExample
{
    public static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: ProducerExample.exe BOOTSTRAP TOPIC < lines");
            return 2;
        }
        var config = new Dictionary<string, string> { { "bootstrap.servers", args[0] }, { "linger.ms", "5" } };
        using (var producer = new Producer(config))
        {
            var sends = new List<Task<DeliveryResult>>();
            string line;
            while ((line = Console.ReadLine()) != null)
            {
                int colon = line.IndexOf(':');
                Message m = colon < 0 ? Message.FromStrings(null, line) : Message.FromStrings(line.Substring(0, colon), line.Substring(colon + 1));
                sends.Add(producer.ProduceAsync(args[1], m));
            }
            try
            {
                Task.WaitAll(sends.ToArray());
            }
            catch (AggregateException e)
            {
                foreach (var inner in e.InnerExceptions)
                {
                    var ke = inner as KafkaException;
                    Console.Error.WriteLine(ke != null ? ke.Name + ": " + ke.Message : inner.Message);
                }
                return 1;
            }
            Console.WriteLine("sent " + sends.Count + " records");
        }
        return 0;
    }
}

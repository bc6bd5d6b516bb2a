// The .NET peer of the cross-language test (tests/crosslang/README.md):
//   XLang.exe produce BOOTSTRAP TOPIC RECORDS_JSON
//   XLang.exe consume BOOTSTRAP TOPIC COUNT
// consume prints one JSON line per record: {"offset":N,"key":HEX|null,"value":HEX|null,"headers":[[NAME,HEX|null],...]}
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Odradek;
using Odradek.Tests;

public static class XLang
{
    public static int Main(string[] args)
    {
        try
        {
            if (args.Length == 4 && args[0] == "produce") return Produce(args[1], args[2], args[3]);
            if (args.Length == 4 && args[0] == "consume") return Consume(args[1], args[2], int.Parse(args[3]));
            Console.Error.WriteLine("usage: XLang.exe produce BOOTSTRAP TOPIC RECORDS_JSON | consume BOOTSTRAP TOPIC COUNT");
            return 2;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            return 1;
        }
    }

    private static int Produce(string bootstrap, string topic, string recordsPath)
    {
        var doc = (JsonObject)Json.Parse(File.ReadAllText(recordsPath, Encoding.UTF8));
        var config = new Dictionary<string, string> { { "bootstrap.servers", bootstrap }, { "linger.ms", "0" } };
        using (var producer = new Producer(config))
        {
            var sends = new List<Task<DeliveryResult>>();
            foreach (JsonObject r in doc.List("records").Cast<JsonObject>())
            {
                var m = new Message
                {
                    Key = r.Has("key") ? JsonBytes.Of(r.Get("key")) : null,
                    Value = r.Has("value") ? JsonBytes.Of(r.Get("value")) : null,
                    Headers = new Headers(),
                };
                if (r.Has("headers"))
                {
                    foreach (List<object> h in r.List("headers").Cast<List<object>>()) m.Headers.Add((string)h[0], JsonBytes.Of(h[1]));
                }
                sends.Add(producer.ProduceAsync(new TopicPartition(topic, 0), m));
            }
            Task.WaitAll(sends.ToArray());
        }
        return 0;
    }

    private static string Hex(byte[] b)
    {
        if (b == null) return "null";
        var sb = new StringBuilder("\"", b.Length * 2 + 2);
        foreach (byte x in b) sb.Append(x.ToString("x2"));
        return sb.Append('"').ToString();
    }

    private static string JsonString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            if (c == '"' || c == '\\') sb.Append('\\').Append(c);
            else if (c < 0x20) sb.AppendFormat("\\u{0:x4}", (int)c);
            else sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    private static int Consume(string bootstrap, string topic, int count)
    {
        var config = new Dictionary<string, string> { { "bootstrap.servers", bootstrap } };
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
        using (var consumer = new Consumer(config))
        {
            consumer.Assign(new[] { new TopicPartitionOffset(topic, 0, Offset.Beginning) });
            DateTime deadline = DateTime.UtcNow.AddSeconds(30);
            for (int n = 0; n < count;)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    Console.Error.WriteLine("read " + n + " of " + count + " records within 30 s");
                    return 1;
                }
                ConsumeResult r = consumer.Consume(left);
                if (r == null) continue;
                n++;
                string headers = string.Join(",", r.Headers.Select(h => "[" + JsonString(h.Key) + "," + Hex(h.Value) + "]"));
                stdout.Write("{\"offset\":" + r.Offset + ",\"key\":" + Hex(r.Key) + ",\"value\":" + Hex(r.Value) + ",\"headers\":[" + headers + "]}\n");
            }
        }
        stdout.Flush();
        return 0;
    }
}

// Shared by the .NET peers (odradek-dotnet, librdkafka-dotnet): the common peer command line of
// bench/README.md, the payload pool and the one JSON line of output. C# 7.2 (Mono's mcs).
using System;
using System.Collections.Generic;
using System.Globalization;

namespace BenchPeer
{
    internal sealed class PeerOptions
    {
        public string Mode;
        public string Bootstrap;
        public string Topic;
        public string Acks = "1";
        public string Compression = "none";
        public int Count = 100000;
        public int Size = 100;
        public int LingerMs = 5;
        public int BatchSize = 65536;

        public static PeerOptions Parse(string[] args)
        {
            if (args.Length < 1) throw new ArgumentException("usage: peer produce|consume --bootstrap B --topic T ...");
            var o = new PeerOptions { Mode = args[0] };
            if (o.Mode != "produce" && o.Mode != "consume")
            {
                // Exit status 77: this peer has no such mode (the runner reports the cell as missing).
                Console.Error.WriteLine("mode " + o.Mode + " is not supported (produce, consume)");
                Environment.Exit(77);
            }
            for (int i = 1; i + 1 < args.Length; i += 2)
            {
                string v = args[i + 1];
                switch (args[i])
                {
                    case "--bootstrap": o.Bootstrap = v; break;
                    case "--topic": o.Topic = v; break;
                    case "--acks": o.Acks = v; break;
                    case "--compression": o.Compression = v; break;
                    case "--count": o.Count = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--size": o.Size = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--linger-ms": o.LingerMs = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--batch-size": o.BatchSize = int.Parse(v, CultureInfo.InvariantCulture); break;
                    case "--rate": case "--seconds": break; // latency mode only
                    default: throw new ArgumentException("unknown option " + args[i]);
                }
            }
            if (o.Bootstrap == null || o.Topic == null) throw new ArgumentException("--bootstrap and --topic are required");
            return o;
        }

        /// <summary>acks as both clients spell it in their configuration.</summary>
        public string AcksConfig { get { return Acks == "all" ? "-1" : Acks; } }
    }

    internal static class PeerOutput
    {
        /// <summary>Values: slices of one pseudo-random A..Z pool, as the other peers use.</summary>
        public static byte[][] Values(int count, int size)
        {
            const int pool = 1 << 20;
            var data = new byte[pool];
            ulong x = 0x9E3779B97F4A7C15UL;
            for (int i = 0; i < pool; i++)
            {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                data[i] = (byte)('A' + x % 26);
            }
            var values = new byte[count][];
            for (int i = 0; i < count; i++)
            {
                int off = (int)((long)i * 4099 % (pool - size));
                values[i] = new byte[size];
                Buffer.BlockCopy(data, off, values[i], 0, size);
            }
            return values;
        }

        public static void Emit(string client, long records, long bytes, double seconds)
        {
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "{{\"records\":{0},\"bytes\":{1},\"seconds\":{2:R},\"client\":\"{3}\"}}", records, bytes, seconds, client));
        }

        /// <summary>Parses the command line and runs the mode; any exception is exit status 1.</summary>
        public static int Run(string peer, string[] args, Func<PeerOptions, int> produce, Func<PeerOptions, int> consume)
        {
            PeerOptions o = PeerOptions.Parse(args);
            try
            {
                return o.Mode == "produce" ? produce(o) : consume(o);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine(peer + " peer: " + o.Mode + ": " + e);
                return 1;
            }
        }
    }
}

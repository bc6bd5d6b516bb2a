// Benchmark peer: librdkafka's C API from C# through P/Invoke, in the shape of Confluent.Kafka
// (which cannot be restored here: no NuGet feed and no .NET SDK). As Confluent.Kafka does: a
// managed byte[] per record handed over with a copy flag, a GCHandle per record as the delivery
// opaque, delivery reports served by a background thread calling rd_kafka_poll, and on consume
// each value copied into a managed byte[]. Same command line and JSON output as the other peers.
using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace BenchPeer
{
    internal static class Rd
    {
        private const string Lib = "librdkafka.so.1";
        public const int Producer = 0;
        public const int Consumer = 1;
        public const int PartitionUnassigned = -1;
        public const int MsgFlagCopy = 0x2;
        public const int ErrQueueFull = -184;

        // rd_kafka_message_t on x86_64: err (int) at 0, rkt 8, partition 16, payload 24, len 32,
        // key 40, key_len 48, offset 56, _private (the msg_opaque in a delivery report) 64.
        public const int MsgErr = 0, MsgPayload = 24, MsgLen = 32, MsgOpaque = 64;

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void DeliveryReportCallback(IntPtr rk, IntPtr message, IntPtr opaque);

        [DllImport(Lib)] public static extern IntPtr rd_kafka_conf_new();
        [DllImport(Lib)] public static extern int rd_kafka_conf_set(IntPtr conf, string name, string value, StringBuilder errstr, UIntPtr size);
        [DllImport(Lib)] public static extern void rd_kafka_conf_set_dr_msg_cb(IntPtr conf, DeliveryReportCallback cb);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_new(int type, IntPtr conf, StringBuilder errstr, UIntPtr size);
        [DllImport(Lib)] public static extern void rd_kafka_destroy(IntPtr rk);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_topic_new(IntPtr rk, string topic, IntPtr conf);
        [DllImport(Lib)] public static extern void rd_kafka_topic_destroy(IntPtr rkt);
        [DllImport(Lib)] public static extern int rd_kafka_produce(IntPtr rkt, int partition, int msgflags, byte[] payload, UIntPtr len, IntPtr key, UIntPtr keylen, IntPtr opaque);
        [DllImport(Lib)] public static extern int rd_kafka_last_error();
        [DllImport(Lib)] public static extern int rd_kafka_poll(IntPtr rk, int timeoutMs);
        [DllImport(Lib)] public static extern int rd_kafka_flush(IntPtr rk, int timeoutMs);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_err2str(int err);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_version_str();
        [DllImport(Lib)] public static extern int rd_kafka_poll_set_consumer(IntPtr rk);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_topic_partition_list_new(int size);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_topic_partition_list_add(IntPtr list, string topic, int partition);
        [DllImport(Lib)] public static extern int rd_kafka_topic_partition_list_set_offset(IntPtr list, string topic, int partition, long offset);
        [DllImport(Lib)] public static extern void rd_kafka_topic_partition_list_destroy(IntPtr list);
        [DllImport(Lib)] public static extern int rd_kafka_assign(IntPtr rk, IntPtr partitions);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_consumer_poll(IntPtr rk, int timeoutMs);
        [DllImport(Lib)] public static extern void rd_kafka_message_destroy(IntPtr message);
        [DllImport(Lib)] public static extern int rd_kafka_consumer_close(IntPtr rk);

        public static string ErrorText(int err) { return Marshal.PtrToStringAnsi(rd_kafka_err2str(err)); }

        public static IntPtr Config(params string[] keyValues)
        {
            IntPtr conf = rd_kafka_conf_new();
            var err = new StringBuilder(512);
            for (int i = 0; i < keyValues.Length; i += 2)
            {
                if (rd_kafka_conf_set(conf, keyValues[i], keyValues[i + 1], err, (UIntPtr)err.Capacity) != 0)
                    throw new ArgumentException(keyValues[i] + ": " + err);
            }
            return conf;
        }

        public static IntPtr Create(int type, IntPtr conf)
        {
            var err = new StringBuilder(512);
            IntPtr rk = rd_kafka_new(type, conf, err, (UIntPtr)err.Capacity);
            if (rk == IntPtr.Zero) throw new InvalidOperationException("rd_kafka_new: " + err);
            return rk;
        }
    }

    /// <summary>What a delivery report hands back: Confluent.Kafka's Action&lt;DeliveryReport&gt;.</summary>
    internal delegate void DeliveryHandler(int error);

    /// <summary>A producer shaped like Confluent.Kafka's: Produce(value, handler), a poll thread.</summary>
    internal sealed class RdProducer : IDisposable
    {
        private readonly IntPtr _rk;
        private readonly IntPtr _topic;
        // Kept alive for as long as librdkafka may call it.
        private readonly Rd.DeliveryReportCallback _onDelivery;
        private readonly Thread _poller;
        private volatile bool _closing;

        public RdProducer(PeerOptions o)
        {
            _onDelivery = OnDelivery;
            IntPtr conf = Rd.Config(
                "bootstrap.servers", o.Bootstrap, "acks", o.AcksConfig, "compression.codec", o.Compression,
                "linger.ms", o.LingerMs.ToString(), "batch.size", o.BatchSize.ToString(),
                "batch.num.messages", "1000000", "enable.idempotence", "false",
                "max.in.flight.requests.per.connection", "5",
                "queue.buffering.max.messages", "1000000", "queue.buffering.max.kbytes", "1048576");
            Rd.rd_kafka_conf_set_dr_msg_cb(conf, _onDelivery);
            _rk = Rd.Create(Rd.Producer, conf);
            _topic = Rd.rd_kafka_topic_new(_rk, o.Topic, IntPtr.Zero);
            _poller = new Thread(() => { while (!_closing) Rd.rd_kafka_poll(_rk, 100); }) { IsBackground = true };
            _poller.Start();
        }

        public void Produce(byte[] value, DeliveryHandler handler)
        {
            GCHandle opaque = GCHandle.Alloc(handler);
            while (Rd.rd_kafka_produce(_topic, Rd.PartitionUnassigned, Rd.MsgFlagCopy, value, (UIntPtr)value.Length,
                                       IntPtr.Zero, UIntPtr.Zero, GCHandle.ToIntPtr(opaque)) != 0)
            {
                int err = Rd.rd_kafka_last_error();
                if (err != Rd.ErrQueueFull)
                {
                    opaque.Free();
                    throw new InvalidOperationException("produce: " + Rd.ErrorText(err));
                }
                Thread.Sleep(1); // the poll thread drains delivery reports meanwhile
            }
        }

        private static void OnDelivery(IntPtr rk, IntPtr message, IntPtr opaque)
        {
            GCHandle handle = GCHandle.FromIntPtr(Marshal.ReadIntPtr(message, Rd.MsgOpaque));
            var handler = (DeliveryHandler)handle.Target;
            handle.Free();
            handler(Marshal.ReadInt32(message, Rd.MsgErr));
        }

        public void Dispose()
        {
            Rd.rd_kafka_flush(_rk, 30000);
            _closing = true;
            _poller.Join();
            Rd.rd_kafka_topic_destroy(_topic);
            Rd.rd_kafka_destroy(_rk);
        }
    }

    internal static class LibrdkafkaDotnetPeer
    {
        private static string Client { get { return "librdkafka-dotnet " + Marshal.PtrToStringAnsi(Rd.rd_kafka_version_str()); } }

        private static int Main(string[] args)
        {
            return PeerOutput.Run("librdkafka-dotnet", args, Produce, Consume);
        }

        private static int Produce(PeerOptions o)
        {
            byte[][] values = PeerOutput.Values(o.Count, o.Size);
            long delivered = 0, failed = 0;
            int firstError = 0;
            var done = new ManualResetEventSlim();
            DeliveryHandler handler = err =>
            {
                if (err != 0 && Interlocked.Increment(ref failed) == 1) firstError = err;
                if (Interlocked.Increment(ref delivered) == o.Count) done.Set();
            };
            double seconds;
            using (var producer = new RdProducer(o))
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < o.Count; i++) producer.Produce(values[i], handler);
                done.Wait();
                seconds = clock.Elapsed.TotalSeconds;
            }
            if (failed > 0) throw new InvalidOperationException(failed + " deliveries failed, the first: " + Rd.ErrorText(firstError));
            PeerOutput.Emit(Client, o.Count, (long)o.Count * o.Size, seconds);
            return 0;
        }

        private static int Consume(PeerOptions o)
        {
            IntPtr conf = Rd.Config(
                "bootstrap.servers", o.Bootstrap, "group.id", "odradek-bench", "enable.auto.commit", "false",
                "fetch.min.bytes", "1", "max.partition.fetch.bytes", "1048576", "fetch.max.bytes", "52428800");
            IntPtr rk = Rd.Create(Rd.Consumer, conf);
            Rd.rd_kafka_poll_set_consumer(rk);
            // Offset 0 (the topics are fresh), partition 0, no group membership.
            IntPtr parts = Rd.rd_kafka_topic_partition_list_new(1);
            Rd.rd_kafka_topic_partition_list_add(parts, o.Topic, 0);
            Rd.rd_kafka_topic_partition_list_set_offset(parts, o.Topic, 0, 0);
            int e = Rd.rd_kafka_assign(rk, parts);
            Rd.rd_kafka_topic_partition_list_destroy(parts);
            if (e != 0) throw new InvalidOperationException("assign: " + Rd.ErrorText(e));
            long n = 0, bytes = 0;
            Stopwatch clock = null;
            var deadline = Stopwatch.StartNew();
            while (n < o.Count)
            {
                if (deadline.Elapsed.TotalSeconds > 300) throw new TimeoutException("timed out after 300 s");
                IntPtr m = Rd.rd_kafka_consumer_poll(rk, 100);
                if (m == IntPtr.Zero) continue;
                int err = Marshal.ReadInt32(m, Rd.MsgErr);
                if (err != 0)
                {
                    Rd.rd_kafka_message_destroy(m);
                    throw new InvalidOperationException("consume: " + Rd.ErrorText(err));
                }
                // As Confluent.Kafka's ConsumeResult: the value copied into a managed array.
                var value = new byte[(long)Marshal.ReadIntPtr(m, Rd.MsgLen)];
                Marshal.Copy(Marshal.ReadIntPtr(m, Rd.MsgPayload), value, 0, value.Length);
                Rd.rd_kafka_message_destroy(m);
                if (n++ == 0) clock = Stopwatch.StartNew(); // the clock starts at the first record
                bytes += value.Length;
            }
            double seconds = clock.Elapsed.TotalSeconds;
            Rd.rd_kafka_consumer_close(rk);
            Rd.rd_kafka_destroy(rk);
            PeerOutput.Emit(Client, n, bytes, seconds);
            return 0;
        }
    }
}

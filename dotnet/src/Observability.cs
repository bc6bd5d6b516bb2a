// What a client shows of itself: the error handler for background failures (a .NET delegate
// behind the C ABI's error callback) and the statistics snapshots, decoded from the core's JSON
// once for every client type.
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Runtime.Serialization.Json;
using System.Text;
using Odradek.Native;

namespace Odradek
{
    /// <summary>One broker as a client sees it (a row of <see cref="ProducerMetrics.Brokers"/>
    /// and <see cref="ConsumerMetrics.Brokers"/>).</summary>
    [DataContract]
    public sealed class BrokerStats
    {
        /// <summary>host:port.</summary>
        [DataMember(Name = "address")] public string Address { get; private set; }
        /// <summary>"up", "connecting", "backing_off" (the last connect failed) or "idle".</summary>
        [DataMember(Name = "state")] public string State { get; private set; }
        /// <summary>Connections opened.</summary>
        [DataMember(Name = "connects")] public ulong Connects { get; private set; }
        /// <summary>Connects that failed.</summary>
        [DataMember(Name = "connect_failures")] public ulong ConnectFailures { get; private set; }
        /// <summary>Connections lost after they were up.</summary>
        [DataMember(Name = "disconnects")] public ulong Disconnects { get; private set; }
        /// <summary>Requests answered.</summary>
        [DataMember(Name = "requests")] public ulong Requests { get; private set; }
        /// <summary>Mean request round trip, microseconds.</summary>
        [DataMember(Name = "request_latency_avg_us")] public ulong RequestLatencyAvgUs { get; private set; }
        /// <summary>Longest request round trip, microseconds.</summary>
        [DataMember(Name = "request_latency_max_us")] public ulong RequestLatencyMaxUs { get; private set; }
        /// <summary>Requests waiting for their response now.</summary>
        [DataMember(Name = "in_flight")] public ulong InFlight { get; private set; }
    }

    /// <summary>A producer's statistics snapshot (<see cref="Producer.Metrics"/>).</summary>
    [DataContract]
    public sealed class ProducerMetrics
    {
        /// <summary>Records acknowledged (or written, with acks=0).</summary>
        [DataMember(Name = "records_delivered")] public ulong RecordsDelivered { get; private set; }
        /// <summary>Records that failed.</summary>
        [DataMember(Name = "records_failed")] public ulong RecordsFailed { get; private set; }
        /// <summary>Uncompressed record bytes delivered.</summary>
        [DataMember(Name = "bytes_delivered")] public ulong BytesDelivered { get; private set; }
        /// <summary>Produce requests completed.</summary>
        [DataMember(Name = "requests")] public ulong Requests { get; private set; }
        /// <summary>Batch retries.</summary>
        [DataMember(Name = "retries")] public ulong Retries { get; private set; }
        /// <summary>Mean Produce round trip, microseconds.</summary>
        [DataMember(Name = "request_latency_avg_us")] public ulong RequestLatencyAvgUs { get; private set; }
        /// <summary>Longest Produce round trip, microseconds.</summary>
        [DataMember(Name = "request_latency_max_us")] public ulong RequestLatencyMaxUs { get; private set; }
        /// <summary>Records waiting in the buffer (in flight included).</summary>
        [DataMember(Name = "queue_records")] public ulong QueueRecords { get; private set; }
        /// <summary>Bytes waiting in the buffer (in flight included).</summary>
        [DataMember(Name = "queue_bytes")] public ulong QueueBytes { get; private set; }
        /// <summary>Every broker the producer knows, sorted by address.</summary>
        [DataMember(Name = "brokers")] public BrokerStats[] Brokers { get; private set; }
    }

    /// <summary>One assigned partition of a consumer.</summary>
    [DataContract]
    public sealed class PartitionStats
    {
        /// <summary>Topic name.</summary>
        [DataMember(Name = "topic")] public string Topic { get; private set; }
        /// <summary>Partition index.</summary>
        [DataMember(Name = "partition")] public int Partition { get; private set; }
        /// <summary>The offset of the next record handed out (-1: not known yet).</summary>
        [DataMember(Name = "position")] public long Position { get; private set; }
        /// <summary>The high watermark of the last fetch (-1: not fetched yet).</summary>
        [DataMember(Name = "high_watermark")] public long HighWatermark { get; private set; }
        /// <summary>HighWatermark - Position when both are known, else -1.</summary>
        [DataMember(Name = "lag")] public long Lag { get; private set; }
        /// <summary>Paused by the application.</summary>
        [DataMember(Name = "paused")] public bool Paused { get; private set; }
    }

    /// <summary>A consumer's statistics snapshot (<see cref="Consumer.Metrics"/>).</summary>
    [DataContract]
    public sealed class ConsumerMetrics
    {
        /// <summary>Records handed to the application.</summary>
        [DataMember(Name = "records_consumed")] public ulong RecordsConsumed { get; private set; }
        /// <summary>Key and value bytes of those records.</summary>
        [DataMember(Name = "bytes_consumed")] public ulong BytesConsumed { get; private set; }
        /// <summary>Fetch responses received.</summary>
        [DataMember(Name = "fetch_requests")] public ulong FetchRequests { get; private set; }
        /// <summary>Mean Fetch round trip, microseconds.</summary>
        [DataMember(Name = "fetch_latency_avg_us")] public ulong FetchLatencyAvgUs { get; private set; }
        /// <summary>Longest Fetch round trip, microseconds.</summary>
        [DataMember(Name = "fetch_latency_max_us")] public ulong FetchLatencyMaxUs { get; private set; }
        /// <summary>Fetched bytes waiting to be handed out.</summary>
        [DataMember(Name = "buffered_bytes")] public ulong BufferedBytes { get; private set; }
        /// <summary>The assigned partitions, sorted.</summary>
        [DataMember(Name = "partitions")] public PartitionStats[] Partitions { get; private set; }
        /// <summary>Every broker the consumer knows, sorted by address.</summary>
        [DataMember(Name = "brokers")] public BrokerStats[] Brokers { get; private set; }
    }
}

namespace Odradek.Native
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void ErrorCallback(IntPtr context, IntPtr error);

    /// <summary>A client's error handler behind the GCHandle the library calls it through; its
    /// SafeHandle frees the GCHandle after the native client (no callback runs after that).</summary>
    internal sealed class ErrorSlot
    {
        // Alive as long as the AppDomain: any client may call it until it is freed.
        private static readonly ErrorCallback Trampoline = OnError;
        private readonly object _gate = new object();
        private IntPtr _context;

        /// <summary>Registers <paramref name="handler"/> (null: none) through
        /// <paramref name="install"/>. The library clears its previous callback first and waits
        /// for a running call, so the old GCHandle may be freed as soon as install returns.</summary>
        internal void Set(Action<KafkaException> handler, Func<ErrorCallback, IntPtr, IntPtr> install)
        {
            lock (_gate)
            {
                IntPtr context = handler == null ? IntPtr.Zero : GCHandle.ToIntPtr(GCHandle.Alloc(handler));
                IntPtr error = install(handler == null ? null : Trampoline, context);
                if (error != IntPtr.Zero)
                {
                    FreeContext(ref context);
                    Interop.Check(error);
                }
                FreeContext(ref _context);
                _context = context;
            }
        }

        /// <summary>Frees the handler; call after the native client is freed.</summary>
        internal void Free()
        {
            lock (_gate) FreeContext(ref _context);
        }

        private static void FreeContext(ref IntPtr context)
        {
            if (context == IntPtr.Zero) return;
            GCHandle.FromIntPtr(context).Free();
            context = IntPtr.Zero;
        }

        // Runs on the library's event thread; nothing may unwind into native code.
        private static void OnError(IntPtr context, IntPtr error)
        {
            NativeThread.MarkBackground();
            try
            {
                var handler = (Action<KafkaException>)GCHandle.FromIntPtr(context).Target;
                handler(Interop.ToException(error));
            }
            catch (Exception)
            {
                // A throwing handler loses that error only.
            }
        }
    }

    internal static class MetricsJson
    {
        /// <summary>Decodes (and frees) the JSON text a native *_metrics_json call returned.</summary>
        internal static T Decode<T>(IntPtr error, IntPtr text)
        {
            Interop.Check(error);
            try
            {
                var serializer = new DataContractJsonSerializer(typeof(T));
                using (var stream = new MemoryStream(Encoding.UTF8.GetBytes(Interop.PtrToString(text) ?? "")))
                {
                    return (T)serializer.ReadObject(stream);
                }
            }
            finally
            {
                Lib.odradek_string_free(text);
            }
        }
    }
}

// The share consumer (KIP-932, share groups) over the C ABI's odradek_share_consumer_* functions:
// its P/Invoke declarations, its handle and the public ShareConsumer.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using Odradek.Native;

namespace Odradek
{
    /// <summary>What became of a record a <see cref="ShareConsumer"/> handed out (the wire's values).</summary>
    public enum AcknowledgeType
    {
        /// <summary>Processed: the record is never delivered again.</summary>
        Accept = 1,
        /// <summary>Not processed: the record is delivered again (to any member), its delivery count one higher.</summary>
        Release = 2,
        /// <summary>Cannot be processed: the record is never delivered again.</summary>
        Reject = 3,
    }

    /// <summary>A record handed out by a <see cref="ShareConsumer"/>, with how often it has been delivered.</summary>
    public sealed class ShareConsumeResult
    {
        internal ShareConsumeResult(ConsumeResult record, short deliveryCount)
        {
            Record = record;
            DeliveryCount = deliveryCount;
        }

        /// <summary>The record (its timestamp type is always create time).</summary>
        public ConsumeResult Record { get; private set; }

        /// <summary>1 the first time the record is delivered, 2 after one release or lock timeout, ...</summary>
        public short DeliveryCount { get; private set; }

        public string Topic { get { return Record.Topic; } }
        public int Partition { get { return Record.Partition; } }
        public long Offset { get { return Record.Offset; } }

        public override string ToString() { return Record + " (delivery " + DeliveryCount + ")"; }
    }

    /// <summary>
    /// A member of a share group (KIP-932, "queues for Kafka"; <c>group.id</c> required): members
    /// read the same partitions, the broker hands each record to one member at a time, and the
    /// member acknowledges it (<see cref="Acknowledge"/>). With <c>share.acknowledgement.mode</c>
    /// <c>implicit</c> (the default) records not acknowledged are accepted at the next
    /// <see cref="Poll(TimeSpan)"/> or <see cref="CommitSync"/>; with <c>explicit</c> each must be
    /// acknowledged before the next poll.
    /// <code>
    /// using (var consumer = new ShareConsumer(new Dictionary&lt;string, string&gt; {
    ///     { "bootstrap.servers", "127.0.0.1:9092" }, { "group.id", "workers" } }))
    /// {
    ///     consumer.Subscribe("jobs");
    ///     foreach (ShareConsumeResult r in consumer.Poll(TimeSpan.FromSeconds(1)))
    ///         if (r.Record.Value == null) consumer.Acknowledge(r, AcknowledgeType.Reject);
    /// }
    /// </code>
    /// </summary>
    public sealed class ShareConsumer : IDisposable
    {
        static ShareConsumer()
        {
            NativeLoader.Load();
        }

        private readonly ShareConsumerHandle _handle;

        public ShareConsumer(IEnumerable<KeyValuePair<string, string>> config)
        {
            if (config == null) throw new ArgumentNullException("config");
            _handle = new ShareConsumerHandle();
            unsafe
            {
                using (var arena = new Arena())
                {
                    UIntPtr n;
                    OdradekConfigEntry* entries = arena.Config(config, out n);
                    IntPtr raw;
                    Interop.Check(ShareLib.odradek_share_consumer_new(entries, n, out raw));
                    _handle.Adopt(raw);
                }
            }
        }

        /// <summary>Subscribes to these topics, replacing the previous subscription; the
        /// coordinator's assignment arrives while polling.</summary>
        public void Subscribe(IEnumerable<string> topics)
        {
            if (topics == null) throw new ArgumentNullException("topics");
            var list = new List<string>(topics);
            unsafe
            {
                using (var arena = new Arena())
                {
                    var arr = (IntPtr*)arena.Alloc(IntPtr.Size * list.Count);
                    for (int i = 0; i < list.Count; i++) arr[i] = arena.Utf8Z(list[i]);
                    Interop.Check(ShareLib.odradek_share_consumer_subscribe(_handle, arr, (UIntPtr)list.Count));
                }
            }
        }

        public void Subscribe(string topic)
        {
            Subscribe(new[] { topic });
        }

        /// <summary>The partitions the coordinator assigned to this member now.</summary>
        public List<TopicPartition> Assignment
        {
            get
            {
                IntPtr list;
                UIntPtr count;
                Interop.Check(ShareLib.odradek_share_consumer_assignment(_handle, out list, out count));
                var result = new List<TopicPartition>();
                try
                {
                    unsafe
                    {
                        var p = (OdradekTopicPartition*)list;
                        for (int i = 0; i < (int)count.ToUInt64(); i++)
                            result.Add(new TopicPartition(Interop.PtrToString(p[i].Topic), p[i].Partition));
                    }
                }
                finally
                {
                    Lib.odradek_topic_partitions_free(list, count);
                }
                return result;
            }
        }

        /// <summary>Records that arrive within <paramref name="timeout"/> (empty after it). The
        /// acknowledgements of the records handed out before travel with this fetch.</summary>
        public IReadOnlyList<ShareConsumeResult> Poll(TimeSpan timeout)
        {
            return PollOnce(Interop.TimeoutMs(timeout));
        }

        /// <summary>Waits until records arrive. Throws OperationCanceledException when
        /// <paramref name="cancellationToken"/> fires first. The wait is cut into native polls of
        /// at most half a second that always run to their end: interrupting a fetch would leave
        /// the records it acquired locked until their acquisition locks time out.</summary>
        public IReadOnlyList<ShareConsumeResult> Poll(CancellationToken cancellationToken)
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                List<ShareConsumeResult> got = PollOnce(500);
                if (got.Count > 0) return got;
            }
        }

        private List<ShareConsumeResult> PollOnce(int timeoutMs)
        {
            IntPtr list;
            Interop.Check(ShareLib.odradek_share_consumer_poll(_handle, timeoutMs, IntPtr.Zero, out list));
            try
            {
                unsafe
                {
                    var share = (OdradekShareMessageList*)list;
                    var plain = new OdradekMessageList { Messages = share->Messages, Count = share->Count };
                    List<ConsumeResult> records = Consumer.Copy((IntPtr)(&plain));
                    var counts = (short*)share->DeliveryCounts;
                    var result = new List<ShareConsumeResult>(records.Count);
                    for (int i = 0; i < records.Count; i++) result.Add(new ShareConsumeResult(records[i], counts[i]));
                    return result;
                }
            }
            finally
            {
                ShareLib.odradek_share_message_list_free(list);
            }
        }

        /// <summary>Settles a record this consumer handed out; sent with the next poll or commit.
        /// A record acknowledged already is an error.</summary>
        public void Acknowledge(ShareConsumeResult record, AcknowledgeType type)
        {
            if (record == null) throw new ArgumentNullException("record");
            Interop.Check(ShareLib.odradek_share_consumer_acknowledge(_handle, Interop.Utf8Z(record.Topic), record.Partition, record.Offset, (int)type));
        }

        /// <summary>Sends the pending acknowledgements now and waits for the brokers' answers; throws
        /// the first partition's error.</summary>
        public void CommitSync(TimeSpan timeout)
        {
            Interop.Check(ShareLib.odradek_share_consumer_commit_sync(_handle, Interop.TimeoutMs(timeout), IntPtr.Zero));
        }

        /// <summary>Sends the pending acknowledgements in the background (a failure is logged).</summary>
        public void CommitAsync()
        {
            Interop.Check(ShareLib.odradek_share_consumer_commit_async(_handle));
        }

        /// <summary>Leaves the share group: explicit acknowledgements are sent, records handed out
        /// and not acknowledged are released. Idempotent.</summary>
        public void Close()
        {
            Interop.Check(ShareLib.odradek_share_consumer_close(_handle, Interop.TimeoutMs(Consumer.DefaultCloseTimeout)));
        }

        /// <summary>Closes (see <see cref="Close"/>) and frees the native share consumer.</summary>
        public void Dispose()
        {
            if (_handle.IsClosed) return;
            try
            {
                Close();
            }
            catch (KafkaException)
            {
                // Dispose must not throw; freeing below still leaves the group.
            }
            catch (ObjectDisposedException)
            {
            }
            _handle.Dispose();
        }
    }
}

namespace Odradek.Native
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekShareMessageList
    {
        public IntPtr Messages;
        public IntPtr DeliveryCounts;
        public UIntPtr Count;
    }

    internal sealed class ShareConsumerHandle : SafeHandle
    {
        public ShareConsumerHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        internal void Adopt(IntPtr raw) { SetHandle(raw); }

        protected override bool ReleaseHandle()
        {
            ShareLib.odradek_share_consumer_free(handle);
            return true;
        }
    }

    internal static class ShareLib
    {
        private const string Dll = "odradek_ffi";

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_share_consumer_new(OdradekConfigEntry* config, UIntPtr configLen, out IntPtr consumer);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_share_consumer_subscribe(ShareConsumerHandle consumer, IntPtr* topics, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_share_consumer_assignment(ShareConsumerHandle consumer, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_share_consumer_poll(ShareConsumerHandle consumer, int timeoutMs, IntPtr cancel, out IntPtr list);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_share_message_list_free(IntPtr list);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_share_consumer_acknowledge(ShareConsumerHandle consumer, byte[] topic, int partition, long offset, int acknowledgeType);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_share_consumer_commit_sync(ShareConsumerHandle consumer, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_share_consumer_commit_async(ShareConsumerHandle consumer);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_share_consumer_close(ShareConsumerHandle consumer, int timeoutMs);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_share_consumer_free(IntPtr consumer);
    }
}

// P/Invoke declarations of the C ABI (bindings/c/include/odradek.h, crate odradek-ffi) and the
// marshalling helpers around them. Every struct mirrors the header's layout (sequential, C
// alignment; size_t is UIntPtr, bool is byte). Strings cross as NUL-terminated UTF-8.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace Odradek.Native
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekError
    {
        public int Code;
        public int ErrorClass;
        public byte Retriable;
        public IntPtr Name;
        public IntPtr Message;
        public IntPtr Topic;
        public IntPtr Broker;
        public int Partition;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekConfigEntry
    {
        public IntPtr Key;
        public IntPtr Value;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekHeader
    {
        public IntPtr Name;
        public UIntPtr NameLen;
        public IntPtr Value;
        public UIntPtr ValueLen;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekProduceRecord
    {
        public IntPtr Topic;
        public int Partition;
        public IntPtr Key;
        public UIntPtr KeyLen;
        public IntPtr Value;
        public UIntPtr ValueLen;
        public IntPtr Headers;
        public UIntPtr HeadersLen;
        public long Timestamp;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekDeliveryReport
    {
        public int Partition;
        public long Offset;
        public long Timestamp;
        public IntPtr Error;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekTopicPartition
    {
        public IntPtr Topic;
        public int Partition;
        public long Offset;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekMessage
    {
        public IntPtr Topic;
        public int Partition;
        public long Offset;
        public long Timestamp;
        public int TimestampType;
        public IntPtr Key;
        public UIntPtr KeyLen;
        public IntPtr Value;
        public UIntPtr ValueLen;
        public IntPtr Headers;
        public UIntPtr HeadersLen;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekMessageList
    {
        public IntPtr Messages;
        public UIntPtr Count;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekNewTopic
    {
        public IntPtr Name;
        public int Partitions;
        public short ReplicationFactor;
        public IntPtr Config;
        public UIntPtr ConfigLen;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekTopicInfo
    {
        public IntPtr Name;
        public int Partitions;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void DeliveryCallback(IntPtr context, IntPtr reports, UIntPtr count);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void RebalanceCallback(IntPtr context, int evt, IntPtr partitions, UIntPtr count);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void LogCallback(IntPtr context, int level, IntPtr target, IntPtr message);

    internal static class Lib
    {
        // Mono maps this to libodradek_ffi.so (next to the assembly, on LD_LIBRARY_PATH, or the
        // copy NativeLoader loaded from the NuGet package's runtimes/ folder).
        private const string Dll = "odradek_ffi";

        public const int RebalanceAssigned = 1;
        public const int RebalanceRevoked = 2;
        public const int RebalanceLost = 3;
        public const int ErrIntr = LocalErrorCodes.Intr;

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_version();

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_error_free(IntPtr error);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_set_log_callback(int level, LogCallback callback, IntPtr context);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_producer_set_error_callback(ProducerHandle producer, ErrorCallback callback, IntPtr context);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_set_error_callback(ConsumerHandle consumer, ErrorCallback callback, IntPtr context);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_producer_metrics_json(ProducerHandle producer, out IntPtr json);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_metrics_json(ConsumerHandle consumer, out IntPtr json);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_string_free(IntPtr text);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_cancel_new();

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_cancel_trigger(IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_cancel_free(IntPtr cancel);

        // ---- producer
        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_producer_new_with_token_callback(OdradekConfigEntry* config, UIntPtr configLen, TokenCallback callback, IntPtr context, out IntPtr producer);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_producer_send(ProducerHandle producer, OdradekProduceRecord* record, DeliveryCallback callback, IntPtr context);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_producer_send_batch(ProducerHandle producer, OdradekProduceRecord* records, UIntPtr count, DeliveryCallback callback, IntPtr context);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_producer_flush(ProducerHandle producer, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_producer_close(ProducerHandle producer, int timeoutMs);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_producer_free(IntPtr producer);

        // ---- transactions
        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_producer_init_transactions(ProducerHandle producer, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_producer_begin_transaction(ProducerHandle producer);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_producer_send_offsets_to_transaction(ProducerHandle producer, OdradekTopicPartition* offsets, UIntPtr count, GroupMetadataHandle group, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_producer_commit_transaction(ProducerHandle producer, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_producer_abort_transaction(ProducerHandle producer, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_group_metadata(ConsumerHandle consumer, out IntPtr metadata);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_group_metadata_free(IntPtr metadata);

        // ---- consumer
        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_consumer_new_with_token_callback(OdradekConfigEntry* config, UIntPtr configLen, TokenCallback callback, IntPtr context, out IntPtr consumer);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_set_rebalance_callback(ConsumerHandle consumer, RebalanceCallback callback, IntPtr context);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_consumer_subscribe(ConsumerHandle consumer, IntPtr* topics, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_consumer_assign(ConsumerHandle consumer, OdradekTopicPartition* partitions, UIntPtr count, int timeoutMs);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_unassign(ConsumerHandle consumer);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_assignment(ConsumerHandle consumer, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_topic_partitions_free(IntPtr list, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_poll(ConsumerHandle consumer, UIntPtr max, int timeoutMs, IntPtr cancel, out IntPtr list);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_message_list_free(IntPtr list);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_seek(ConsumerHandle consumer, byte[] topic, int partition, long offset);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_position(ConsumerHandle consumer, byte[] topic, int partition, out long offset);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_consumer_pause(ConsumerHandle consumer, OdradekTopicPartition* partitions, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_consumer_resume(ConsumerHandle consumer, OdradekTopicPartition* partitions, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_watermarks(ConsumerHandle consumer, byte[] topic, int partition, out long low, out long high, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_consumer_commit(ConsumerHandle consumer, OdradekTopicPartition* offsets, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_consumer_committed(ConsumerHandle consumer, OdradekTopicPartition* partitions, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_consumer_close(ConsumerHandle consumer, int timeoutMs);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_consumer_free(IntPtr consumer);

        // ---- admin
        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_new_with_token_callback(OdradekConfigEntry* config, UIntPtr configLen, TokenCallback callback, IntPtr context, out IntPtr admin);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_create_topics(AdminHandle admin, OdradekNewTopic* topics, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_delete_topics(AdminHandle admin, IntPtr* topics, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_admin_create_partitions(AdminHandle admin, byte[] topic, int total, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_admin_list_topics(AdminHandle admin, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_topic_infos_free(IntPtr list, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_admin_free(IntPtr admin);

        // ---- embedded broker
        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_test_broker_start(OdradekConfigEntry* properties, UIntPtr count, out IntPtr broker);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_test_broker_start_sasl_ssl(IntPtr username, IntPtr password, OdradekConfigEntry* properties, UIntPtr count, out IntPtr broker);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_test_broker_bootstrap(BrokerHandle broker);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_test_broker_ca_pem(BrokerHandle broker);

        // ---- embedded cluster
        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_test_cluster_start(int nodes, OdradekConfigEntry* properties, UIntPtr count, out IntPtr cluster);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_test_cluster_bootstrap(ClusterHandle cluster, out IntPtr text);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern int odradek_test_cluster_node_count(ClusterHandle cluster);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_test_cluster_kill(ClusterHandle cluster, int nodeId);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_test_cluster_restart(ClusterHandle cluster, int nodeId);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_test_cluster_isolate(ClusterHandle cluster, int nodeId);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_test_cluster_heal(ClusterHandle cluster, int nodeId);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_test_cluster_leader(ClusterHandle cluster, byte[] topic, int partition, out int leader);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_test_cluster_stop(IntPtr cluster);

        // ---- OAUTHBEARER token callbacks (result: the OdradekTokenResult* of the running callback)
        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_token_set(IntPtr result, IntPtr token, long expiresAtMs, IntPtr principal);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_token_add_extension(IntPtr result, IntPtr key, IntPtr value);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_token_fail(IntPtr result, IntPtr message);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_test_broker_stop(IntPtr broker);
    }

    /// <summary>Library threads that call back into .NET.</summary>
    internal static class NativeThread
    {
        [ThreadStatic]
        private static bool _marked;

        // Mono's per-thread runtime record and its flags word (Mono 6.x); null elsewhere.
        private static readonly System.Reflection.FieldInfo InternalThreadField;
        private static readonly System.Reflection.FieldInfo FlagsField;
        private const long MonoThreadFlagDontManage = 1;

        static NativeThread()
        {
            try
            {
                if (Type.GetType("Mono.Runtime") == null) return;
                const System.Reflection.BindingFlags Any = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;
                InternalThreadField = typeof(System.Threading.Thread).GetField("internal_thread", Any);
                if (InternalThreadField != null) FlagsField = InternalThreadField.FieldType.GetField("flags", Any);
                if (FlagsField != null && FlagsField.FieldType != typeof(IntPtr)) FlagsField = null;
            }
            catch (Exception)
            {
                FlagsField = null;
            }
        }

        /// <summary>
        /// Called first in every callback from a library thread. Mono before 6.12 (Debian ships
        /// 6.8) records a native thread that ran a delegate as a managed thread and then waits for
        /// it to end at process exit — forever, since the library's threads live as long as the
        /// process (mono/mono#20466 fixed this in 6.12). Marking the thread background and
        /// "don't manage" (what Mono 6.12 does for such threads) lets the process exit. A no-op
        /// after the first call on a thread, and on runtimes other than Mono.
        /// </summary>
        public static void MarkBackground()
        {
            if (_marked) return;
            _marked = true;
            System.Threading.Thread.CurrentThread.IsBackground = true;
            if (FlagsField == null) return;
            try
            {
                object internalThread = InternalThreadField.GetValue(System.Threading.Thread.CurrentThread);
                if (internalThread == null) return;
                long flags = ((IntPtr)FlagsField.GetValue(internalThread)).ToInt64();
                FlagsField.SetValue(internalThread, new IntPtr(flags | MonoThreadFlagDontManage));
            }
            catch (Exception)
            {
                // An unexpected Mono layout: exit may wait for library threads, nothing worse.
            }
        }
    }

    /// <summary>Marshalling helpers shared by every client type.</summary>
    internal static class Interop
    {
        /// <summary>Throws the KafkaException an ABI call returned (and frees the native error).</summary>
        public static void Check(IntPtr error)
        {
            if (error == IntPtr.Zero) return;
            KafkaException e = ToException(error);
            Lib.odradek_error_free(error);
            throw e;
        }

        /// <summary>A KafkaException from a borrowed native error (not freed).</summary>
        public static unsafe KafkaException ToException(IntPtr error)
        {
            var e = (OdradekError*)error;
            var cls = e->ErrorClass >= 0 && e->ErrorClass <= 3 ? (ErrorClass)e->ErrorClass : Odradek.ErrorClass.Fatal;
            // The class decides IsRetriable; the ABI's own flag wins when they disagree (it is the
            // core's Error::is_retriable()).
            if (e->Retriable != 0 && cls != Odradek.ErrorClass.Retriable) cls = Odradek.ErrorClass.Retriable;
            if (e->Retriable == 0 && cls == Odradek.ErrorClass.Retriable) cls = Odradek.ErrorClass.Permanent;
            string name = PtrToString(e->Name) ?? "_UNKNOWN", message = PtrToString(e->Message);
            KafkaException ex = cls == Odradek.ErrorClass.Abortable
                ? new KafkaTxnRequiresAbortException(e->Code, name, message)
                : new KafkaException(e->Code, name, cls, message);
            ex.SetContext(PtrToString(e->Topic), e->Partition, PtrToString(e->Broker));
            return ex;
        }

        public static unsafe string PtrToString(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            byte* b = (byte*)p;
            int n = 0;
            while (b[n] != 0) n++;
            return Encoding.UTF8.GetString(b, n);
        }

        public static unsafe string PtrToString(IntPtr p, int len)
        {
            if (p == IntPtr.Zero) return null;
            return Encoding.UTF8.GetString((byte*)p, len);
        }

        public static byte[] Copy(IntPtr p, UIntPtr len)
        {
            if (p == IntPtr.Zero) return null;
            var b = new byte[checked((int)len.ToUInt64())];
            if (b.Length > 0) Marshal.Copy(p, b, 0, b.Length);
            return b;
        }

        /// <summary>NUL-terminated UTF-8, for byte[] string parameters.</summary>
        public static byte[] Utf8Z(string s)
        {
            if (s == null) throw new ArgumentNullException("s");
            var b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        public static int TimeoutMs(TimeSpan timeout)
        {
            if (timeout == System.Threading.Timeout.InfiniteTimeSpan) return -1;
            if (timeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException("timeout");
            double ms = Math.Ceiling(timeout.TotalMilliseconds);
            return ms >= int.MaxValue ? int.MaxValue : (int)ms;
        }
    }

    /// <summary>
    /// Unmanaged memory for the arguments of one call: strings, bytes and structs allocated here are
    /// freed together on Dispose (the library copies what it keeps before the call returns).
    /// A bump allocator over blocks that double up to 64 KiB: a batch of records costs a few
    /// mallocs, not one per value.
    /// </summary>
    internal sealed class Arena : IDisposable
    {
        private const int FirstBlock = 1024;
        private const int LargestBlock = 64 * 1024;
        private readonly List<IntPtr> _blocks = new List<IntPtr>();
        private IntPtr _block;
        private int _used;
        private int _capacity;

        public IntPtr Alloc(int size)
        {
            // 8-byte aligned: the structs handed to the library hold pointers and 64-bit integers.
            int n = ((size <= 0 ? 1 : size) + 7) & ~7;
            if (n > LargestBlock / 2) return NewBlock(n);
            if (_block == IntPtr.Zero || _used + n > _capacity)
            {
                int capacity = _capacity == 0 ? FirstBlock : Math.Min(_capacity * 2, LargestBlock);
                while (capacity < n) capacity *= 2;
                _block = NewBlock(capacity);
                _capacity = capacity;
                _used = 0;
            }
            IntPtr p = _block + _used;
            _used += n;
            return p;
        }

        private IntPtr NewBlock(int size)
        {
            IntPtr p = Marshal.AllocHGlobal(size);
            _blocks.Add(p);
            return p;
        }

        public IntPtr Utf8Z(string s)
        {
            byte[] b = Interop.Utf8Z(s);
            IntPtr p = Alloc(b.Length);
            Marshal.Copy(b, 0, p, b.Length);
            return p;
        }

        /// <summary>A copy of <paramref name="b"/>; NULL for null, a valid pointer for an empty array.</summary>
        public IntPtr Bytes(byte[] b)
        {
            if (b == null) return IntPtr.Zero;
            IntPtr p = Alloc(b.Length);
            if (b.Length > 0) Marshal.Copy(b, 0, p, b.Length);
            return p;
        }

        public unsafe OdradekConfigEntry* Config(IEnumerable<KeyValuePair<string, string>> config, out UIntPtr count)
        {
            var list = new List<KeyValuePair<string, string>>();
            if (config != null) list.AddRange(config);
            var entries = (OdradekConfigEntry*)Alloc(sizeof(OdradekConfigEntry) * list.Count);
            for (int i = 0; i < list.Count; i++)
            {
                if (list[i].Key == null) throw new ArgumentException("a config key is null");
                if (list[i].Value == null) throw new ArgumentException("the value of config key " + list[i].Key + " is null");
                entries[i].Key = Utf8Z(list[i].Key);
                entries[i].Value = Utf8Z(list[i].Value);
            }
            count = (UIntPtr)list.Count;
            return entries;
        }

        public unsafe OdradekTopicPartition* Partitions(IList<TopicPartitionOffset> parts)
        {
            var p = (OdradekTopicPartition*)Alloc(sizeof(OdradekTopicPartition) * parts.Count);
            for (int i = 0; i < parts.Count; i++)
            {
                p[i].Topic = Utf8Z(parts[i].Topic);
                p[i].Partition = parts[i].Partition;
                p[i].Offset = parts[i].Offset.Value;
            }
            return p;
        }

        public void Dispose()
        {
            foreach (IntPtr p in _blocks) Marshal.FreeHGlobal(p);
            _blocks.Clear();
            _block = IntPtr.Zero;
            _used = _capacity = 0;
        }
    }

    /// <summary>A native cancellation token triggered by a CancellationToken for one blocking call.</summary>
    internal sealed class NativeCancel : IDisposable
    {
        private IntPtr _token;
        private System.Threading.CancellationTokenRegistration _registration;

        public NativeCancel(System.Threading.CancellationToken ct)
        {
            if (!ct.CanBeCanceled) return;
            _token = Lib.odradek_cancel_new();
            IntPtr t = _token;
            _registration = ct.Register(() => Lib.odradek_cancel_trigger(t));
        }

        public IntPtr Token { get { return _token; } }

        public void Dispose()
        {
            if (_token == IntPtr.Zero) return;
            // Dispose waits for a running trigger, so the token is not freed under it.
            _registration.Dispose();
            Lib.odradek_cancel_free(_token);
            _token = IntPtr.Zero;
        }
    }
}

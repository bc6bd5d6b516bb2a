// The plumbing the admin client's calls share: one blocking native call bounded by a timeout and a
// CancellationToken, string arrays, and copying native lists into managed ones.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Odradek.Native;

namespace Odradek
{
    public sealed partial class AdminClient
    {
        /// <summary>A native call given its timeout (ms) and cancel token.</summary>
        private delegate IntPtr NativeCall(int timeoutMs, IntPtr cancel);

        /// <summary>Runs <paramref name="call"/> on the thread pool and throws its error
        /// (<see cref="OperationCanceledException"/> when the token cancelled it).</summary>
        private static Task RunAsync(NativeCall call, TimeSpan? timeout, CancellationToken ct)
        {
            int ms = Interop.TimeoutMs(timeout ?? DefaultTimeout);
            return Task.Run(() => Invoke(call, ms, ct), ct);
        }

        private static void Invoke(NativeCall call, int timeoutMs, CancellationToken ct)
        {
            using (var cancel = new NativeCancel(ct))
            {
                IntPtr err = call(timeoutMs, cancel.Token);
                Producer.ThrowIfInterrupted(err, ct);
                Interop.Check(err);
            }
        }

        /// <summary>Runs a native call that hands out a list, reads it with <paramref name="read"/>
        /// and frees it with <paramref name="free"/>.</summary>
        private static Task<List<T>> ListAsync<T>(ListCall call, Func<IntPtr, int, T> read, Action<IntPtr, UIntPtr> free,
            TimeSpan? timeout, CancellationToken ct)
        {
            int ms = Interop.TimeoutMs(timeout ?? DefaultTimeout);
            return Task.Run(() =>
            {
                IntPtr list = IntPtr.Zero;
                UIntPtr count = UIntPtr.Zero;
                Invoke((t, c) => call(t, c, out list, out count), ms, ct);
                try
                {
                    var result = new List<T>();
                    for (int i = 0; i < (int)count.ToUInt64(); i++) result.Add(read(list, i));
                    return result;
                }
                finally
                {
                    free(list, count);
                }
            }, ct);
        }

        private delegate IntPtr ListCall(int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        /// <summary>A native array of UTF-8 strings in <paramref name="arena"/>.</summary>
        private static unsafe IntPtr* Strings(Arena arena, IList<string> names, string what)
        {
            var ptrs = (IntPtr*)arena.Alloc(IntPtr.Size * names.Count);
            for (int i = 0; i < names.Count; i++)
            {
                if (names[i] == null) throw new ArgumentException(what + "[" + i + "] is null");
                ptrs[i] = arena.Utf8Z(names[i]);
            }
            return ptrs;
        }

        private static List<T> Copy<T>(IEnumerable<T> items, string what)
        {
            if (items == null) throw new ArgumentNullException(what);
            return new List<T>(items);
        }

        private static unsafe TopicPartitionOffset ReadPartition(IntPtr array, int i)
        {
            var p = ((OdradekTopicPartition*)array)[i];
            return new TopicPartitionOffset(Interop.PtrToString(p.Topic), p.Partition, p.Offset);
        }

        private static List<TopicPartitionOffset> ReadPartitions(IntPtr array, int count)
        {
            var result = new List<TopicPartitionOffset>();
            for (int i = 0; i < count; i++) result.Add(ReadPartition(array, i));
            return result;
        }
    }
}

using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;
using Odradek.Native;

namespace Odradek
{
    /// <summary>
    /// Reads records: either a member of a consumer group (<c>group.id</c> set, then
    /// <see cref="Subscribe(IEnumerable{string})"/>) or with partitions assigned by hand
    /// (<see cref="Assign(IEnumerable{TopicPartitionOffset})"/>). With <c>group.id</c> set, <see cref="Commit()"/> and
    /// <see cref="Committed"/> work either way.
    /// <code>
    /// using (var consumer = new Consumer(new Dictionary&lt;string, string&gt; {
    ///     { "bootstrap.servers", "127.0.0.1:9092" }, { "group.id", "greeters" }, { "auto.offset.reset", "earliest" } }))
    /// {
    ///     consumer.Subscribe("greetings");
    ///     ConsumeResult r = consumer.Consume(TimeSpan.FromSeconds(10));
    /// }
    /// </code>
    /// Consume, Seek, Position and Commit may be called from any thread, but records are handed
    /// out once: use one consuming thread per consumer. Rebalance events run on the consumer's
    /// rebalance thread while the group waits (up to <c>max.poll.interval.ms</c>); handlers may
    /// call back into the consumer (Commit, Seek), and Close runs PartitionsRevoked before the
    /// consumer is closed.
    /// </summary>
    public sealed partial class Consumer : IDisposable
    {
        // Finds the native library of a NuGet package before the first native call.
        static Consumer()
        {
            NativeLoader.Load();
        }

        private static readonly RebalanceCallback RebalanceTrampoline = OnRebalance;

        /// <summary>Default time Dispose waits for leaving the group.</summary>
        public static readonly TimeSpan DefaultCloseTimeout = TimeSpan.FromSeconds(30);

        private readonly ConsumerHandle _handle;
        private Exception _handlerError;

        public Consumer(IEnumerable<KeyValuePair<string, string>> config) : this(config, null) { }

        /// <summary>A consumer whose OAUTHBEARER tokens come from <paramref name="tokenProvider"/>
        /// (kept alive until the consumer is disposed).</summary>
        public Consumer(IEnumerable<KeyValuePair<string, string>> config, OAuthBearerTokenProvider tokenProvider)
        {
            if (config == null) throw new ArgumentNullException("config");
            _handle = new ConsumerHandle();
            bool grouped = false;
            unsafe
            {
                using (var arena = new Arena())
                {
                    var list = new List<KeyValuePair<string, string>>(config);
                    foreach (var kv in list)
                    {
                        if (kv.Key == "group.id" && !string.IsNullOrEmpty(kv.Value)) grouped = true;
                    }
                    UIntPtr n;
                    OdradekConfigEntry* entries = arena.Config(list, out n);
                    IntPtr raw;
                    IntPtr tokenContext = TokenProviders.Context(tokenProvider);
                    IntPtr error = Lib.odradek_consumer_new_with_token_callback(entries, n, TokenProviders.CallbackFor(tokenProvider), tokenContext, out raw);
                    if (error != IntPtr.Zero) TokenProviders.Free(ref tokenContext);
                    Interop.Check(error);
                    _handle.Adopt(raw);
                    _handle.TokenContext = tokenContext;
                }
            }
            if (grouped)
            {
                // The context holds the consumer weakly, so an undisposed consumer can still be
                // collected; its handle frees the context after the native consumer is gone.
                GCHandle ctx = GCHandle.Alloc(new WeakReference<Consumer>(this));
                _handle.RebalanceContext = GCHandle.ToIntPtr(ctx);
                Interop.Check(Lib.odradek_consumer_set_rebalance_callback(_handle, RebalanceTrampoline, _handle.RebalanceContext));
            }
        }

        /// <summary>Partitions were added to this member's assignment (runs on a library thread).</summary>
        public event EventHandler<RebalanceEventArgs> PartitionsAssigned;

        /// <summary>Partitions are being taken away in an orderly rebalance; commit their offsets here
        /// when committing by hand: the group waits, so the commit lands before another member gets
        /// them.</summary>
        public event EventHandler<RebalanceEventArgs> PartitionsRevoked;

        /// <summary>Partitions were lost without an orderly rebalance (this member was fenced or timed
        /// out); committing them is pointless.</summary>
        public event EventHandler<RebalanceEventArgs> PartitionsLost;

        // Runs on a native library thread. No exception may leave it: a handler's exception is kept
        // and rethrown by the next Consume on the caller's thread.
        private static void OnRebalance(IntPtr context, int evt, IntPtr partitions, UIntPtr count)
        {
            Consumer self = null;
            try
            {
                NativeThread.MarkBackground();
                var weak = (WeakReference<Consumer>)GCHandle.FromIntPtr(context).Target;
                if (!weak.TryGetTarget(out self)) return;
                var list = new List<TopicPartition>();
                unsafe
                {
                    var p = (OdradekTopicPartition*)partitions;
                    for (int i = 0; i < (int)count.ToUInt64(); i++)
                    {
                        list.Add(new TopicPartition(Interop.PtrToString(p[i].Topic), p[i].Partition));
                    }
                }
                EventHandler<RebalanceEventArgs> handler;
                RebalanceKind kind;
                switch (evt)
                {
                    case Lib.RebalanceAssigned: handler = self.PartitionsAssigned; kind = RebalanceKind.Assigned; break;
                    case Lib.RebalanceRevoked: handler = self.PartitionsRevoked; kind = RebalanceKind.Revoked; break;
                    case Lib.RebalanceLost: handler = self.PartitionsLost; kind = RebalanceKind.Lost; break;
                    default: return;
                }
                if (handler != null) handler(self, new RebalanceEventArgs(kind, list.AsReadOnly()));
            }
            catch (Exception e)
            {
                if (self != null) Interlocked.CompareExchange(ref self._handlerError, e, null);
            }
        }

        private void RethrowHandlerError()
        {
            Exception e = Interlocked.Exchange(ref _handlerError, null);
            if (e != null) ExceptionDispatchInfo.Capture(e).Throw();
        }

        /// <summary>Joins the consumer group (<c>group.id</c> required) for these topics, replacing an
        /// earlier subscription. Returns at once; the assignment arrives while consuming.</summary>
        public void Subscribe(IEnumerable<string> topics)
        {
            if (topics == null) throw new ArgumentNullException("topics");
            var names = new List<string>(topics);
            unsafe
            {
                using (var arena = new Arena())
                {
                    var ptrs = (IntPtr*)arena.Alloc(IntPtr.Size * names.Count);
                    for (int i = 0; i < names.Count; i++) ptrs[i] = arena.Utf8Z(names[i]);
                    Interop.Check(Lib.odradek_consumer_subscribe(_handle, ptrs, (UIntPtr)names.Count));
                }
            }
        }

        /// <summary>Joins the consumer group for one topic.</summary>
        public void Subscribe(string topic)
        {
            Subscribe(new[] { topic });
        }

        /// <summary>Reads these partitions (replacing an earlier manual assignment), each from its
        /// offset: a number, <see cref="Offset.Beginning"/>, <see cref="Offset.End"/> or
        /// <see cref="Offset.Stored"/> (the group's committed offset, else <c>auto.offset.reset</c>).</summary>
        public void Assign(IEnumerable<TopicPartitionOffset> partitions)
        {
            if (partitions == null) throw new ArgumentNullException("partitions");
            var list = new List<TopicPartitionOffset>(partitions);
            unsafe
            {
                using (var arena = new Arena())
                {
                    OdradekTopicPartition* p = arena.Partitions(list);
                    Interop.Check(Lib.odradek_consumer_assign(_handle, p, (UIntPtr)list.Count, 30000));
                }
            }
        }

        /// <summary>Reads these partitions from their committed offsets (else <c>auto.offset.reset</c>).</summary>
        public void Assign(IEnumerable<TopicPartition> partitions)
        {
            if (partitions == null) throw new ArgumentNullException("partitions");
            var list = new List<TopicPartitionOffset>();
            foreach (var tp in partitions) list.Add(new TopicPartitionOffset(tp, Offset.Stored));
            Assign(list);
        }

        /// <summary>Drops the manual assignment.</summary>
        public void Unassign()
        {
            Interop.Check(Lib.odradek_consumer_unassign(_handle));
        }

        /// <summary>The partitions this consumer reads now (its share of the group, or the manual assignment).</summary>
        public List<TopicPartition> Assignment
        {
            get
            {
                IntPtr list;
                UIntPtr count;
                Interop.Check(Lib.odradek_consumer_assignment(_handle, out list, out count));
                var result = new List<TopicPartition>();
                try
                {
                    unsafe
                    {
                        var p = (OdradekTopicPartition*)list;
                        for (int i = 0; i < (int)count.ToUInt64(); i++)
                        {
                            result.Add(new TopicPartition(Interop.PtrToString(p[i].Topic), p[i].Partition));
                        }
                    }
                }
                finally
                {
                    Lib.odradek_topic_partitions_free(list, count);
                }
                return result;
            }
        }

        /// <summary>The next record, or null when none arrives within <paramref name="timeout"/>.</summary>
        public ConsumeResult Consume(TimeSpan timeout)
        {
            RethrowHandlerError();
            List<ConsumeResult> got = Poll(1, Interop.TimeoutMs(timeout), CancellationToken.None);
            RethrowHandlerError();
            return got.Count > 0 ? got[0] : null;
        }

        /// <summary>The next record; waits until one arrives. Throws OperationCanceledException when
        /// <paramref name="cancellationToken"/> fires first (no record is lost).</summary>
        public ConsumeResult Consume(CancellationToken cancellationToken = default(CancellationToken))
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                RethrowHandlerError();
                List<ConsumeResult> got = Poll(1, -1, cancellationToken);
                RethrowHandlerError();
                if (got.Count > 0) return got[0];
            }
        }

        /// <summary>Up to <paramref name="max"/> records with one call into the native library: waits
        /// up to <paramref name="timeout"/> for the first, then takes what is already fetched.
        /// Empty after the timeout.</summary>
        public IReadOnlyList<ConsumeResult> ConsumeBatch(int max, TimeSpan timeout)
        {
            if (max < 1) throw new ArgumentOutOfRangeException("max");
            RethrowHandlerError();
            List<ConsumeResult> got = Poll(max, Interop.TimeoutMs(timeout), CancellationToken.None);
            RethrowHandlerError();
            return got;
        }

        private List<ConsumeResult> Poll(int max, int timeoutMs, CancellationToken ct)
        {
            IntPtr list;
            IntPtr err;
            using (var cancel = new NativeCancel(ct))
            {
                err = Lib.odradek_consumer_poll(_handle, (UIntPtr)max, timeoutMs, cancel.Token, out list);
            }
            Producer.ThrowIfInterrupted(err, ct);
            Interop.Check(err);
            try
            {
                return Copy(list);
            }
            finally
            {
                Lib.odradek_message_list_free(list);
            }
        }

        internal static unsafe List<ConsumeResult> Copy(IntPtr listPtr)
        {
            var list = (OdradekMessageList*)listPtr;
            int n = (int)list->Count.ToUInt64();
            var result = new List<ConsumeResult>(n);
            var m = (OdradekMessage*)list->Messages;
            string lastTopic = null;
            IntPtr lastTopicPtr = IntPtr.Zero;
            for (int i = 0; i < n; i++)
            {
                if (m[i].Topic != lastTopicPtr)
                {
                    lastTopicPtr = m[i].Topic;
                    lastTopic = Interop.PtrToString(lastTopicPtr);
                }
                var headers = new Headers();
                var h = (OdradekHeader*)m[i].Headers;
                for (int j = 0; j < (int)m[i].HeadersLen.ToUInt64(); j++)
                {
                    headers.Add(Interop.PtrToString(h[j].Name, (int)h[j].NameLen.ToUInt64()) ?? "", Interop.Copy(h[j].Value, h[j].ValueLen));
                }
                result.Add(new ConsumeResult(lastTopic, m[i].Partition, m[i].Offset, m[i].Timestamp,
                    Interop.Copy(m[i].Key, m[i].KeyLen), Interop.Copy(m[i].Value, m[i].ValueLen), headers));
            }
            return result;
        }

        /// <summary>The next record read from this partition will be at this offset (a number,
        /// <see cref="Offset.Beginning"/> or <see cref="Offset.End"/>).</summary>
        public void Seek(TopicPartitionOffset position)
        {
            Interop.Check(Lib.odradek_consumer_seek(_handle, Interop.Utf8Z(position.Topic), position.Partition, position.Offset.Value));
        }

        /// <summary>The offset of the next record this consumer hands out from the partition, or
        /// <see cref="Offset.Unset"/> when it is not assigned or not resolved yet.</summary>
        public Offset Position(TopicPartition partition)
        {
            long offset;
            Interop.Check(Lib.odradek_consumer_position(_handle, Interop.Utf8Z(partition.Topic), partition.Partition, out offset));
            return offset;
        }

        /// <summary>Stops handing out and fetching these partitions until <see cref="Resume"/>: records
        /// fetched before are held, and the position does not move.</summary>
        public void Pause(IEnumerable<TopicPartition> partitions)
        {
            SetPaused(partitions, true);
        }

        /// <summary>Hands out and fetches these partitions again, the held records first.</summary>
        public void Resume(IEnumerable<TopicPartition> partitions)
        {
            SetPaused(partitions, false);
        }

        private void SetPaused(IEnumerable<TopicPartition> partitions, bool paused)
        {
            if (partitions == null) throw new ArgumentNullException("partitions");
            var list = new List<TopicPartitionOffset>();
            foreach (var tp in partitions) list.Add(new TopicPartitionOffset(tp, Offset.Unset));
            unsafe
            {
                using (var arena = new Arena())
                {
                    OdradekTopicPartition* p = arena.Partitions(list);
                    Interop.Check(paused
                        ? Lib.odradek_consumer_pause(_handle, p, (UIntPtr)list.Count)
                        : Lib.odradek_consumer_resume(_handle, p, (UIntPtr)list.Count));
                }
            }
        }

        /// <summary>The low (first offset) and high (after the last stable record) watermarks of a
        /// partition, asked from its leader.</summary>
        public WatermarkOffsets QueryWatermarkOffsets(TopicPartition partition, TimeSpan timeout)
        {
            long low, high;
            Interop.Check(Lib.odradek_consumer_watermarks(_handle, Interop.Utf8Z(partition.Topic), partition.Partition, out low, out high, Interop.TimeoutMs(timeout), IntPtr.Zero));
            return new WatermarkOffsets(low, high);
        }

        /// <summary>Commits synchronously the positions of every partition read so far (<c>group.id</c> required).</summary>
        public void Commit()
        {
            unsafe
            {
                Interop.Check(Lib.odradek_consumer_commit(_handle, null, UIntPtr.Zero, 30000, IntPtr.Zero));
            }
        }

        /// <summary>Commits these offsets synchronously (each the next offset to read).</summary>
        public void Commit(IEnumerable<TopicPartitionOffset> offsets)
        {
            if (offsets == null) throw new ArgumentNullException("offsets");
            var list = new List<TopicPartitionOffset>(offsets);
            if (list.Count == 0) return;
            unsafe
            {
                using (var arena = new Arena())
                {
                    OdradekTopicPartition* p = arena.Partitions(list);
                    Interop.Check(Lib.odradek_consumer_commit(_handle, p, (UIntPtr)list.Count, 30000, IntPtr.Zero));
                }
            }
        }

        /// <summary>Commits the offset after this record (so the group resumes after it).</summary>
        public void Commit(ConsumeResult result)
        {
            if (result == null) throw new ArgumentNullException("result");
            Commit(new[] { new TopicPartitionOffset(result.Topic, result.Partition, result.Offset + 1) });
        }

        /// <summary>The group's committed offsets for these partitions (<see cref="Offset.Unset"/> when
        /// nothing is committed).</summary>
        public List<TopicPartitionOffset> Committed(IEnumerable<TopicPartition> partitions, TimeSpan timeout)
        {
            if (partitions == null) throw new ArgumentNullException("partitions");
            var list = new List<TopicPartitionOffset>();
            foreach (var tp in partitions) list.Add(new TopicPartitionOffset(tp, Offset.Unset));
            var result = new List<TopicPartitionOffset>();
            unsafe
            {
                using (var arena = new Arena())
                {
                    OdradekTopicPartition* p = arena.Partitions(list);
                    Interop.Check(Lib.odradek_consumer_committed(_handle, p, (UIntPtr)list.Count, Interop.TimeoutMs(timeout), IntPtr.Zero));
                    for (int i = 0; i < list.Count; i++) result.Add(new TopicPartitionOffset(list[i].TopicPartition, p[i].Offset));
                }
            }
            return result;
        }

        /// <summary>
        /// Sends the consumer's background failures — the ones no call returns: a broker unreachable or
        /// its connection lost (<c>_TRANSPORT</c>), every broker down (<c>_ALL_BROKERS_DOWN</c>), a TLS
        /// or SASL failure, the group refusing the member — to <paramref name="handler"/>, replacing the one set before; null
        /// stops them. <see cref="KafkaException.IsRetriable"/> says whether the client recovers by
        /// itself. The handler runs on the library's event thread, one error at a time; an exception
        /// from it loses that error only. Once this returns (or <see cref="Close"/>), the previous
        /// handler never runs again (so this waits for a running call: do not call it from the
        /// handler itself).
        /// </summary>
        public void SetErrorHandler(Action<KafkaException> handler)
        {
            _handle.Errors.Set(handler, InstallErrorCallback);
        }

        private IntPtr InstallErrorCallback(ErrorCallback callback, IntPtr context)
        {
            return Lib.odradek_consumer_set_error_callback(_handle, callback, context);
        }

        /// <summary>The consumer's statistics: records and bytes handed out, Fetch round trips,
        /// buffered bytes, each assigned partition's position, high watermark and lag, and a row per
        /// broker.</summary>
        public ConsumerMetrics Metrics()
        {
            IntPtr json;
            IntPtr error = Lib.odradek_consumer_metrics_json(_handle, out json);
            return MetricsJson.Decode<ConsumerMetrics>(error, json);
        }

        /// <summary>Leaves the group (committing processed offsets when <c>enable.auto.commit</c> is on)
        /// and stops fetching. After it returns no rebalance event or error handler runs. Idempotent.</summary>
        public void Close()
        {
            _handle.Errors.Set(null, InstallErrorCallback);
            Interop.Check(Lib.odradek_consumer_close(_handle, Interop.TimeoutMs(DefaultCloseTimeout)));
        }

        /// <summary>Closes (see <see cref="Close"/>) and frees the native consumer.</summary>
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

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Odradek.Native;

namespace Odradek
{
    /// <summary>
    /// Sends records to Kafka. Thread-safe: share one producer across the application.
    /// <code>
    /// using (var producer = new Producer(new Dictionary&lt;string, string&gt; { { "bootstrap.servers", "127.0.0.1:9092" } }))
    /// {
    ///     DeliveryResult r = await producer.ProduceAsync("greetings", Message.FromStrings("alice", "hello"));
    /// }
    /// </code>
    /// Configuration keys are librdkafka's / the Java client's (<c>linger.ms</c>, <c>acks</c>,
    /// <c>compression.type</c>, ...), with the same defaults as every Odradek binding; an unknown
    /// key or a bad value throws a <see cref="KafkaException"/> named <c>_INVALID_CONFIG</c>.
    /// </summary>
    public sealed partial class Producer : IDisposable
    {
        // Finds the native library of a NuGet package before the first native call.
        static Producer()
        {
            NativeLoader.Load();
        }

        // One delegate for every delivery, alive as long as the AppDomain: the native library may
        // call it from its own threads at any time until the last delivery of the last producer.
        private static readonly DeliveryCallback DeliveryTrampoline = OnDelivery;

        private readonly ProducerHandle _handle;

        /// <summary>Default time Dispose waits for outstanding deliveries.</summary>
        public static readonly TimeSpan DefaultCloseTimeout = TimeSpan.FromSeconds(30);

        public Producer(IEnumerable<KeyValuePair<string, string>> config) : this(config, null) { }

        /// <summary>A producer whose OAUTHBEARER tokens come from <paramref name="tokenProvider"/>
        /// (kept alive until the producer is disposed).</summary>
        public Producer(IEnumerable<KeyValuePair<string, string>> config, OAuthBearerTokenProvider tokenProvider)
        {
            if (config == null) throw new ArgumentNullException("config");
            _handle = new ProducerHandle();
            unsafe
            {
                using (var arena = new Arena())
                {
                    UIntPtr n;
                    OdradekConfigEntry* entries = arena.Config(config, out n);
                    IntPtr raw;
                    IntPtr tokenContext = TokenProviders.Context(tokenProvider);
                    IntPtr error = Lib.odradek_producer_new_with_token_callback(entries, n, TokenProviders.CallbackFor(tokenProvider), tokenContext, out raw);
                    if (error != IntPtr.Zero) TokenProviders.Free(ref tokenContext);
                    Interop.Check(error);
                    _handle.Adopt(raw);
                    _handle.TokenContext = tokenContext;
                }
            }
        }

        /// <summary>Sends a record; the partitioner picks the partition (murmur2 of the key, as the
        /// Java client; sticky for null keys). The task completes with where the record was stored, or
        /// fails with a <see cref="KafkaException"/>. <paramref name="cancellationToken"/> is checked
        /// before sending only: a record handed to the producer is delivered or fails, exactly once.</summary>
        public Task<DeliveryResult> ProduceAsync(string topic, Message message, CancellationToken cancellationToken = default(CancellationToken))
        {
            return Send(topic, -1, message, cancellationToken);
        }

        /// <summary>Sends a record to an explicit partition.</summary>
        public Task<DeliveryResult> ProduceAsync(TopicPartition topicPartition, Message message, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (topicPartition.Partition < 0) throw new ArgumentOutOfRangeException("topicPartition", "partition must be ≥ 0");
            return Send(topicPartition.Topic, topicPartition.Partition, message, cancellationToken);
        }

        /// <summary>Sends a record with this key and value (null is absent, not empty).</summary>
        public Task<DeliveryResult> ProduceAsync(string topic, byte[] key, byte[] value)
        {
            return Send(topic, -1, new Message { Key = key, Value = value }, CancellationToken.None);
        }

        /// <summary>
        /// Sends many records in order with one call into the native library (cheaper than many
        /// ProduceAsync calls). Returns one task per record, in the order given.
        /// </summary>
        public IReadOnlyList<Task<DeliveryResult>> ProduceBatch(string topic, IEnumerable<Message> messages)
        {
            if (topic == null) throw new ArgumentNullException("topic");
            if (messages == null) throw new ArgumentNullException("messages");
            var list = new List<Message>(messages);
            var state = new DeliveryState(topic, list.Count);
            if (list.Count == 0) return state.Tasks();
            SendNative(topic, -1, list, state);
            return state.Tasks();
        }

        private Task<DeliveryResult> Send(string topic, int partition, Message message, CancellationToken ct)
        {
            if (topic == null) throw new ArgumentNullException("topic");
            if (message == null) throw new ArgumentNullException("message");
            if (ct.IsCancellationRequested)
            {
                var cancelled = new TaskCompletionSource<DeliveryResult>();
                cancelled.SetCanceled();
                return cancelled.Task;
            }
            var state = new DeliveryState(topic, 1);
            SendNative(topic, partition, new[] { message }, state);
            return state.Completions[0].Task;
        }

        private unsafe void SendNative(string topic, int partition, IList<Message> messages, DeliveryState state)
        {
            GCHandle context = GCHandle.Alloc(state);
            IntPtr error;
            using (var arena = new Arena())
            {
                IntPtr topicZ = arena.Utf8Z(topic);
                var records = (OdradekProduceRecord*)arena.Alloc(sizeof(OdradekProduceRecord) * messages.Count);
                for (int i = 0; i < messages.Count; i++)
                {
                    Message m = messages[i];
                    if (m == null)
                    {
                        context.Free();
                        throw new ArgumentException("message " + i + " is null");
                    }
                    records[i].Topic = topicZ;
                    records[i].Partition = partition;
                    records[i].Key = arena.Bytes(m.Key);
                    records[i].KeyLen = (UIntPtr)(m.Key == null ? 0 : m.Key.Length);
                    records[i].Value = arena.Bytes(m.Value);
                    records[i].ValueLen = (UIntPtr)(m.Value == null ? 0 : m.Value.Length);
                    records[i].Timestamp = m.Timestamp.HasValue ? m.Timestamp.Value : -1;
                    int hn = m.Headers == null ? 0 : m.Headers.Count;
                    records[i].HeadersLen = (UIntPtr)hn;
                    records[i].Headers = IntPtr.Zero;
                    if (hn > 0)
                    {
                        var hs = (OdradekHeader*)arena.Alloc(sizeof(OdradekHeader) * hn);
                        for (int j = 0; j < hn; j++)
                        {
                            Header h = m.Headers[j];
                            byte[] name = System.Text.Encoding.UTF8.GetBytes(h.Key);
                            hs[j].Name = arena.Bytes(name);
                            hs[j].NameLen = (UIntPtr)name.Length;
                            hs[j].Value = arena.Bytes(h.Value);
                            hs[j].ValueLen = (UIntPtr)(h.Value == null ? 0 : h.Value.Length);
                        }
                        records[i].Headers = (IntPtr)hs;
                    }
                }
                try
                {
                    error = messages.Count == 1
                        ? Lib.odradek_producer_send(_handle, records, DeliveryTrampoline, GCHandle.ToIntPtr(context))
                        : Lib.odradek_producer_send_batch(_handle, records, (UIntPtr)messages.Count, DeliveryTrampoline, GCHandle.ToIntPtr(context));
                }
                catch
                {
                    context.Free();
                    throw;
                }
            }
            if (error != IntPtr.Zero)
            {
                // Nothing was sent and the callback will not run: fail every task now.
                context.Free();
                KafkaException e = Interop.ToException(error);
                Lib.odradek_error_free(error);
                foreach (var tcs in state.Completions) tcs.TrySetException(e);
            }
        }

        // Runs on a native library thread. No exception may leave it: everything is caught, and
        // every task still completes.
        private static void OnDelivery(IntPtr context, IntPtr reports, UIntPtr count)
        {
            DeliveryState state = null;
            try
            {
                NativeThread.MarkBackground();
                GCHandle h = GCHandle.FromIntPtr(context);
                state = (DeliveryState)h.Target;
                h.Free();
                unsafe
                {
                    var r = (OdradekDeliveryReport*)reports;
                    int n = (int)count.ToUInt64();
                    for (int i = 0; i < n && i < state.Completions.Length; i++)
                    {
                        if (r[i].Error != IntPtr.Zero)
                        {
                            state.Completions[i].TrySetException(Interop.ToException(r[i].Error));
                        }
                        else
                        {
                            state.Completions[i].TrySetResult(new DeliveryResult(state.Topic, r[i].Partition, r[i].Offset, r[i].Timestamp));
                        }
                    }
                }
            }
            catch (Exception e)
            {
                if (state != null)
                {
                    foreach (var tcs in state.Completions) tcs.TrySetException(e);
                }
            }
            finally
            {
                if (state != null)
                {
                    var missing = new KafkaException(LocalErrorCodes.Fail, "_FAIL", ErrorClass.Fatal, "the native library reported fewer deliveries than records sent");
                    foreach (var tcs in state.Completions) tcs.TrySetException(missing);
                }
            }
        }

        /// <summary>Waits until every record sent so far is delivered or failed.</summary>
        public void Flush(TimeSpan timeout)
        {
            Interop.Check(Lib.odradek_producer_flush(_handle, Interop.TimeoutMs(timeout), IntPtr.Zero));
        }

        /// <summary>Waits until every record sent so far is delivered or failed; throws
        /// OperationCanceledException when <paramref name="cancellationToken"/> fires first.</summary>
        public void Flush(CancellationToken cancellationToken)
        {
            using (var cancel = new NativeCancel(cancellationToken))
            {
                IntPtr err = Lib.odradek_producer_flush(_handle, -1, cancel.Token);
                ThrowIfInterrupted(err, cancellationToken);
                Interop.Check(err);
            }
        }

        internal static void ThrowIfInterrupted(IntPtr err, CancellationToken ct)
        {
            if (err == IntPtr.Zero) return;
            unsafe
            {
                if (((OdradekError*)err)->Code == Lib.ErrIntr)
                {
                    Lib.odradek_error_free(err);
                    throw new OperationCanceledException(ct);
                }
            }
        }

        /// <summary>
        /// Sends the producer's background failures — the ones no call returns: a broker unreachable or
        /// its connection lost (<c>_TRANSPORT</c>), every broker down (<c>_ALL_BROKERS_DOWN</c>), a TLS
        /// or SASL failure, the producer fenced — to <paramref name="handler"/>, replacing the one set before; null
        /// stops them. <see cref="KafkaException.IsRetriable"/> says whether the client recovers by
        /// itself. The handler runs on the library's event thread, one error at a time; an exception
        /// from it loses that error only. Once this returns (or <see cref="Close(TimeSpan)"/>), the previous
        /// handler never runs again (so this waits for a running call: do not call it from the
        /// handler itself).
        /// </summary>
        public void SetErrorHandler(Action<KafkaException> handler)
        {
            _handle.Errors.Set(handler, InstallErrorCallback);
        }

        private IntPtr InstallErrorCallback(ErrorCallback callback, IntPtr context)
        {
            return Lib.odradek_producer_set_error_callback(_handle, callback, context);
        }

        /// <summary>The producer's statistics: records delivered and failed, requests, retries,
        /// latency, the buffer, and a row per broker.</summary>
        public ProducerMetrics Metrics()
        {
            IntPtr json;
            IntPtr error = Lib.odradek_producer_metrics_json(_handle, out json);
            return MetricsJson.Decode<ProducerMetrics>(error, json);
        }

        /// <summary>Flushes, then closes: later sends fail. After it returns no delivery
        /// continuation is pending. Idempotent; the error handler is cleared
        /// first.</summary>
        public void Close(TimeSpan timeout)
        {
            _handle.Errors.Set(null, InstallErrorCallback);
            Interop.Check(Lib.odradek_producer_close(_handle, Interop.TimeoutMs(timeout)));
        }

        /// <summary>Closes (waiting up to <see cref="DefaultCloseTimeout"/> for outstanding
        /// deliveries; records still undelivered then fail) and frees the native producer.</summary>
        public void Dispose()
        {
            if (_handle.IsClosed) return;
            try
            {
                Close(DefaultCloseTimeout);
            }
            catch (KafkaException)
            {
                // Dispose must not throw; undelivered records fail through their own tasks.
            }
            catch (ObjectDisposedException)
            {
            }
            _handle.Dispose();
        }

        private sealed class DeliveryState
        {
            public readonly string Topic;
            public readonly TaskCompletionSource<DeliveryResult>[] Completions;

            public DeliveryState(string topic, int n)
            {
                Topic = topic;
                Completions = new TaskCompletionSource<DeliveryResult>[n];
                for (int i = 0; i < n; i++)
                {
                    // Continuations must not run on the library's thread (they could block it).
                    Completions[i] = new TaskCompletionSource<DeliveryResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            public IReadOnlyList<Task<DeliveryResult>> Tasks()
            {
                var tasks = new Task<DeliveryResult>[Completions.Length];
                for (int i = 0; i < tasks.Length; i++) tasks[i] = Completions[i].Task;
                return tasks;
            }
        }
    }
}

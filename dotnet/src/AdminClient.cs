using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Odradek.Native;

namespace Odradek
{
    /// <summary>A topic to create.</summary>
    public sealed class TopicSpecification
    {
        public string Name { get; set; }

        /// <summary>Number of partitions; -1 takes the broker's <c>num.partitions</c>.</summary>
        public int NumPartitions { get; set; } = -1;

        /// <summary>Replication factor; -1 takes the broker's default.</summary>
        public short ReplicationFactor { get; set; } = -1;

        /// <summary>Topic configs (<c>cleanup.policy</c>, <c>max.message.bytes</c>, ...).</summary>
        public IDictionary<string, string> Configs { get; set; }
    }

    /// <summary>Topics and partitions. Thread-safe.</summary>
    public sealed partial class AdminClient : IDisposable
    {
        // Finds the native library of a NuGet package before the first native call.
        static AdminClient()
        {
            NativeLoader.Load();
        }

        private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
        private readonly AdminHandle _handle;

        public AdminClient(IEnumerable<KeyValuePair<string, string>> config) : this(config, null) { }

        /// <summary>An admin client whose OAUTHBEARER tokens come from <paramref name="tokenProvider"/>
        /// (kept alive until the client is disposed).</summary>
        public AdminClient(IEnumerable<KeyValuePair<string, string>> config, OAuthBearerTokenProvider tokenProvider)
        {
            if (config == null) throw new ArgumentNullException("config");
            _handle = new AdminHandle();
            unsafe
            {
                using (var arena = new Arena())
                {
                    UIntPtr n;
                    OdradekConfigEntry* entries = arena.Config(config, out n);
                    IntPtr raw;
                    IntPtr tokenContext = TokenProviders.Context(tokenProvider);
                    IntPtr error = Lib.odradek_admin_new_with_token_callback(entries, n, TokenProviders.CallbackFor(tokenProvider), tokenContext, out raw);
                    if (error != IntPtr.Zero) TokenProviders.Free(ref tokenContext);
                    Interop.Check(error);
                    _handle.Adopt(raw);
                    _handle.TokenContext = tokenContext;
                }
            }
        }

        /// <summary>Creates topics; throws the first topic's error (e.g. <c>TOPIC_ALREADY_EXISTS</c>).
        /// The topics are usable when it returns.</summary>
        public void CreateTopics(IEnumerable<TopicSpecification> topics, TimeSpan? timeout = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (topics == null) throw new ArgumentNullException("topics");
            var list = new List<TopicSpecification>(topics);
            unsafe
            {
                using (var arena = new Arena())
                using (var cancel = new NativeCancel(cancellationToken))
                {
                    var specs = (OdradekNewTopic*)arena.Alloc(sizeof(OdradekNewTopic) * list.Count);
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (list[i] == null || list[i].Name == null) throw new ArgumentException("topic " + i + " has no name");
                        specs[i].Name = arena.Utf8Z(list[i].Name);
                        specs[i].Partitions = list[i].NumPartitions;
                        specs[i].ReplicationFactor = list[i].ReplicationFactor;
                        UIntPtr n;
                        specs[i].Config = (IntPtr)arena.Config(list[i].Configs, out n);
                        specs[i].ConfigLen = n;
                    }
                    IntPtr err = Lib.odradek_admin_create_topics(_handle, specs, (UIntPtr)list.Count, Interop.TimeoutMs(timeout ?? DefaultTimeout), cancel.Token);
                    Producer.ThrowIfInterrupted(err, cancellationToken);
                    Interop.Check(err);
                }
            }
        }

        /// <summary>Creates one topic.</summary>
        public void CreateTopic(string name, int partitions = -1, short replicationFactor = -1, IDictionary<string, string> configs = null)
        {
            CreateTopics(new[] { new TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = replicationFactor, Configs = configs } });
        }

        /// <summary><see cref="CreateTopics"/> on the thread pool.</summary>
        public Task CreateTopicsAsync(IEnumerable<TopicSpecification> topics, TimeSpan? timeout = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            var list = new List<TopicSpecification>(topics);
            return Task.Run(() => CreateTopics(list, timeout, cancellationToken));
        }

        /// <summary>Deletes topics; throws the first topic's error.</summary>
        public void DeleteTopics(IEnumerable<string> topics, TimeSpan? timeout = null)
        {
            if (topics == null) throw new ArgumentNullException("topics");
            var names = new List<string>(topics);
            unsafe
            {
                using (var arena = new Arena())
                {
                    var ptrs = (IntPtr*)arena.Alloc(IntPtr.Size * names.Count);
                    for (int i = 0; i < names.Count; i++) ptrs[i] = arena.Utf8Z(names[i]);
                    Interop.Check(Lib.odradek_admin_delete_topics(_handle, ptrs, (UIntPtr)names.Count, Interop.TimeoutMs(timeout ?? DefaultTimeout), IntPtr.Zero));
                }
            }
        }

        /// <summary>Grows a topic to <paramref name="totalCount"/> partitions.</summary>
        public void CreatePartitions(string topic, int totalCount, TimeSpan? timeout = null)
        {
            Interop.Check(Lib.odradek_admin_create_partitions(_handle, Interop.Utf8Z(topic), totalCount, Interop.TimeoutMs(timeout ?? DefaultTimeout), IntPtr.Zero));
        }

        /// <summary>Every non-internal topic with its number of partitions, sorted by name.</summary>
        public IReadOnlyDictionary<string, int> ListTopics(TimeSpan? timeout = null)
        {
            IntPtr list;
            UIntPtr count;
            Interop.Check(Lib.odradek_admin_list_topics(_handle, Interop.TimeoutMs(timeout ?? DefaultTimeout), IntPtr.Zero, out list, out count));
            var result = new SortedDictionary<string, int>(StringComparer.Ordinal);
            try
            {
                unsafe
                {
                    var t = (OdradekTopicInfo*)list;
                    for (int i = 0; i < (int)count.ToUInt64(); i++) result[Interop.PtrToString(t[i].Name)] = t[i].Partitions;
                }
            }
            finally
            {
                Lib.odradek_topic_infos_free(list, count);
            }
            return new ReadOnlyDictionaryView(result);
        }

        public void Dispose()
        {
            _handle.Dispose();
        }

        private sealed class ReadOnlyDictionaryView : System.Collections.ObjectModel.ReadOnlyDictionary<string, int>
        {
            public ReadOnlyDictionaryView(IDictionary<string, int> inner) : base(inner) { }
        }
    }
}

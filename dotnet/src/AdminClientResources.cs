// Configs (describe, incremental alter), record deletion and the cluster's description.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Odradek.Native;

namespace Odradek
{
    public sealed partial class AdminClient
    {
        private static sbyte ConfigResourceCode(ConfigResource r)
        {
            if (r == null || r.Name == null) throw new ArgumentException("a config resource needs a type and a name");
            if (r.Type != ResourceType.Topic && r.Type != ResourceType.Broker)
                throw new ArgumentException("configs belong to a Topic or a Broker, not " + r.Type);
            return (sbyte)r.Type;
        }

        /// <summary>The configs of topics and brokers (a broker is named by its node id), one result
        /// per resource in order.</summary>
        public async Task<List<DescribeConfigsResult>> DescribeConfigsAsync(IEnumerable<ConfigResource> resources, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            var results = new List<DescribeConfigsResult>();
            foreach (var r in Copy(resources, "resources"))
            {
                sbyte code = ConfigResourceCode(r);
                var entries = await ListAsync(
                    (int t, IntPtr c, out IntPtr list, out UIntPtr n) =>
                    {
                        using (var arena = new Arena())
                            unsafe { return AdminLib.odradek_admin_describe_configs(_handle, code, arena.Utf8Z(r.Name), null, UIntPtr.Zero, t, c, out list, out n); }
                    },
                    ReadConfig, AdminLib.odradek_config_descriptions_free, timeout, cancellationToken).ConfigureAwait(false);
                var byName = new Dictionary<string, ConfigEntryResult>();
                foreach (var e in entries) byName[e.Name] = e;
                results.Add(new DescribeConfigsResult { ConfigResource = r, Entries = byName });
            }
            return results;
        }

        private static unsafe ConfigEntryResult ReadConfig(IntPtr array, int i)
        {
            var e = ((OdradekConfigDescription*)array)[i];
            return new ConfigEntryResult
            {
                Name = Interop.PtrToString(e.Name),
                Value = Interop.PtrToString(e.Value),
                IsReadOnly = e.ReadOnly != 0,
                IsDefault = e.IsDefault != 0,
                IsSensitive = e.IsSensitive != 0,
            };
        }

        /// <summary>Changes configs of topics and brokers, leaving the others as they are (Kafka's
        /// IncrementalAlterConfigs): an entry with a null value reverts that config to its default.</summary>
        public async Task AlterConfigsAsync(IDictionary<ConfigResource, List<ConfigEntry>> configs, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (configs == null) throw new ArgumentNullException("configs");
            foreach (var kv in new List<KeyValuePair<ConfigResource, List<ConfigEntry>>>(configs))
            {
                sbyte code = ConfigResourceCode(kv.Key);
                var changes = Copy(kv.Value, "configs[" + kv.Key + "]");
                await RunAsync((t, c) =>
                {
                    using (var arena = new Arena())
                    {
                        unsafe
                        {
                            var entries = (OdradekConfigEntry*)arena.Alloc(sizeof(OdradekConfigEntry) * changes.Count);
                            for (int i = 0; i < changes.Count; i++)
                            {
                                if (changes[i] == null || changes[i].Name == null) throw new ArgumentException("config change " + i + " has no name");
                                entries[i].Key = arena.Utf8Z(changes[i].Name);
                                entries[i].Value = changes[i].Value == null ? IntPtr.Zero : arena.Utf8Z(changes[i].Value);
                            }
                            return AdminLib.odradek_admin_alter_configs(_handle, code, arena.Utf8Z(kv.Key.Name), entries, (UIntPtr)changes.Count, t, c);
                        }
                    }
                }, timeout, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>Deletes the records before each offset (<see cref="Offset.End"/>: all of them);
        /// returns each partition's new low watermark.</summary>
        public async Task<List<TopicPartitionOffset>> DeleteRecordsAsync(IEnumerable<TopicPartitionOffset> before, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            var list = Copy(before, "before");
            var result = new List<TopicPartitionOffset>();
            await RunAsync((t, c) =>
            {
                using (var arena = new Arena())
                {
                    unsafe
                    {
                        OdradekTopicPartition* p = arena.Partitions(list);
                        IntPtr err = AdminLib.odradek_admin_delete_records(_handle, p, (UIntPtr)list.Count, t, c);
                        if (err == IntPtr.Zero) result.AddRange(ReadPartitions((IntPtr)p, list.Count));
                        return err;
                    }
                }
            }, timeout, cancellationToken).ConfigureAwait(false);
            return result;
        }

        /// <summary>The cluster id, the controller and the brokers.</summary>
        public async Task<DescribeClusterResult> DescribeClusterAsync(TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            IntPtr raw = IntPtr.Zero;
            await RunAsync((t, c) => AdminLib.odradek_admin_describe_cluster(_handle, t, c, out raw), timeout, cancellationToken).ConfigureAwait(false);
            try
            {
                return ReadCluster(raw);
            }
            finally
            {
                AdminLib.odradek_cluster_description_free(raw);
            }
        }

        private static unsafe DescribeClusterResult ReadCluster(IntPtr raw)
        {
            var d = (OdradekClusterDescription*)raw;
            var b = (OdradekBrokerInfo*)d->Brokers;
            var result = new DescribeClusterResult { ClusterId = Interop.PtrToString(d->ClusterId), Nodes = new List<Node>() };
            for (int i = 0; i < (int)d->BrokerCount.ToUInt64(); i++)
            {
                var node = new Node { Id = b[i].Id, Host = Interop.PtrToString(b[i].Host), Port = b[i].Port, Rack = Interop.PtrToString(b[i].Rack) };
                result.Nodes.Add(node);
                if (node.Id == d->ControllerId) result.Controller = node;
            }
            return result;
        }
    }
}

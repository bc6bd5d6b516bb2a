using System;
using System.Collections.Generic;
using Odradek.Native;

namespace Odradek.Testing
{
    /// <summary>
    /// An N-node cluster inside this process (nodes 1..N on 127.0.0.1, each a controller of the
    /// metadata quorum and a broker), for tests of fail-over handling: <see cref="Kill"/>,
    /// <see cref="Restart"/>, <see cref="Isolate"/> and <see cref="Heal"/> a node by id,
    /// <see cref="Leader"/> to find whom to hit. A node that stops heartbeating is fenced after
    /// 2 s and its leaderships move (<c>broker.session.timeout.ms=2000</c>,
    /// <c>broker.heartbeat.interval.ms=200</c>, <c>replica.lag.time.max.ms=2000</c>; properties
    /// override them); <c>default.replication.factor</c> is min(nodes, 3).
    /// <code>
    /// using (var cluster = new Cluster(3))
    /// {
    ///     cluster.CreateTopic("orders");
    ///     cluster.Kill(cluster.Leader("orders", 0).Value); // clients fail over by themselves
    /// }
    /// </code>
    /// </summary>
    public sealed class Cluster : IDisposable
    {
        // Finds the native library of a NuGet package before the first native call.
        static Cluster()
        {
            NativeLoader.Load();
        }

        private readonly ClusterHandle _handle;

        /// <summary>Starts <paramref name="nodes"/> nodes with these Kafka broker properties;
        /// returns once every node is registered.</summary>
        public Cluster(int nodes = 3, IEnumerable<KeyValuePair<string, string>> properties = null)
        {
            _handle = new ClusterHandle();
            unsafe
            {
                using (var arena = new Arena())
                {
                    UIntPtr n;
                    OdradekConfigEntry* entries = arena.Config(properties, out n);
                    IntPtr raw;
                    Interop.Check(Lib.odradek_test_cluster_start(nodes, entries, n, out raw));
                    _handle.Adopt(raw);
                }
            }
        }

        /// <summary><c>host:port,...</c> of every running node, for <c>bootstrap.servers</c>. A
        /// restarted node keeps its port when it is free.</summary>
        public string BootstrapServers
        {
            get
            {
                IntPtr text;
                Interop.Check(Lib.odradek_test_cluster_bootstrap(_handle, out text));
                try
                {
                    return Interop.PtrToString(text);
                }
                finally
                {
                    Lib.odradek_string_free(text);
                }
            }
        }

        /// <summary>Every node id, running or not.</summary>
        public IReadOnlyList<int> NodeIds
        {
            get
            {
                var ids = new List<int>();
                int count = Lib.odradek_test_cluster_node_count(_handle);
                for (int id = 1; id <= count; id++) ids.Add(id);
                return ids;
            }
        }

        /// <summary>A client config for this cluster: <c>bootstrap.servers</c>.</summary>
        public Dictionary<string, string> ClientConfig()
        {
            return new Dictionary<string, string> { { "bootstrap.servers", BootstrapServers } };
        }

        /// <summary>Stops the node abruptly (no flush; its connections drop); its data stays.</summary>
        public void Kill(int nodeId) { Interop.Check(Lib.odradek_test_cluster_kill(_handle, nodeId)); }

        /// <summary>Starts the node again on its data and port (a running node is killed first);
        /// returns once it is registered again.</summary>
        public void Restart(int nodeId) { Interop.Check(Lib.odradek_test_cluster_restart(_handle, nodeId)); }

        /// <summary>Cuts the node off the network: it runs on, its connections close, and no
        /// client, peer or controller traffic reaches it or leaves it until <see cref="Heal"/>.</summary>
        public void Isolate(int nodeId) { Interop.Check(Lib.odradek_test_cluster_isolate(_handle, nodeId)); }

        /// <summary>Reconnects an isolated node.</summary>
        public void Heal(int nodeId) { Interop.Check(Lib.odradek_test_cluster_heal(_handle, nodeId)); }

        /// <summary>The partition's leader in the newest metadata a connected node has; null when
        /// there is none now.</summary>
        public int? Leader(string topic, int partition)
        {
            int leader;
            Interop.Check(Lib.odradek_test_cluster_leader(_handle, Interop.Utf8Z(topic), partition, out leader));
            return leader < 0 ? (int?)null : leader;
        }

        /// <summary>Creates a topic, replicated on min(nodes, 3) nodes unless
        /// <paramref name="replicationFactor"/> says otherwise.</summary>
        public void CreateTopic(string name, int partitions = 1, short replicationFactor = -1)
        {
            using (var admin = new AdminClient(ClientConfig()))
            {
                admin.CreateTopic(name, partitions, replicationFactor);
            }
        }

        /// <summary>Kills every node and removes the data.</summary>
        public void Dispose()
        {
            _handle.Dispose();
        }
    }
}

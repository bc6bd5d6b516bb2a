// The .NET runner's cluster ops of tests/conformance/ (a scenario with "cluster"): leader binds a
// node name to a partition's leader; kill_node, restart_node, isolate_node and heal_node act on
// a named node through Odradek.Testing.Cluster.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using Odradek.Testing;

namespace Odradek.Tests
{
    internal sealed partial class ScenarioRun
    {
        // The cluster of a "cluster" scenario (null otherwise), and node ids by the names leader
        // steps bound.
        private Cluster _cluster;
        private readonly Dictionary<string, int> _nodes = new Dictionary<string, int>();

        private int Node(string name)
        {
            int id;
            if (!_nodes.TryGetValue(name, out id))
            {
                throw new ScenarioFailure("no node named \"" + name + "\" (bind it with a leader step)");
            }
            return id;
        }

        /// <summary>Runs a cluster op; false when <paramref name="op"/> is not one.</summary>
        private bool RunClusterStep(string op, JsonObject step)
        {
            if (op != "leader" && op != "kill_node" && op != "restart_node" && op != "isolate_node" && op != "heal_node")
            {
                return false;
            }
            if (_cluster == null) throw new ScenarioFailure("a cluster op in a scenario without \"cluster\"");
            switch (op)
            {
                case "kill_node": _cluster.Kill(Node(step.Str("node"))); return true;
                case "restart_node": _cluster.Restart(Node(step.Str("node"))); return true;
                case "isolate_node": _cluster.Isolate(Node(step.Str("node"))); return true;
                case "heal_node": _cluster.Heal(Node(step.Str("node"))); return true;
            }
            var excluded = new List<int>();
            if (step.Has("not"))
            {
                foreach (object n in step.List("not")) excluded.Add(Node((string)n));
            }
            string topic = step.Str("topic");
            int partition = (int)step.Long("partition");
            long ms = step.Long("timeout_ms");
            var clock = Stopwatch.StartNew();
            while (true)
            {
                int? leader = _cluster.Leader(topic, partition);
                if (leader.HasValue && !excluded.Contains(leader.Value))
                {
                    _nodes[step.Str("name")] = leader.Value;
                    return true;
                }
                if (clock.ElapsedMilliseconds > ms)
                {
                    throw new ScenarioFailure("no leader of " + topic + "-" + partition + " other than [" +
                        string.Join(", ", excluded) + "] within " + ms + " ms (last seen: " + leader + ")");
                }
                Thread.Sleep(50);
            }
        }
    }
}

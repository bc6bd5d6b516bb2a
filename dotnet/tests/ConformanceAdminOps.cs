// The .NET runner's admin ops of tests/conformance/ (describe_cluster, describe_group, group_lag,
// alter_group_offsets, delete_group, alter_config, describe_config, delete_records) and the
// consumer's watermarks and offsets_for_times; admin ops use the run's one admin client.
using System;
using System.Collections.Generic;
using System.Linq;

namespace Odradek.Tests
{
    internal sealed partial class ScenarioRun
    {
        private static readonly TimeSpan AdminTimeout = TimeSpan.FromSeconds(30);

        private static readonly Dictionary<string, string[]> AdminStepKeys = new Dictionary<string, string[]>
        {
            { "watermarks", new[] { "client", "topic", "partition", "expect" } },
            { "offsets_for_times", new[] { "client", "partitions", "expect" } },
            { "describe_cluster", new[] { "brokers" } },
            { "describe_group", new[] { "group", "state", "members" } },
            { "group_lag", new[] { "group", "expect" } },
            { "alter_group_offsets", new[] { "group", "offsets", "expect_error" } },
            { "delete_group", new[] { "group", "expect_error" } },
            { "alter_config", new[] { "topic", "set", "expect_error" } },
            { "describe_config", new[] { "topic", "expect" } },
            { "delete_records", new[] { "topic", "partition", "offset", "expect", "expect_error" } },
        };

        static ScenarioRun()
        {
            foreach (var kv in AdminStepKeys) StepKeys[kv.Key] = kv.Value;
        }

        private static T Wait<T>(System.Threading.Tasks.Task<T> task)
        {
            try
            {
                return task.GetAwaiter().GetResult();
            }
            catch (AggregateException e)
            {
                throw e.InnerException;
            }
        }

        private static void Wait(System.Threading.Tasks.Task task)
        {
            task.GetAwaiter().GetResult();
        }

        private static string Show(IEnumerable<long> values) { return "[" + string.Join(", ", values) + "]"; }

        /// <summary>Runs an admin op; false when <paramref name="op"/> is not one.</summary>
        private bool RunAdminStep(string op, JsonObject step, JsonObject expectError)
        {
            switch (op)
            {
                case "watermarks":
                    {
                        var w = ConsumerNamed(step.Str("client")).QueryWatermarkOffsets(new TopicPartition(step.Str("topic"), (int)step.Long("partition")), AdminTimeout);
                        var want = step.List("expect").Cast<long>().ToList();
                        if (want.Count != 2 || w.Low.Value != want[0] || w.High.Value != want[1])
                            throw new ScenarioFailure("watermarks: expected " + Show(want) + ", got " + w);
                        return true;
                    }
                case "offsets_for_times":
                    {
                        var queries = step.List("partitions").Cast<JsonObject>()
                            .Select(q => new TopicPartitionTimestamp(q.Str("topic"), (int)q.Long("partition"), q.Long("timestamp"))).ToList();
                        var got = ConsumerNamed(step.Str("client")).OffsetsForTimes(queries, AdminTimeout).Select(o => o.Offset.Value).ToList();
                        var want = step.List("expect").Cast<long>().ToList();
                        if (!got.SequenceEqual(want)) throw new ScenarioFailure("offsets_for_times: expected " + Show(want) + ", got " + Show(got));
                        return true;
                    }
                case "describe_cluster":
                    {
                        var cluster = Wait(_admin.DescribeClusterAsync(AdminTimeout));
                        if (cluster.Nodes.Count != step.Long("brokers") || cluster.Controller == null)
                            throw new ScenarioFailure("describe_cluster: expected " + step.Long("brokers") + " brokers with the controller among them, got "
                                + cluster.Nodes.Count + (cluster.Controller == null ? " without the controller" : ""));
                        return true;
                    }
                case "describe_group":
                    {
                        var g = Wait(_admin.DescribeConsumerGroupsAsync(new[] { step.Str("group") }, AdminTimeout)).Single();
                        if (g.State != step.Str("state") || g.Members.Count != step.Long("members"))
                            throw new ScenarioFailure("describe_group " + g.GroupId + ": expected " + step.Str("state") + " with " + step.Long("members")
                                + " members, got " + g.State + " with " + g.Members.Count);
                        return true;
                    }
                case "group_lag":
                    GroupLag(step);
                    return true;
                case "alter_group_offsets":
                    {
                        var offsets = step.List("offsets").Cast<JsonObject>()
                            .Select(o => new TopicPartitionOffset(o.Str("topic"), (int)o.Long("partition"), o.Long("offset"))).ToList();
                        Expecting(expectError, () => Wait(_admin.AlterConsumerGroupOffsetsAsync(step.Str("group"), offsets, AdminTimeout)));
                        return true;
                    }
                case "delete_group":
                    Expecting(expectError, () => Wait(_admin.DeleteGroupsAsync(new[] { step.Str("group") }, AdminTimeout)));
                    return true;
                case "alter_config":
                    {
                        var set = step.Obj("set");
                        var changes = set.OrderedKeys.Select(k => new ConfigEntry { Name = k, Value = set.Str(k) }).ToList();
                        var resource = new ConfigResource { Type = ResourceType.Topic, Name = step.Str("topic") };
                        Expecting(expectError, () => Wait(_admin.AlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>> { { resource, changes } }, AdminTimeout)));
                        return true;
                    }
                case "describe_config":
                    {
                        var resource = new ConfigResource { Type = ResourceType.Topic, Name = step.Str("topic") };
                        var entries = Wait(_admin.DescribeConfigsAsync(new[] { resource }, AdminTimeout)).Single().Entries;
                        var want = step.Obj("expect");
                        foreach (string k in want.OrderedKeys)
                        {
                            ConfigEntryResult e;
                            string seen = entries.TryGetValue(k, out e) ? e.Value : null;
                            if (seen != want.Str(k)) throw new ScenarioFailure("describe_config: " + k + " expected " + want.Str(k) + ", got " + (seen ?? "nothing"));
                        }
                        return true;
                    }
                case "delete_records":
                    Expecting(expectError, () =>
                    {
                        var before = new TopicPartitionOffset(step.Str("topic"), (int)step.Long("partition"), step.Long("offset"));
                        var low = Wait(_admin.DeleteRecordsAsync(new[] { before }, AdminTimeout)).Single();
                        if (step.Has("expect") && low.Offset.Value != step.Long("expect"))
                            throw new ScenarioFailure("delete_records: expected low watermark " + step.Long("expect") + ", got " + low.Offset);
                    });
                    return true;
                default:
                    return false;
            }
        }

        private void GroupLag(JsonObject step)
        {
            var lags = Wait(_admin.ListConsumerGroupLagAsync(step.Str("group"), null, AdminTimeout))
                .OrderBy(l => l.Topic, StringComparer.Ordinal).ThenBy(l => l.Partition).ToList();
            var want = step.List("expect").Cast<JsonObject>().ToList();
            if (lags.Count != want.Count) throw new ScenarioFailure("group_lag: expected " + want.Count + " partitions, got " + lags.Count);
            for (int i = 0; i < lags.Count; i++)
            {
                var l = lags[i];
                foreach (string k in want[i].OrderedKeys)
                {
                    string seen;
                    switch (k)
                    {
                        case "topic": seen = l.Topic; break;
                        case "partition": seen = l.Partition.ToString(); break;
                        // The scenarios write "nothing committed" as -1.
                        case "committed": seen = (l.Committed == Offset.Unset ? -1 : l.Committed.Value).ToString(); break;
                        case "log_end": seen = l.LogEndOffset.ToString(); break;
                        case "lag": seen = l.Lag.ToString(); break;
                        default: throw new ScenarioFailure("group_lag: unknown key \"" + k + "\"");
                    }
                    string expected = k == "topic" ? want[i].Str(k) : want[i].Long(k).ToString();
                    if (seen != expected) throw new ScenarioFailure("group_lag [" + i + "]." + k + ": expected " + expected + ", got " + seen);
                }
            }
        }
    }
}

// The share-consumer ops of the conformance runner (tests/conformance/README.md):
// share_consumer, share_subscribe, share_poll, acknowledge, share_commit.
using System;
using System.Collections.Generic;
using System.Linq;

namespace Odradek.Tests
{
    internal sealed partial class ScenarioRun
    {
        private readonly Dictionary<string, ShareConsumer> _shares = new Dictionary<string, ShareConsumer>();
        // Every record share_poll handed out, per share consumer, for acknowledge to find by offset.
        private readonly Dictionary<string, List<ShareConsumeResult>> _received = new Dictionary<string, List<ShareConsumeResult>>();

        private static readonly Dictionary<string, AcknowledgeType> AcknowledgeTypes = new Dictionary<string, AcknowledgeType>
        {
            { "accept", AcknowledgeType.Accept }, { "release", AcknowledgeType.Release }, { "reject", AcknowledgeType.Reject },
        };

        private ShareConsumer ShareNamed(string name)
        {
            ShareConsumer c;
            if (!_shares.TryGetValue(name, out c)) throw new ScenarioFailure("no share consumer named \"" + name + "\"");
            return c;
        }

        private void CloseShare(string name)
        {
            ShareConsumer c = _shares[name];
            _shares.Remove(name);
            _received.Remove(name);
            c.Close();
            c.Dispose();
        }

        private void ShareStep(string op, JsonObject step, JsonObject expectError)
        {
            string name = step.Str("client");
            switch (op)
            {
                case "share_consumer":
                    Expecting(expectError, () =>
                    {
                        _shares[name] = new ShareConsumer(Config(step.Obj("config")));
                        _received[name] = new List<ShareConsumeResult>();
                    });
                    break;
                case "share_subscribe":
                    ShareSubscribe(ShareNamed(name), step);
                    break;
                case "share_poll":
                    Expecting(expectError, () => SharePoll(name, step));
                    break;
                case "acknowledge":
                    Expecting(expectError, () => Acknowledge(name, step));
                    break;
                default:
                    ShareNamed(name).CommitSync(TimeSpan.FromSeconds(30));
                    break;
            }
        }

        // Polls until assigned, then once more: the share-partition starts at the log's end when
        // first fetched.
        private static void ShareSubscribe(ShareConsumer c, JsonObject step)
        {
            c.Subscribe(step.List("topics").Cast<string>());
            DateTime deadline = DateTime.UtcNow.AddMilliseconds(step.Long("timeout_ms"));
            while (true)
            {
                bool assigned = c.Assignment.Count > 0;
                var got = c.Poll(TimeSpan.FromMilliseconds(100));
                if (got.Count > 0) throw new ScenarioFailure("a record arrived before any was produced: " + got[0]);
                if (assigned) return;
                if (DateTime.UtcNow > deadline) throw new ScenarioFailure("no share assignment in time");
            }
        }

        private void SharePoll(string name, JsonObject step)
        {
            ShareConsumer c = ShareNamed(name);
            long count = step.Long("count");
            DateTime deadline = DateTime.UtcNow.AddMilliseconds(step.Long("timeout_ms"));
            var got = new List<ShareConsumeResult>();
            while (true)
            {
                TimeSpan left = Remaining(deadline);
                got.AddRange(c.Poll(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200)));
                bool done = count == 0 ? got.Count > 0 : got.Count >= count;
                if (done || DateTime.UtcNow >= deadline) break;
            }
            _received[name].AddRange(got);
            if (got.Count != count) throw new ScenarioFailure("received " + got.Count + " records, expected " + count);
            got = got.OrderBy(r => r.Topic, StringComparer.Ordinal).ThenBy(r => r.Partition).ThenBy(r => r.Offset).ToList();
            if (!step.Has("expect")) return;
            List<JsonObject> expect = step.List("expect").Cast<JsonObject>().ToList();
            if (expect.Count != got.Count) throw new ScenarioFailure("expect has " + expect.Count + " entries, count is " + count);
            for (int i = 0; i < expect.Count; i++)
            {
                var fields = new JsonObject();
                foreach (string k in expect[i].OrderedKeys)
                {
                    if (k != "delivery_count") fields.Add(k, expect[i][k]);
                }
                CheckRecord(i, fields, got[i].Record);
                if (expect[i].Has("delivery_count") && expect[i].Long("delivery_count") != got[i].DeliveryCount)
                {
                    throw new ScenarioFailure("record " + i + " (" + got[i] + "): expected delivery_count " + expect[i].Long("delivery_count"));
                }
            }
        }

        private void Acknowledge(string name, JsonObject step)
        {
            ShareConsumer c = ShareNamed(name);
            AcknowledgeType type;
            if (!AcknowledgeTypes.TryGetValue(step.Str("type"), out type)) throw new ScenarioFailure("unknown acknowledge type \"" + step.Str("type") + "\"");
            string topic = step.Str("topic");
            long partition = step.Long("partition");
            foreach (long offset in step.List("offsets").Cast<long>())
            {
                ShareConsumeResult found = _received[name].LastOrDefault(r => r.Topic == topic && r.Partition == partition && r.Offset == offset);
                if (found == null) throw new ScenarioFailure("no record " + topic + "-" + partition + "@" + offset + " was received");
                c.Acknowledge(found, type);
            }
        }
    }
}

// The .NET runner of tests/conformance/: every scenarios/*.json file is one NUnit test that runs
// its steps in order against a fresh embedded broker. An op or a step key this runner does not
// know fails the scenario (never a skip), so a new step kind shows up here at once.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using NUnit.Framework;
using Odradek.Testing;

namespace Odradek.Tests
{
    [TestFixture]
    public class ConformanceTests
    {
        public static IEnumerable<TestCaseData> Scenarios()
        {
            string dir = Path.Combine(TestPaths.RepoRoot(), "tests", "conformance", "scenarios");
            string[] files = Directory.GetFiles(dir, "*.json");
            Array.Sort(files, StringComparer.Ordinal);
            if (files.Length == 0)
            {
                throw new InvalidOperationException("no conformance scenarios in " + dir);
            }
            foreach (string f in files)
            {
                yield return new TestCaseData(f).SetName("Conformance_" + Path.GetFileNameWithoutExtension(f));
            }
        }

        [Test, TestCaseSource("Scenarios")]
        public void Scenario(string path)
        {
            var doc = (JsonObject)Json.Parse(File.ReadAllText(path, Encoding.UTF8));
            new ScenarioRun(doc).Run();
        }

        [Test]
        public void UnknownOpFailsTheScenario()
        {
            var doc = (JsonObject)Json.Parse("{\"name\": \"bad\", \"steps\": [{\"op\": \"teleport\", \"client\": \"x\"}]}");
            var ex = Assert.Throws<ScenarioFailure>(() => new ScenarioRun(doc).Run());
            StringAssert.Contains("unknown op \"teleport\"", ex.Message);
        }

        [Test]
        public void UnknownStepKeyFailsTheScenario()
        {
            var doc = (JsonObject)Json.Parse("{\"name\": \"bad\", \"steps\": [{\"op\": \"flush\", \"client\": \"x\", \"colour\": 1}]}");
            var ex = Assert.Throws<ScenarioFailure>(() => new ScenarioRun(doc).Run());
            StringAssert.Contains("\"colour\"", ex.Message);
        }
    }

    public sealed class ScenarioFailure : Exception
    {
        public ScenarioFailure(string message, Exception inner = null) : base(message, inner) { }
    }

    /// <summary>One execution of one scenario document.</summary>
    internal sealed partial class ScenarioRun
    {
        private static readonly Dictionary<string, string[]> StepKeys = new Dictionary<string, string[]>
        {
            { "create_topic", new[] { "topic", "partitions", "config", "replication_factor", "expect_error" } },
            { "producer", new[] { "client", "config", "expect_error" } },
            { "produce", new[] { "client", "topic", "records", "generate", "expect", "expect_error" } },
            { "flush", new[] { "client" } },
            { "consumer", new[] { "client", "config", "on_revoke", "expect_error" } },
            { "assign", new[] { "client", "partitions" } },
            { "subscribe", new[] { "client", "topics" } },
            { "consume", new[] { "client", "count", "timeout_ms", "expect", "generate" } },
            { "consume_none", new[] { "client", "timeout_ms" } },
            { "iterate", new[] { "client", "count", "timeout_ms", "expect" } },
            { "seek", new[] { "client", "topic", "partition", "offset" } },
            { "position", new[] { "client", "topic", "partition", "expect" } },
            { "pause", new[] { "client", "partitions" } },
            { "resume", new[] { "client", "partitions" } },
            { "commit", new[] { "client", "offsets" } },
            { "committed", new[] { "client", "partitions", "expect" } },
            { "wait_assignment", new[] { "clients", "topic", "partitions", "timeout_ms" } },
            { "close", new[] { "client" } },
            { "init_transactions", new[] { "client", "expect_error" } },
            { "begin_transaction", new[] { "client", "expect_error" } },
            { "commit_transaction", new[] { "client", "expect_error" } },
            { "abort_transaction", new[] { "client", "expect_error" } },
            { "send_offsets_to_transaction", new[] { "client", "consumer", "offsets", "expect_error" } },
            { "share_consumer", new[] { "client", "config", "expect_error" } },
            { "share_subscribe", new[] { "client", "topics", "timeout_ms" } },
            { "share_poll", new[] { "client", "count", "timeout_ms", "expect", "expect_error" } },
            { "acknowledge", new[] { "client", "topic", "partition", "offsets", "type", "expect_error" } },
            { "share_commit", new[] { "client" } },
            { "stop_broker", new string[0] },
            { "expect_error_event", new[] { "client", "names", "retriable", "timeout_ms" } },
            { "expect_log", new[] { "level", "timeout_ms" } },
            { "leader", new[] { "topic", "partition", "name", "not", "timeout_ms" } },
            { "kill_node", new[] { "node" } },
            { "restart_node", new[] { "node" } },
            { "isolate_node", new[] { "node" } },
            { "heal_node", new[] { "node" } },
        };

        private readonly JsonObject _doc;
        private readonly string _name;
        private readonly Dictionary<string, Producer> _producers = new Dictionary<string, Producer>();
        private readonly Dictionary<string, Consumer> _consumers = new Dictionary<string, Consumer>();
        private readonly Dictionary<string, Queue<ConsumeResult>> _pending = new Dictionary<string, Queue<ConsumeResult>>();
        private Broker _broker;
        private AdminClient _admin;
        // Failures inside PartitionsRevoked handlers ("on_revoke": "commit"), reported after the step.
        private readonly List<string> _callbackErrors = new List<string>();

        public ScenarioRun(JsonObject doc)
        {
            _doc = doc;
            _name = doc.Has("name") ? doc.Str("name") : "(unnamed)";
        }

        public void Run()
        {
            List<object> steps = _doc.List("steps");
            // Validate every step before starting a broker: a scenario this runner cannot run fails
            // at once with the step that it does not understand.
            for (int i = 0; i < steps.Count; i++)
            {
                var step = steps[i] as JsonObject;
                if (step == null) throw new ScenarioFailure(Where(i, "?") + "a step must be an object");
                string op = step.Has("op") ? step.Get("op") as string : null;
                string[] keys;
                if (op == null || !StepKeys.TryGetValue(op, out keys))
                {
                    throw new ScenarioFailure(Where(i, op) + "unknown op \"" + op + "\"");
                }
                foreach (string k in step.OrderedKeys)
                {
                    if (k != "op" && k != "comment" && Array.IndexOf(keys, k) < 0)
                    {
                        throw new ScenarioFailure(Where(i, op) + "key \"" + k + "\" is not a field of this op");
                    }
                }
            }
            var brokerConfig = new Dictionary<string, string>();
            if (_doc.Has("broker_config"))
            {
                foreach (var kv in _doc.Obj("broker_config")) brokerConfig[kv.Key] = (string)kv.Value;
            }
            try
            {
                string security = _doc.Has("security") ? _doc.Str("security") : null;
                if (_doc.Has("cluster")) _cluster = new Cluster((int)_doc.Obj("cluster").Long("nodes"), brokerConfig);
                else if (security == null) _broker = new Broker(brokerConfig);
                else if (security == "sasl_ssl") _broker = Broker.StartSaslSsl(SaslUser, SaslPassword, brokerConfig);
                else throw new ScenarioFailure("scenario " + _name + ": unknown security \"" + security + "\"");
                _admin = new AdminClient(Config(null));
                for (int i = 0; i < steps.Count; i++)
                {
                    var step = (JsonObject)steps[i];
                    string op = step.Str("op");
                    try
                    {
                        RunStep(op, step);
                        lock (_callbackErrors)
                        {
                            if (_callbackErrors.Count > 0)
                            {
                                string failed = string.Join("; ", _callbackErrors.ToArray());
                                _callbackErrors.Clear();
                                throw new ScenarioFailure(failed);
                            }
                        }
                    }
                    catch (ScenarioFailure e)
                    {
                        throw new ScenarioFailure(Where(i, op) + e.Message, e.InnerException);
                    }
                    catch (Exception e)
                    {
                        throw new ScenarioFailure(Where(i, op) + e.GetType().Name + ": " + e.Message, e);
                    }
                }
            }
            finally
            {
                EndEvents();
                foreach (var c in _consumers.Values) c.Dispose();
                foreach (var c in _shares.Values) c.Dispose();
                foreach (var p in _producers.Values) p.Dispose();
                if (_admin != null) _admin.Dispose();
                if (_broker != null) _broker.Dispose();
                if (_cluster != null) _cluster.Dispose();
            }
        }

        private string Where(int index, string op)
        {
            return "scenario " + _name + ", step " + index + " (" + op + "): ";
        }

        // The SCRAM user of the embedded broker in a "security": "sasl_ssl" scenario.
        private const string SaslUser = "conformance";
        private const string SaslPassword = "conformance-secret";

        // The broker's client config (bootstrap.servers, and the security keys of a sasl_ssl
        // scenario), with the step's own keys replacing them.
        private Dictionary<string, string> Config(JsonObject config)
        {
            var result = _cluster != null ? _cluster.ClientConfig() : _broker.ClientConfig();
            if (config != null)
            {
                foreach (var kv in config)
                {
                    var s = kv.Value as string;
                    if (s == null) throw new ScenarioFailure("config value of \"" + kv.Key + "\" must be a string");
                    result[kv.Key] = s;
                }
            }
            return result;
        }

        private void RunStep(string op, JsonObject step)
        {
            JsonObject expectError = step.Has("expect_error") ? step.Obj("expect_error") : null;
            switch (op)
            {
                case "create_topic":
                    Expecting(expectError, () =>
                    {
                        var cfg = new Dictionary<string, string>();
                        if (step.Has("config"))
                        {
                            foreach (var kv in step.Obj("config")) cfg[kv.Key] = (string)kv.Value;
                        }
                        short factor = step.Has("replication_factor") ? (short)step.Long("replication_factor") : (short)1;
                        _admin.CreateTopic(step.Str("topic"), (int)step.Long("partitions"), factor, cfg);
                    });
                    break;
                case "producer":
                    Expecting(expectError, () =>
                    {
                        var producer = new Producer(Config(step.Obj("config")));
                        _producers[step.Str("client")] = producer;
                        WatchErrors(step.Str("client"), producer.SetErrorHandler);
                    });
                    break;
                case "consumer":
                    Expecting(expectError, () =>
                    {
                        string name = step.Str("client");
                        var consumer = new Consumer(Config(step.Obj("config")));
                        _consumers[name] = consumer;
                        _pending[name] = new Queue<ConsumeResult>();
                        WatchErrors(name, consumer.SetErrorHandler);
                        if (step.Has("on_revoke"))
                        {
                            if (step.Str("on_revoke") != "commit")
                            {
                                throw new ScenarioFailure("unknown on_revoke \"" + step.Str("on_revoke") + "\"");
                            }
                            // From the handler, as users do: the group waits, so the commit lands first.
                            consumer.PartitionsRevoked += (sender, e) =>
                            {
                                try
                                {
                                    consumer.Commit();
                                }
                                catch (Exception err)
                                {
                                    lock (_callbackErrors) _callbackErrors.Add("commit in PartitionsRevoked: " + err.Message);
                                }
                            };
                        }
                    });
                    break;
                case "produce":
                    Produce(step, expectError);
                    break;
                case "flush":
                    ProducerNamed(step.Str("client")).Flush(TimeSpan.FromSeconds(30));
                    break;
                case "assign":
                    {
                        var list = new List<TopicPartitionOffset>();
                        foreach (JsonObject p in step.List("partitions").Cast<JsonObject>())
                        {
                            list.Add(new TopicPartitionOffset(p.Str("topic"), (int)p.Long("partition"), ParseOffset(p.Get("offset"))));
                        }
                        ConsumerNamed(step.Str("client")).Assign(list);
                        break;
                    }
                case "subscribe":
                    ConsumerNamed(step.Str("client")).Subscribe(step.List("topics").Cast<string>());
                    break;
                case "consume":
                    Consume(step);
                    break;
                case "iterate":
                    // Consume takes one record per native call: the read loop of .NET users.
                    if (_pending[step.Str("client")].Count > 0) throw new ScenarioFailure("records were already waiting");
                    Consume(step);
                    break;
                case "consume_none":
                    {
                        string name = step.Str("client");
                        if (_pending[name].Count > 0)
                        {
                            throw new ScenarioFailure("expected no record, but " + Describe(_pending[name].Peek()) + " was already received");
                        }
                        Consumer c = ConsumerNamed(name);
                        DateTime deadline = DateTime.UtcNow.AddMilliseconds(step.Long("timeout_ms"));
                        while (DateTime.UtcNow < deadline)
                        {
                            ConsumeResult r = c.Consume(Remaining(deadline));
                            if (r != null) throw new ScenarioFailure("expected no record, received " + Describe(r));
                        }
                        break;
                    }
                case "seek":
                    ConsumerNamed(step.Str("client")).Seek(new TopicPartitionOffset(step.Str("topic"), (int)step.Long("partition"), step.Long("offset")));
                    // Records fetched before the seek are no longer what the consumer hands out next.
                    DropPending(step.Str("client"), step.Str("topic"), (int)step.Long("partition"));
                    break;
                case "position":
                    {
                        string name = step.Str("client");
                        var tp = new TopicPartition(step.Str("topic"), (int)step.Long("partition"));
                        long seen = ConsumerNamed(name).Position(tp).Value;
                        // Records held back by wait_assignment were handed out by the core already.
                        var held = _pending[name].Where(r => r.TopicPartition == tp).ToList();
                        if (held.Count > 0) seen = held[0].Offset;
                        if (seen != step.Long("expect"))
                        {
                            throw new ScenarioFailure("position of " + tp + ": expected " + step.Long("expect") + ", got " + seen);
                        }
                        break;
                    }
                case "pause":
                case "resume":
                    {
                        var parts = step.List("partitions").Cast<JsonObject>()
                            .Select(entry => new TopicPartition(entry.Str("topic"), (int)entry.Long("partition"))).ToList();
                        Consumer c = ConsumerNamed(step.Str("client"));
                        if (op == "pause") c.Pause(parts);
                        else c.Resume(parts);
                        break;
                    }
                case "commit":
                    {
                        Consumer c = ConsumerNamed(step.Str("client"));
                        if (step.Has("offsets"))
                        {
                            c.Commit(step.List("offsets").Cast<JsonObject>()
                                .Select(o => new TopicPartitionOffset(o.Str("topic"), (int)o.Long("partition"), o.Long("offset"))).ToList());
                        }
                        else
                        {
                            c.Commit();
                        }
                        break;
                    }
                case "committed":
                    {
                        var tps = step.List("partitions").Cast<JsonObject>()
                            .Select(o => new TopicPartition(o.Str("topic"), (int)o.Long("partition"))).ToList();
                        List<TopicPartitionOffset> got = ConsumerNamed(step.Str("client")).Committed(tps, TimeSpan.FromSeconds(30));
                        var expect = step.List("expect").Cast<long>().ToList();
                        var seen = tps.Select(tp =>
                        {
                            var match = got.Where(g => g.TopicPartition == tp).ToList();
                            if (match.Count != 1) throw new ScenarioFailure("committed() returned no entry for " + tp);
                            long v = match[0].Offset.Value;
                            return v < 0 ? -1L : v;
                        }).ToList();
                        if (!expect.SequenceEqual(seen))
                        {
                            throw new ScenarioFailure("committed: expected [" + string.Join(", ", expect) + "], got [" + string.Join(", ", seen) + "]");
                        }
                        break;
                    }
                case "wait_assignment":
                    WaitAssignment(step);
                    break;
                case "close":
                    {
                        string name = step.Str("client");
                        Producer p;
                        Consumer c;
                        if (_producers.TryGetValue(name, out p))
                        {
                            p.Dispose();
                            _producers.Remove(name);
                        }
                        else if (_consumers.TryGetValue(name, out c))
                        {
                            c.Close();
                            c.Dispose();
                            _consumers.Remove(name);
                            _pending.Remove(name);
                        }
                        else if (_shares.ContainsKey(name))
                        {
                            CloseShare(name);
                        }
                        else
                        {
                            throw new ScenarioFailure("no client named \"" + name + "\"");
                        }
                        break;
                    }
                case "init_transactions":
                    Expecting(expectError, () => ProducerNamed(step.Str("client")).InitTransactions(TimeSpan.FromSeconds(30)));
                    break;
                case "begin_transaction":
                    Expecting(expectError, () => ProducerNamed(step.Str("client")).BeginTransaction());
                    break;
                case "commit_transaction":
                    Expecting(expectError, () => ProducerNamed(step.Str("client")).CommitTransaction(TimeSpan.FromSeconds(30)));
                    break;
                case "abort_transaction":
                    Expecting(expectError, () => ProducerNamed(step.Str("client")).AbortTransaction(TimeSpan.FromSeconds(30)));
                    break;
                case "send_offsets_to_transaction":
                    Expecting(expectError, () =>
                    {
                        var offsets = step.List("offsets").Cast<JsonObject>()
                            .Select(o => new TopicPartitionOffset(o.Str("topic"), (int)o.Long("partition"), o.Long("offset"))).ToList();
                        using (ConsumerGroupMetadata group = ConsumerNamed(step.Str("consumer")).ConsumerGroupMetadata)
                        {
                            ProducerNamed(step.Str("client")).SendOffsetsToTransaction(offsets, group, TimeSpan.FromSeconds(30));
                        }
                    });
                    break;
                case "share_consumer":
                case "share_subscribe":
                case "share_poll":
                case "acknowledge":
                case "share_commit":
                    ShareStep(op, step, expectError);
                    break;
                default:
                    if (RunAdminStep(op, step, expectError)) break;
                    if (RunEventStep(op, step)) break;
                    if (RunClusterStep(op, step)) break;
                    throw new ScenarioFailure("unknown op \"" + op + "\"");
            }
        }

        private static TimeSpan Remaining(DateTime deadline)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            return left < TimeSpan.Zero ? TimeSpan.Zero : left;
        }

        private Producer ProducerNamed(string name)
        {
            Producer p;
            if (!_producers.TryGetValue(name, out p)) throw new ScenarioFailure("no producer named \"" + name + "\"");
            return p;
        }

        private Consumer ConsumerNamed(string name)
        {
            Consumer c;
            if (!_consumers.TryGetValue(name, out c)) throw new ScenarioFailure("no consumer named \"" + name + "\"");
            return c;
        }

        internal static void Expecting(JsonObject expectError, Action action)
        {
            if (expectError == null)
            {
                action();
                return;
            }
            try
            {
                action();
            }
            catch (KafkaException e)
            {
                CheckError(expectError, e);
                return;
            }
            throw new ScenarioFailure("expected error " + expectError.Str("name") + ", but the step succeeded");
        }

        private static void CheckError(JsonObject expectError, KafkaException e)
        {
            string name = expectError.Str("name");
            if (e.Name != name)
            {
                throw new ScenarioFailure("expected error " + name + ", got " + e.Name + " (code " + e.Code + "): " + e.Message);
            }
            if (expectError.Has("retriable") && (bool)expectError.Get("retriable") != e.IsRetriable)
            {
                throw new ScenarioFailure("error " + name + ": expected retriable=" + expectError.Get("retriable") + ", got " + e.IsRetriable);
            }
            if (expectError.Has("fatal") && (bool)expectError.Get("fatal") != e.IsFatal)
            {
                throw new ScenarioFailure("error " + name + ": expected fatal=" + expectError.Get("fatal") + ", got class " + e.Class);
            }
            if (expectError.Has("topic") && expectError.Str("topic") != e.Topic)
            {
                throw new ScenarioFailure("error " + name + ": expected topic " + expectError.Str("topic") + ", got " + (e.Topic ?? "none"));
            }
            if (expectError.Has("partition") && expectError.Long("partition") != e.Partition)
            {
                throw new ScenarioFailure("error " + name + ": expected partition " + expectError.Long("partition") + ", got " + e.Partition);
            }
        }

        // ---- bytes and records -------------------------------------------------------------------

        internal static byte[] Bytes(object spec)
        {
            try
            {
                return JsonBytes.Of(spec);
            }
            catch (FormatException e)
            {
                throw new ScenarioFailure(e.Message);
            }
        }

        private static Headers HeadersOf(object spec)
        {
            var headers = new Headers();
            foreach (object h in (List<object>)spec)
            {
                var pair = (List<object>)h;
                if (pair.Count != 2) throw new ScenarioFailure("a header is [name, value]");
                headers.Add((string)pair[0], Bytes(pair[1]));
            }
            return headers;
        }

        private static List<KeyValuePair<byte[], byte[]>> Generated(JsonObject gen)
        {
            var list = new List<KeyValuePair<byte[], byte[]>>();
            long count = gen.Long("count");
            object key = gen.Has("key") ? gen.Get("key") : null;
            object value = gen.Has("value") ? gen.Get("value") : null;
            for (long i = 0; i < count; i++)
            {
                string n = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                list.Add(new KeyValuePair<byte[], byte[]>(
                    key == null ? null : Encoding.UTF8.GetBytes(((string)key).Replace("{i}", n)),
                    value == null ? null : Encoding.UTF8.GetBytes(((string)value).Replace("{i}", n))));
            }
            return list;
        }

        private static Offset ParseOffset(object spec)
        {
            var s = spec as string;
            if (s == "earliest") return Offset.Beginning;
            if (s == "latest") return Offset.End;
            if (s == "committed") return Offset.Stored;
            if (spec is long) return (long)spec;
            throw new ScenarioFailure("bad offset " + spec);
        }

        // ---- produce -----------------------------------------------------------------------------

        private void Produce(JsonObject step, JsonObject expectError)
        {
            Producer p = ProducerNamed(step.Str("client"));
            string topic = step.Str("topic");
            var tasks = new List<Task<DeliveryResult>>();
            if (step.Has("records"))
            {
                foreach (JsonObject r in step.List("records").Cast<JsonObject>())
                {
                    var m = new Message
                    {
                        Key = r.Has("key") ? Bytes(r.Get("key")) : null,
                        Value = r.Has("value") ? Bytes(r.Get("value")) : null,
                        Headers = r.Has("headers") ? HeadersOf(r.Get("headers")) : null,
                    };
                    if (r.Has("timestamp")) m.Timestamp = r.Long("timestamp");
                    tasks.Add(r.Has("partition")
                        ? p.ProduceAsync(new TopicPartition(topic, (int)r.Long("partition")), m)
                        : p.ProduceAsync(topic, m));
                }
            }
            if (step.Has("generate"))
            {
                foreach (var kv in Generated(step.Obj("generate")))
                {
                    tasks.Add(p.ProduceAsync(topic, new Message { Key = kv.Key, Value = kv.Value }));
                }
            }
            // Every delivery resolves exactly once; 60 s is far above delivery.timeout.ms defaults
            // used by the scenarios and only guards against a hang.
            if (!Task.WhenAll(tasks).ContinueWith(t => { }).Wait(TimeSpan.FromSeconds(150)))
            {
                throw new ScenarioFailure("deliveries did not all complete");
            }
            for (int i = 0; i < tasks.Count; i++)
            {
                Task<DeliveryResult> t = tasks[i];
                if (expectError != null)
                {
                    if (!t.IsFaulted) throw new ScenarioFailure("record " + i + ": expected error " + expectError.Str("name") + ", delivered at " + t.Result);
                    var ke = t.Exception.InnerException as KafkaException;
                    if (ke == null) throw new ScenarioFailure("record " + i + ": not a KafkaException", t.Exception.InnerException);
                    CheckError(expectError, ke);
                    continue;
                }
                if (t.IsFaulted) throw new ScenarioFailure("record " + i + " failed: " + t.Exception.InnerException.Message, t.Exception.InnerException);
                if (t.IsCanceled) throw new ScenarioFailure("record " + i + " was cancelled");
            }
            if (expectError == null && step.Has("expect"))
            {
                List<object> expect = step.List("expect");
                if (expect.Count != tasks.Count) throw new ScenarioFailure("expect has " + expect.Count + " entries for " + tasks.Count + " records");
                for (int i = 0; i < expect.Count; i++)
                {
                    var e = (JsonObject)expect[i];
                    DeliveryResult d = tasks[i].Result;
                    if (e.Has("partition") && e.Long("partition") != d.Partition)
                        throw new ScenarioFailure("record " + i + ": expected partition " + e.Long("partition") + ", delivered to " + d);
                    if (e.Has("offset") && e.Long("offset") != d.Offset)
                        throw new ScenarioFailure("record " + i + ": expected offset " + e.Long("offset") + ", delivered to " + d);
                    foreach (string k in e.OrderedKeys)
                    {
                        if (k != "partition" && k != "offset") throw new ScenarioFailure("produce expect: unknown field \"" + k + "\"");
                    }
                }
            }
        }

        // ---- consume -----------------------------------------------------------------------------

        private ConsumeResult Next(string name, DateTime deadline)
        {
            Queue<ConsumeResult> pending = _pending[name];
            if (pending.Count > 0) return pending.Dequeue();
            return ConsumerNamed(name).Consume(Remaining(deadline));
        }

        private void DropPending(string name, string topic, int partition)
        {
            var kept = _pending[name].Where(r => !(r.Topic == topic && r.Partition == partition)).ToList();
            _pending[name] = new Queue<ConsumeResult>(kept);
        }

        private void Consume(JsonObject step)
        {
            string name = step.Str("client");
            ConsumerNamed(name);
            long count = step.Long("count");
            DateTime deadline = DateTime.UtcNow.AddMilliseconds(step.Long("timeout_ms"));
            var got = new List<ConsumeResult>();
            while (got.Count < count)
            {
                ConsumeResult r = Next(name, deadline);
                if (r != null)
                {
                    got.Add(r);
                }
                else if (DateTime.UtcNow >= deadline)
                {
                    throw new ScenarioFailure("received " + got.Count + " of " + count + " records within " + step.Long("timeout_ms") + " ms");
                }
            }
            if (step.Has("expect"))
            {
                // Stable sort by (topic, partition, offset), then compare position by position.
                var sorted = got.Select((r, i) => new { r, i })
                    .OrderBy(x => x.r.Topic, StringComparer.Ordinal).ThenBy(x => x.r.Partition).ThenBy(x => x.r.Offset).ThenBy(x => x.i)
                    .Select(x => x.r).ToList();
                List<object> expect = step.List("expect");
                if (expect.Count != sorted.Count) throw new ScenarioFailure("expect lists " + expect.Count + " records, consume count is " + sorted.Count);
                for (int i = 0; i < expect.Count; i++) CheckRecord(i, (JsonObject)expect[i], sorted[i]);
            }
            if (step.Has("generate"))
            {
                var want = Generated(step.Obj("generate")).Select(kv => Show(kv.Key) + "=" + Show(kv.Value)).OrderBy(s => s, StringComparer.Ordinal).ToList();
                var seen = got.Select(r => Show(r.Key) + "=" + Show(r.Value)).OrderBy(s => s, StringComparer.Ordinal).ToList();
                if (!want.SequenceEqual(seen))
                {
                    var missing = want.Except(seen).Take(3);
                    var extra = seen.Except(want).Take(3);
                    throw new ScenarioFailure("records differ from generate: missing [" + string.Join(", ", missing) + "], unexpected [" + string.Join(", ", extra) + "]");
                }
            }
        }

        private static string Show(byte[] b)
        {
            return b == null ? "null" : "0x" + BitConverter.ToString(b).Replace("-", "");
        }

        private static string Describe(ConsumeResult r)
        {
            return r.Topic + "-" + r.Partition + "@" + r.Offset + " key=" + Show(r.Key);
        }

        internal static void CheckRecord(int i, JsonObject e, ConsumeResult r)
        {
            foreach (string k in e.OrderedKeys)
            {
                bool ok;
                string want;
                string seen;
                switch (k)
                {
                    case "topic": want = e.Str(k); seen = r.Topic; ok = want == seen; break;
                    case "partition": want = e.Long(k).ToString(); seen = r.Partition.ToString(); ok = want == seen; break;
                    case "offset": want = e.Long(k).ToString(); seen = r.Offset.ToString(); ok = want == seen; break;
                    case "key": want = Show(Bytes(e.Get(k))); seen = Show(r.Key); ok = want == seen; break;
                    case "value": want = Show(Bytes(e.Get(k))); seen = Show(r.Value); ok = want == seen; break;
                    case "headers":
                        {
                            Headers h = HeadersOf(e.Get(k));
                            want = string.Join(", ", h.Select(x => x.Key + "=" + Show(x.Value)));
                            seen = string.Join(", ", r.Headers.Select(x => x.Key + "=" + Show(x.Value)));
                            ok = want == seen;
                            break;
                        }
                    default:
                        throw new ScenarioFailure("consume expect: unknown field \"" + k + "\"");
                }
                if (!ok)
                {
                    throw new ScenarioFailure("record " + i + " (" + Describe(r) + "): expected " + k + " " + want + ", got " + seen);
                }
            }
        }

        // ---- groups ------------------------------------------------------------------------------

        private void WaitAssignment(JsonObject step)
        {
            List<string> names = step.List("clients").Cast<string>().ToList();
            string topic = step.Str("topic");
            int partitions = (int)step.Long("partitions");
            DateTime deadline = DateTime.UtcNow.AddMilliseconds(step.Long("timeout_ms"));
            string last = "";
            while (true)
            {
                foreach (string name in names)
                {
                    // As the Rust and C++ runners: one batch poll of up to 1000 records per client.
                    foreach (ConsumeResult r in ConsumerNamed(name).ConsumeBatch(1000, TimeSpan.FromMilliseconds(50))) _pending[name].Enqueue(r);
                }
                var owned = names.Select(n => ConsumerNamed(n).Assignment.Where(tp => tp.Topic == topic).Select(tp => tp.Partition).ToList()).ToList();
                var all = owned.SelectMany(x => x).ToList();
                bool disjoint = all.Count == all.Distinct().Count();
                bool covers = Enumerable.Range(0, partitions).All(all.Contains) && all.All(p => p >= 0 && p < partitions);
                bool eachOwns = partitions < names.Count || owned.All(o => o.Count > 0);
                if (disjoint && covers && eachOwns) return;
                last = string.Join("; ", names.Select((n, i) => n + "=[" + string.Join(",", owned[i].OrderBy(x => x)) + "]"));
                if (DateTime.UtcNow >= deadline)
                {
                    throw new ScenarioFailure("assignments of " + topic + " did not settle within " + step.Long("timeout_ms") + " ms: " + last);
                }
            }
        }
    }
}

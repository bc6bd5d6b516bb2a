// The .NET runner's background-failure ops of tests/conformance/: stop_broker, expect_error_event
// (each client's SetErrorHandler, set when the run made the client) and expect_log (the log
// bridge, Logging.SetHandler, from stop_broker on).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;

namespace Odradek.Tests
{
    internal sealed partial class ScenarioRun
    {
        private readonly Dictionary<string, ErrorLog> _errorLogs = new Dictionary<string, ErrorLog>();
        // Records at Warning and more severe, captured from stop_broker on (null before).
        private List<Tuple<LogLevel, string>> _logs;

        /// <summary>Records the background errors of the client made under <paramref name="name"/>.</summary>
        private void WatchErrors(string name, Action<Action<KafkaException>> setErrorHandler)
        {
            var log = new ErrorLog();
            _errorLogs[name] = log;
            setErrorHandler(log.Handle);
        }

        /// <summary>Stops the log capture at the end of the run.</summary>
        private void EndEvents()
        {
            if (_logs != null) Logging.SetHandler(LogLevel.Warning, null);
        }

        /// <summary>Runs a background-failure op; false when <paramref name="op"/> is not one.</summary>
        private bool RunEventStep(string op, JsonObject step)
        {
            switch (op)
            {
                case "stop_broker":
                    if (_logs == null)
                    {
                        var logs = new List<Tuple<LogLevel, string>>();
                        Logging.SetHandler(LogLevel.Warning, (level, target, message) =>
                        {
                            lock (logs) logs.Add(Tuple.Create(level, message));
                        });
                        _logs = logs;
                    }
                    if (_broker == null) throw new ScenarioFailure("stop_broker in a scenario without a single broker");
                    _broker.Dispose();
                    return true;
                case "expect_error_event":
                    {
                        string name = step.Str("client");
                        ErrorLog log;
                        if (!_errorLogs.TryGetValue(name, out log)) throw new ScenarioFailure("no client named \"" + name + "\"");
                        string[] names = step.List("names").Cast<string>().ToArray();
                        long ms = step.Long("timeout_ms");
                        KafkaException e = log.WaitFor(TimeSpan.FromMilliseconds(ms), names);
                        if (e == null)
                        {
                            throw new ScenarioFailure("no error event named " + string.Join("/", names) + " within " + ms +
                                " ms; received " + string.Join(", ", log.Seen.Select(x => x.Name + " (" + x.Message + ")")));
                        }
                        if (step.Has("retriable") && (bool)step.Get("retriable") != e.IsRetriable)
                        {
                            throw new ScenarioFailure("error event " + e.Name + ": expected retriable=" + step.Get("retriable") + ", got " + e.IsRetriable);
                        }
                        return true;
                    }
                case "expect_log":
                    {
                        string level = step.Str("level");
                        LogLevel least;
                        if (level == "warn") least = LogLevel.Warning;
                        else if (level == "error") least = LogLevel.Error;
                        else throw new ScenarioFailure("level \"" + level + "\" is not warn or error");
                        if (_logs == null) throw new ScenarioFailure("expect_log before stop_broker: no log capture");
                        long ms = step.Long("timeout_ms");
                        var sw = Stopwatch.StartNew();
                        while (true)
                        {
                            lock (_logs)
                            {
                                if (_logs.Any(r => r.Item1 >= least)) return true;
                                if (sw.ElapsedMilliseconds > ms)
                                {
                                    throw new ScenarioFailure("no log record at " + level + " or above within " + ms + " ms; captured " +
                                        string.Join("; ", _logs.Select(r => r.Item1 + " " + r.Item2)));
                                }
                            }
                            Thread.Sleep(50);
                        }
                    }
                default:
                    return false;
            }
        }
    }
}

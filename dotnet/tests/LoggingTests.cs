using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using NUnit.Framework;

namespace Odradek.Tests
{
    [TestFixture]
    public class LoggingTests
    {
        private static string ClosedAddress()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return "127.0.0.1:" + port;
        }

        [Test]
        public void AnUnreachableBrokerIsAWarningNamingItsAddress()
        {
            var seen = new ConcurrentQueue<Tuple<LogLevel, string, string>>();
            Logging.SetHandler(LogLevel.Warning, (level, target, message) => seen.Enqueue(Tuple.Create(level, target, message)));
            try
            {
                string address = ClosedAddress();
                var config = new Dictionary<string, string> { { "bootstrap.servers", address }, { "message.timeout.ms", "1000" } };
                using (var producer = new Producer(config))
                {
                    var sent = producer.ProduceAsync("logged", new Message { Value = new byte[] { 1 } });
                    Tuple<LogLevel, string, string> hit = null;
                    var deadline = DateTime.UtcNow.AddSeconds(15);
                    while (hit == null && DateTime.UtcNow < deadline)
                    {
                        Thread.Sleep(100);
                        hit = seen.FirstOrDefault(r => r.Item3.Contains("cannot connect") && r.Item3.Contains(address));
                    }
                    Assert.IsNotNull(hit, "no 'cannot connect' record naming " + address);
                    Assert.AreEqual(LogLevel.Warning, hit.Item1);
                    StringAssert.StartsWith("odradek", hit.Item2);
                    Assert.IsFalse(seen.Any(r => r.Item1 < LogLevel.Warning), "a record below Warning arrived");
                    Assert.Throws<AggregateException>(() => sent.Wait());
                }
            }
            finally
            {
                Logging.SetHandler(LogLevel.Warning, null);
            }
        }
    }
}

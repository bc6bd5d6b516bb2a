using System.Collections.Generic;
using NUnit.Framework;
using Odradek.Testing;

namespace Odradek.Tests
{
    /// <summary>One embedded broker per fixture; each test uses its own topics and groups.</summary>
    public abstract class BrokerFixture
    {
        protected Broker Broker;
        protected AdminClient Admin;
        private static int _unique;

        [TestFixtureSetUp]
        public void StartBroker()
        {
            Broker = new Broker();
            Admin = new AdminClient(Config());
        }

        [TestFixtureTearDown]
        public void StopBroker()
        {
            if (Admin != null) Admin.Dispose();
            if (Broker != null) Broker.Dispose();
        }

        /// <summary>bootstrap.servers plus these key/value pairs.</summary>
        protected Dictionary<string, string> Config(params string[] pairs)
        {
            var c = new Dictionary<string, string> { { "bootstrap.servers", Broker.BootstrapServers } };
            for (int i = 0; i + 1 < pairs.Length; i += 2) c[pairs[i]] = pairs[i + 1];
            return c;
        }

        protected static string Unique(string prefix)
        {
            return prefix + "-" + System.Threading.Interlocked.Increment(ref _unique);
        }

        protected string NewTopic(int partitions)
        {
            string t = Unique("topic");
            Admin.CreateTopic(t, partitions, 1);
            return t;
        }
    }
}

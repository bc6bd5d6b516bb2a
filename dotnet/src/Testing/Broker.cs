using System;
using System.Collections.Generic;
using Odradek.Native;

namespace Odradek.Testing
{
    /// <summary>
    /// An Odradek broker inside this process, for tests: 127.0.0.1 on an ephemeral port, a temporary
    /// data directory removed on Dispose. No Docker, no JVM.
    /// <code>
    /// using (var broker = new Broker())
    /// using (var producer = new Producer(new Dictionary&lt;string, string&gt; { { "bootstrap.servers", broker.BootstrapServers } }))
    /// { ... }
    /// </code>
    /// </summary>
    public sealed class Broker : IDisposable
    {
        // Finds the native library of a NuGet package before the first native call.
        static Broker()
        {
            NativeLoader.Load();
        }

        private readonly BrokerHandle _handle;

        /// <summary>Starts a broker with these Kafka broker properties (<c>num.partitions</c>, ...).</summary>
        public Broker(IEnumerable<KeyValuePair<string, string>> properties = null)
        {
            _handle = new BrokerHandle();
            unsafe
            {
                using (var arena = new Arena())
                {
                    UIntPtr n;
                    OdradekConfigEntry* entries = arena.Config(properties, out n);
                    IntPtr raw;
                    Interop.Check(Lib.odradek_test_broker_start(entries, n, out raw));
                    _handle.Adopt(raw);
                }
            }
            BootstrapServers = Interop.PtrToString(Lib.odradek_test_broker_bootstrap(_handle));
        }

        /// <summary><c>host:port</c> for <c>bootstrap.servers</c>.</summary>
        public string BootstrapServers { get; private set; }

        /// <summary>Stops the broker and removes its data.</summary>
        public void Dispose()
        {
            _handle.Dispose();
        }
    }
}

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
    /// <see cref="StartSaslSsl"/> starts one that speaks SASL_SSL only.
    /// </summary>
    public sealed class Broker : IDisposable
    {
        // Finds the native library of a NuGet package before the first native call.
        static Broker()
        {
            NativeLoader.Load();
        }

        private readonly BrokerHandle _handle;
        // The SCRAM user of a SASL_SSL broker (null for a plaintext one).
        private string _username;
        private string _password;

        /// <summary>Starts a broker with these Kafka broker properties (<c>num.partitions</c>, ...).</summary>
        public Broker(IEnumerable<KeyValuePair<string, string>> properties = null)
            : this(null, null, properties)
        {
        }

        private Broker(string username, string password, IEnumerable<KeyValuePair<string, string>> properties)
        {
            _handle = new BrokerHandle();
            unsafe
            {
                using (var arena = new Arena())
                {
                    UIntPtr n;
                    OdradekConfigEntry* entries = arena.Config(properties, out n);
                    IntPtr raw;
                    if (username == null)
                    {
                        Interop.Check(Lib.odradek_test_broker_start(entries, n, out raw));
                    }
                    else
                    {
                        Interop.Check(Lib.odradek_test_broker_start_sasl_ssl(arena.Utf8Z(username), arena.Utf8Z(password), entries, n, out raw));
                    }
                    _handle.Adopt(raw);
                }
            }
            BootstrapServers = Interop.PtrToString(Lib.odradek_test_broker_bootstrap(_handle));
            CaPem = Interop.PtrToString(Lib.odradek_test_broker_ca_pem(_handle));
            _username = username;
            _password = password;
        }

        /// <summary>
        /// Starts a broker whose one listener is SASL_SSL: TLS with a certificate for 127.0.0.1 /
        /// localhost signed by a CA made now (<see cref="CaPem"/>), SCRAM-SHA-256 and SCRAM-SHA-512
        /// with this user. <paramref name="properties"/> are added (<c>sasl.enabled.mechanisms</c> with
        /// <c>OAUTHBEARER</c> also accepts unsecured JWTs). <see cref="ClientConfig"/> has what a
        /// client needs.
        /// </summary>
        public static Broker StartSaslSsl(string username, string password, IEnumerable<KeyValuePair<string, string>> properties = null)
        {
            if (username == null) throw new ArgumentNullException("username");
            if (password == null) throw new ArgumentNullException("password");
            return new Broker(username, password, properties);
        }

        /// <summary><c>host:port</c> for <c>bootstrap.servers</c>.</summary>
        public string BootstrapServers { get; private set; }

        /// <summary>The CA certificate (PEM) a client must trust (<c>ssl.ca.pem</c>); null for a
        /// plaintext broker.</summary>
        public string CaPem { get; private set; }

        /// <summary>A client config for this broker: <c>bootstrap.servers</c> and, for a SASL_SSL
        /// broker, <c>security.protocol</c>, <c>sasl.mechanism</c> (SCRAM-SHA-512), the user and
        /// password and <c>ssl.ca.pem</c>.</summary>
        public Dictionary<string, string> ClientConfig()
        {
            var config = new Dictionary<string, string> { { "bootstrap.servers", BootstrapServers } };
            if (_username != null)
            {
                config["security.protocol"] = "SASL_SSL";
                config["sasl.mechanism"] = "SCRAM-SHA-512";
                config["sasl.username"] = _username;
                config["sasl.password"] = _password;
                config["ssl.ca.pem"] = CaPem;
            }
            return config;
        }

        /// <summary>Stops the broker and removes its data.</summary>
        public void Dispose()
        {
            _handle.Dispose();
        }
    }
}

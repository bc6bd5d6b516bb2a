using System;
using System.Collections.Generic;
using System.Text;
using System.Threading.Tasks;
using NUnit.Framework;
using Odradek.Testing;

namespace Odradek.Tests
{
    /// <summary>
    /// The SASL_SSL test broker (TLS with its own CA, SCRAM) through ClientConfig, a wrong password
    /// (fatal _AUTHENTICATION, the password in no message), and OAUTHBEARER tokens from a delegate:
    /// it gets sasl.oauthbearer.config, its token logs in, its exception fails the login.
    /// </summary>
    [TestFixture]
    public class SecurityTests
    {
        private static string UnsecuredJwt(string principal, DateTimeOffset expiry)
        {
            Func<string, string> part = json => Convert.ToBase64String(Encoding.UTF8.GetBytes(json))
                .TrimEnd('=').Replace('+', '-').Replace('/', '_');
            return part("{\"alg\":\"none\"}") + "." + part("{\"sub\":\"" + principal + "\",\"exp\":" + expiry.ToUnixTimeSeconds() + "}") + ".";
        }

        [Test]
        public void SaslSslBroker_WrongPassword_AndTokenProvider()
        {
            var props = new Dictionary<string, string> { { "sasl.enabled.mechanisms", "SCRAM-SHA-512,OAUTHBEARER" } };
            using (var broker = Broker.StartSaslSsl("alice", "alice-secret", props))
            {
                StringAssert.Contains("BEGIN CERTIFICATE", broker.CaPem);
                using (var admin = new AdminClient(broker.ClientConfig()))
                {
                    admin.CreateTopic("dotnet-secure", 1);
                }

                var wrong = broker.ClientConfig();
                wrong["sasl.password"] = "wrong-password";
                using (var admin = new AdminClient(wrong))
                {
                    var e = Assert.Throws<KafkaException>(() => admin.ListTopics(TimeSpan.FromSeconds(30)));
                    Assert.AreEqual("_AUTHENTICATION", e.Name, e.Message);
                    Assert.IsTrue(e.IsFatal, e.ToString());
                    StringAssert.DoesNotContain("wrong-password", e.ToString());
                }

                var oauth = new Dictionary<string, string>
                {
                    { "bootstrap.servers", broker.BootstrapServers }, { "security.protocol", "SASL_SSL" },
                    { "ssl.ca.pem", broker.CaPem }, { "sasl.mechanism", "OAUTHBEARER" },
                    { "sasl.oauthbearer.config", "scope=dotnet-test" },
                };
                var configs = new List<string>();
                OAuthBearerTokenProvider provider = config =>
                {
                    lock (configs) configs.Add(config);
                    var expiry = DateTimeOffset.UtcNow.AddMinutes(10);
                    return new OAuthBearerToken
                    {
                        Value = UnsecuredJwt("alice", expiry), Expiry = expiry, Principal = "alice",
                        Extensions = new Dictionary<string, string> { { "traceid", "dotnet" } },
                    };
                };
                using (var producer = new Producer(oauth, provider))
                {
                    Task<DeliveryResult> sent = producer.ProduceAsync("dotnet-secure", null, Encoding.UTF8.GetBytes("via a token"));
                    Assert.IsTrue(sent.Wait(TimeSpan.FromSeconds(30)));
                    Assert.AreEqual(0, sent.Result.Offset);
                }
                lock (configs)
                {
                    Assert.IsNotEmpty(configs);
                    Assert.AreEqual("scope=dotnet-test", configs[0]);
                }

                OAuthBearerTokenProvider refusing = config => { throw new InvalidOperationException("no token for you"); };
                using (var admin = new AdminClient(oauth, refusing))
                {
                    var e = Assert.Throws<KafkaException>(() => admin.ListTopics(TimeSpan.FromSeconds(30)));
                    Assert.AreEqual("_AUTHENTICATION", e.Name, e.Message);
                    StringAssert.Contains("no token for you", e.Message);
                }
            }
        }
    }
}

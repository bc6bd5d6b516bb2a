"""Our broker's TLS, SASL and ACLs as third-party clients see them.

One `odradek-broker` process with a SASL_SSL listener (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN) and
an SSL listener that requires client certificates, ACLs on (`authorizer.class.name`,
`super.users=User:admin`). Certificates come from scripts/test-certs.sh (openssl, made now).

- The Java Admin client (Kafka 4.3.1's own ConfigCommand, AclCommand, TopicCommand) creates
  SCRAM users, topics and ACLs over SASL_SSL PLAIN as the super user, lists them, deletes them.
- librdkafka (confluent-kafka), the Java client and franz-go each log in with SCRAM-SHA-512, PLAIN
  and a client certificate, produce to the topic their ACLs allow, get TOPIC_AUTHORIZATION_FAILED
  for the one they may not write, and do not see it in the topic list (no DESCRIBE).
- After the Java Admin client deletes the ACL and the SCRAM user, the same clients are refused.

Run by scripts/test.d/47-security-broker.sh; ODRADEK_BROKER_BIN picks the broker binary.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ODRADEK_CACHE", Path.home() / ".cache" / "odradek"))
KAFKA_LIBS = CACHE / "kafka-4.3.1" / "libs"
FRANZ = CACHE / "interop" / "franz"
DEADLINE_S = 90  # hang guard for one client run, not a timing assertion

ADMIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret";')
# The subject of scripts/test-certs.sh's client certificate, as Kafka's DEFAULT rule writes it.
CERT_PRINCIPAL = "User:CN=client"


class Broker:
    def __init__(self, work: Path):
        self.work = work
        self.certs = work / "certs"
        subprocess.run([str(REPO / "scripts" / "test-certs.sh"), str(self.certs)], check=True)
        # Java's PEM keystore: key and certificate chain in one file.
        (self.certs / "client-keystore.pem").write_text(
            (self.certs / "client.key").read_text() + (self.certs / "client.pem").read_text())
        props = "\n".join([
            "listeners=SASL_SSL://127.0.0.1:0,SSL://127.0.0.1:0",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users=User:admin",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={self.certs / 'server-keystore.pem'}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.certs / 'ca.pem'}",
            "listener.name.ssl.ssl.client.auth=required",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain."
            'PlainLoginModule required user_admin="admin-secret" user_carol="carol-secret";',
            "",
        ])
        (work / "server.properties").write_text(props)
        binary = os.environ.get("ODRADEK_BROKER_BIN") or str(
            Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target")) / "release" / "odradek-broker")
        self.log = open(work / "broker.log", "w")
        self.proc = subprocess.Popen(
            [binary, "--data-dir", str(work / "data"), "--fsync", "never",
             "--config", str(work / "server.properties")],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        # One stdout line per listener, in the order of `listeners`.
        self.sasl_ssl = self.proc.stdout.readline().strip()
        self.ssl = self.proc.stdout.readline().strip()
        assert self.sasl_ssl and self.ssl, (work / "broker.log").read_text()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()

    # -- client settings ------------------------------------------------------------------

    def librdkafka(self, mode: str, user: str = "", password: str = "") -> dict:
        c = {"ssl.ca.location": str(self.certs / "ca.pem")}
        if mode == "mtls":
            c.update({"bootstrap.servers": self.ssl, "security.protocol": "SSL",
                      "ssl.certificate.location": str(self.certs / "client.pem"),
                      "ssl.key.location": str(self.certs / "client.key")})
        else:
            c.update({"bootstrap.servers": self.sasl_ssl, "security.protocol": "SASL_SSL",
                      "sasl.mechanism": mode, "sasl.username": user, "sasl.password": password})
        return c

    def java_properties(self, name: str, mode: str, user: str = "", password: str = "") -> Path:
        lines = ["ssl.truststore.type=PEM", f"ssl.truststore.location={self.certs / 'ca.pem'}"]
        if mode == "mtls":
            lines += ["security.protocol=SSL", "ssl.keystore.type=PEM",
                      f"ssl.keystore.location={self.certs / 'client-keystore.pem'}"]
        else:
            module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mode == "PLAIN"
                      else "org.apache.kafka.common.security.scram.ScramLoginModule")
            lines += ["security.protocol=SASL_SSL", f"sasl.mechanism={mode}",
                      f'sasl.jaas.config={module} required username="{user}" password="{password}";']
        path = self.work / f"{name}.properties"
        path.write_text("\n".join(lines) + "\n")
        return path

    def franz_env(self, mode: str, user: str = "", password: str = "") -> dict:
        env = dict(os.environ, FRANZ_TLS_CA=str(self.certs / "ca.pem"))
        if mode == "mtls":
            env.update(FRANZ_TLS_CERT=str(self.certs / "client.pem"),
                       FRANZ_TLS_KEY=str(self.certs / "client.key"))
        else:
            env.update(FRANZ_SASL=mode, FRANZ_USER=user, FRANZ_PASSWORD=password)
        return env

    def bootstrap(self, mode: str) -> str:
        return self.ssl if mode == "mtls" else self.sasl_ssl


def java(main: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """A Kafka 4.3.1 command-line tool (the Java Admin / producer / consumer clients)."""
    cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-cp", f"{KAFKA_LIBS}/*", main, *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=DEADLINE_S)


def admin(b: Broker, main: str, *args: str) -> str:
    out = java(main, "--bootstrap-server", b.sasl_ssl, "--command-config",
               str(b.java_properties("admin", "PLAIN", "admin", "admin-secret")), *args)
    assert out.returncode == 0, f"{main} {args}: {out.stdout}\n{out.stderr}"
    return out.stdout


CONFIGS = "kafka.admin.ConfigCommand"
ACLS = "org.apache.kafka.tools.AclCommand"
TOPICS = "org.apache.kafka.tools.TopicCommand"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("security"))
    yield b
    b.stop()


# Who logs in how, and which topic their ACLs let them write.
IDENTITIES = {
    "scram": ("SCRAM-SHA-512", "alice", "alice-secret", "User:alice", "scram-topic"),
    "plain": ("PLAIN", "carol", "carol-secret", "User:carol", "plain-topic"),
    "mtls": ("mtls", "", "", CERT_PRINCIPAL, "mtls-topic"),
}


def test_01_java_admin_creates_users_topics_and_acls(broker):
    admin(broker, CONFIGS, "--alter", "--entity-type", "users", "--entity-name", "alice",
          "--add-config", "SCRAM-SHA-512=[iterations=8192,password=alice-secret]")
    admin(broker, CONFIGS, "--alter", "--entity-type", "users", "--entity-name", "bob",
          "--add-config", "SCRAM-SHA-256=[password=bob-secret]")
    described = admin(broker, CONFIGS, "--describe", "--entity-type", "users")
    assert "alice" in described and "SCRAM-SHA-512=iterations=8192" in described, described
    assert "bob" in described and "SCRAM-SHA-256=iterations=4096" in described, described
    for topic in ["scram-topic", "plain-topic", "mtls-topic", "payroll"]:
        admin(broker, TOPICS, "--create", "--topic", topic, "--partitions", "2")
    for _, _, _, principal, topic in IDENTITIES.values():
        admin(broker, ACLS, "--add", "--allow-principal", principal, "--operation", "Write",
              "--operation", "Read", "--topic", topic)
    admin(broker, ACLS, "--add", "--allow-principal", CERT_PRINCIPAL, "--operation", "Read",
          "--group", "mtls-group")
    listed = admin(broker, ACLS, "--list")
    for _, _, _, principal, topic in IDENTITIES.values():
        assert f"name={topic}" in listed and f"principal={principal}" in listed, listed


def librdkafka_produce(config: dict, topic: str, n: int) -> list:
    """Delivery errors (None for each record delivered)."""
    p = Producer(dict(config, **{"linger.ms": 5, "message.timeout.ms": 20000}))
    results = []
    for i in range(n):
        p.produce(topic, value=f"rdkafka-{i}".encode(), on_delivery=lambda err, _m: results.append(err))
    assert p.flush(DEADLINE_S) == 0
    return results


@pytest.mark.parametrize("who", list(IDENTITIES))
def test_02_librdkafka(broker, who):
    mode, user, password, _, topic = IDENTITIES[who]
    config = broker.librdkafka(mode, user, password)
    assert librdkafka_produce(config, topic, 20) == [None] * 20
    denied = librdkafka_produce(config, "payroll", 1)
    assert denied[0] is not None and denied[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, denied
    listed = set(Producer(config).list_topics(timeout=20).topics)
    assert topic in listed and "payroll" not in listed, listed


def test_03_librdkafka_group_consumer_with_a_client_certificate(broker):
    c = Consumer(dict(broker.librdkafka("mtls"), **{"group.id": "mtls-group",
                                                     "auto.offset.reset": "earliest"}))
    c.subscribe(["mtls-topic"])
    got, deadline = [], time.monotonic() + DEADLINE_S
    while len(got) < 20 and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert sorted(got) == sorted(f"rdkafka-{i}".encode() for i in range(20))


@pytest.mark.parametrize("who", list(IDENTITIES))
def test_04_java_client(broker, who):
    mode, user, password, _, topic = IDENTITIES[who]
    props = str(broker.java_properties(f"java-{who}", mode, user, password))
    boot = broker.bootstrap(mode)
    out = java("org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server", boot, "--topic",
               topic, "--command-config", props, stdin="".join(f"java-{i}\n" for i in range(5)))
    assert out.returncode == 0 and "Exception" not in out.stderr, out.stderr
    out = java("org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server", boot, "--topic",
               "payroll", "--command-config", props, stdin="no\n")
    assert "TopicAuthorizationException" in out.stdout + out.stderr, out.stdout + out.stderr
    out = java(TOPICS, "--bootstrap-server", boot, "--command-config", props, "--list")
    assert out.returncode == 0, out.stderr
    listed = out.stdout.split()
    assert topic in listed and "payroll" not in listed, out.stdout


@pytest.mark.parametrize("who", list(IDENTITIES))
def test_05_franz_go(broker, who):
    mode, user, password, _, topic = IDENTITIES[who]
    env = broker.franz_env(mode, user, password)
    boot = broker.bootstrap(mode)
    lines = "".join(f"{topic}\t{i % 2}\t-\t-\t{'ZnJhbno='}\t\n" for i in range(10))
    out = subprocess.run([str(FRANZ), "produce", boot, "none"], input=lines, env=env,
                         capture_output=True, text=True, timeout=DEADLINE_S)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([str(FRANZ), "produce", boot, "none"], input="payroll\t0\t-\t-\tbm8=\t\n",
                         env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert out.returncode != 0 and "TOPIC_AUTHORIZATION_FAILED" in out.stderr, out.stderr
    out = subprocess.run([str(FRANZ), "topics", boot], env=env, capture_output=True, text=True,
                         timeout=DEADLINE_S)
    assert out.returncode == 0, out.stderr
    listed = out.stdout.split()
    assert topic in listed and "payroll" not in listed, out.stdout


def test_06_java_admin_deletes_acls_and_users(broker):
    admin(broker, ACLS, "--remove", "--force", "--allow-principal", "User:alice",
          "--operation", "Write", "--operation", "Read", "--topic", "scram-topic")
    assert "principal=User:alice" not in admin(broker, ACLS, "--list")
    config = broker.librdkafka("SCRAM-SHA-512", "alice", "alice-secret")
    denied = librdkafka_produce(config, "scram-topic", 1)
    assert denied[0] is not None and denied[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, denied

    admin(broker, CONFIGS, "--alter", "--entity-type", "users", "--entity-name", "alice",
          "--delete-config", "SCRAM-SHA-512")
    assert "alice" not in admin(broker, CONFIGS, "--describe", "--entity-type", "users")
    errors = []
    p = Producer(dict(config, error_cb=errors.append))
    p.poll(5)
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        p.poll(0.5)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors

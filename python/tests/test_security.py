"""TLS and SASL through the Python binding, against Apache Kafka 4.3.1 with secure listeners
(scripts/apache-kafka.sh secure-start): SASL_SSL with SCRAM-SHA-512 and PLAIN, SSL with mutual
TLS, SASL_PLAINTEXT with OAUTHBEARER (unsecured JWT). The security keys pass through the
binding's config unchanged (booleans included); failures are the documented fatal errors, and no
secret shows in an error's str/repr."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest

import odradek
from conftest import REPO

PASSWORD = "alice-secret"
WRONG = "not-alices-password-7f3a"


@pytest.fixture(scope="module")
def secure(request: Any) -> Iterator[Tuple[Dict[str, str], Path]]:
    if request.config.getoption("--no-apache"):
        pytest.skip("--no-apache: the secure listeners are Apache Kafka's")
    workdir = Path(tempfile.mkdtemp(prefix="odradek-py-secure-"))
    script = str(REPO / "scripts" / "apache-kafka.sh")
    out = subprocess.run([script, "secure-start", str(workdir)],
                         capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        pytest.fail(f"secure Apache Kafka did not start:\n{out.stderr}", pytrace=False)
    listeners = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    try:
        yield listeners, workdir / "certs"
    finally:
        subprocess.run([script, "stop", str(workdir)], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def modes(listeners: Dict[str, str], certs: Path) -> Dict[str, Dict[str, Any]]:
    ca = str(certs / "ca.pem")
    sasl_ssl = {"bootstrap.servers": listeners["SASL_SSL"], "security.protocol": "sasl_ssl",
                "ssl.ca.location": ca, "sasl.username": "alice", "sasl.password": PASSWORD}
    return {
        "scram-sha-512": {**sasl_ssl, "sasl.mechanisms": "SCRAM-SHA-512"},
        "plain": {**sasl_ssl, "sasl.mechanism": "PLAIN"},
        "mtls": {"bootstrap.servers": listeners["SSL"], "security.protocol": "SSL",
                 "ssl.ca.location": ca, "ssl.certificate.location": str(certs / "client.pem"),
                 "ssl.key.location": str(certs / "client.key")},
        "oauthbearer": {"bootstrap.servers": listeners["SASL_PLAINTEXT"],
                        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
                        "enable.sasl.oauthbearer.unsecure.jwt": True,
                        "sasl.oauthbearer.config": "principal=admin lifeSeconds=600"},
    }


@pytest.mark.parametrize("mode", ["scram-sha-512", "plain", "mtls", "oauthbearer"])
def test_produce_consume_in_a_group_and_admin(secure: Tuple[Dict[str, str], Path],
                                              mode: str) -> None:
    config = modes(*secure)[mode]
    started = time.monotonic()
    topic = f"sec-{mode}-{uuid.uuid4().hex[:8]}"
    admin = odradek.AdminClient(config)
    admin.create_topics([odradek.NewTopic(topic, 2, 1)])
    assert admin.list_topics()[topic] == 2
    admin.close()
    p = odradek.Producer(config)
    p.produce_batch(topic, [f"{mode}-{i}".encode() for i in range(20)]).result(30)
    p.close()
    c = odradek.Consumer({**config, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    seen = set()
    deadline = time.monotonic() + 60
    while len(seen) < 20 and time.monotonic() < deadline:
        for m in c.consume(20, timeout=1):
            seen.add(m.value)
    c.commit()
    c.close()
    assert len(seen) == 20
    print(f"{mode}: admin + produce + group consume in {time.monotonic() - started:.2f} s")


def unsecured_jwt(principal: str, expiry: float) -> str:
    def part(obj: Dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none'})}.{part({'sub': principal, 'exp': int(expiry)})}."


def test_oauth_cb_supplies_the_token(secure: Tuple[Dict[str, str], Path]) -> None:
    listeners, _ = secure
    calls = []

    def oauth_cb(oauthbearer_config: str) -> Tuple[str, float, str]:
        calls.append(oauthbearer_config)
        expiry = time.time() + 600
        return unsecured_jwt("admin", expiry), expiry, "admin"

    config = {"bootstrap.servers": listeners["SASL_PLAINTEXT"],
              "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
              "sasl.oauthbearer.config": "from-the-config", "oauth_cb": oauth_cb}
    topic = f"sec-oauth-cb-{uuid.uuid4().hex[:8]}"
    admin = odradek.AdminClient(config)
    admin.create_topics([odradek.NewTopic(topic, 1, 1)])
    p = odradek.Producer(config)
    p.produce_batch(topic, [b"a", b"b"]).result(30)
    p.close()
    admin.close()
    assert calls and calls[0] == "from-the-config"

    def refusing(_: str) -> Tuple[str, float]:
        raise RuntimeError("no token today")

    with pytest.raises(odradek.KafkaError) as raised:
        odradek.AdminClient({**config, "oauth_cb": refusing}).list_topics(timeout=60)
    assert raised.value.name == "_AUTHENTICATION" and "no token today" in str(raised.value)


def fails(config: Dict[str, Any], name: str, *words: str) -> None:
    started = time.monotonic()
    with pytest.raises(odradek.KafkaError) as raised:
        odradek.AdminClient(config).list_topics(timeout=60)
    err = raised.value
    print(f"{err!r} after {time.monotonic() - started:.2f} s")
    assert err.name == name, repr(err)
    assert err.fatal, repr(err)
    for w in words:
        assert w in str(err), repr(err)
    for secret in (PASSWORD, WRONG):
        assert secret not in str(err) and secret not in repr(err)


def test_wrong_password_untrusted_certificate_unknown_mechanism(
        secure: Tuple[Dict[str, str], Path]) -> None:
    listeners, certs = secure
    m = modes(listeners, certs)
    fails({**m["scram-sha-512"], "sasl.password": WRONG}, "_AUTHENTICATION",
          "SCRAM-SHA-512", "alice")
    fails({**m["plain"], "sasl.password": WRONG}, "_AUTHENTICATION", "PLAIN")
    fails({**m["plain"], "ssl.ca.location": str(certs / "other-ca.pem")}, "_SSL",
          "unknown issuer")
    fails({**m["plain"], "bootstrap.servers": listeners["SASL_PLAINTEXT"],
           "security.protocol": "SASL_PLAINTEXT"}, "_AUTHENTICATION",
          "does not enable PLAIN")
    # A bad value is a config error naming the key, without echoing the password.
    with pytest.raises(odradek.ConfigError) as raised:
        odradek.Producer({**m["plain"], "sasl.mechanism": "GSSAPI"})
    assert "sasl.mechanism" in str(raised.value) and PASSWORD not in str(raised.value)


def test_embedded_sasl_ssl_broker_and_oauth_cb() -> None:
    """The embedded SASL_SSL broker (no Apache Kafka): config() logs in with SCRAM over TLS, a
    wrong password is a fatal _AUTHENTICATION, and oauth_cb's token logs in over OAUTHBEARER."""
    from odradek.testing import Broker

    with Broker.sasl_ssl("alice", PASSWORD,
                         {"sasl.enabled.mechanisms": "SCRAM-SHA-512,OAUTHBEARER"}) as broker:
        assert broker.ca_pem and "BEGIN CERTIFICATE" in broker.ca_pem
        assert PASSWORD not in repr(broker)
        broker.create_topic("py-secure")
        fails({**broker.config(), "sasl.password": WRONG}, "_AUTHENTICATION", "SCRAM-SHA-512")
        calls = []

        def oauth_cb(oauthbearer_config: str) -> Tuple[str, float, str]:
            calls.append(oauthbearer_config)
            expiry = time.time() + 600
            return unsecured_jwt("alice", expiry), expiry, "alice"

        p = odradek.Producer({"bootstrap.servers": broker.bootstrap_servers,
                              "security.protocol": "SASL_SSL", "ssl.ca.pem": broker.ca_pem,
                              "sasl.mechanism": "OAUTHBEARER",
                              "sasl.oauthbearer.config": "scope=py-test", "oauth_cb": oauth_cb})
        p.produce_batch("py-secure", [b"via a token"]).result(30)
        p.close()
        assert calls and calls[0] == "scope=py-test"


def test_aio_oauth_cb_may_be_async() -> None:
    """odradek.aio takes an ``async def`` oauth_cb: it is awaited on the client's event loop
    (it may await other coroutines there) and its token logs in; a failing one is a fatal
    _AUTHENTICATION carrying its message."""
    import asyncio

    import odradek.aio
    from odradek.testing import Broker

    async def main(broker: Any) -> None:
        loop = asyncio.get_running_loop()
        calls = []

        async def oauth_cb(oauthbearer_config: str) -> Tuple[str, float, str]:
            assert asyncio.get_running_loop() is loop
            await asyncio.sleep(0.01)
            calls.append(oauthbearer_config)
            expiry = time.time() + 600
            return unsecured_jwt("alice", expiry), expiry, "alice"

        config = {"bootstrap.servers": broker.bootstrap_servers, "security.protocol": "SASL_SSL",
                  "ssl.ca.pem": broker.ca_pem, "sasl.mechanism": "OAUTHBEARER",
                  "sasl.oauthbearer.config": "scope=aio"}
        async with odradek.aio.Producer({**config, "oauth_cb": oauth_cb}) as p:
            await p.send("py-aio-secure", b"via an async token")
        assert calls and calls[0] == "scope=aio"

        async def refusing(_: str) -> Tuple[str, float]:
            raise RuntimeError("the async provider is down")

        async with odradek.aio.Producer({**config, "oauth_cb": refusing}) as p:
            with pytest.raises(odradek.KafkaError) as raised:
                await asyncio.wait_for(p.send("py-aio-secure", b"x"), 30)
        assert raised.value.name == "_AUTHENTICATION" and raised.value.fatal, repr(raised.value)
        assert "the async provider is down" in str(raised.value)

    with Broker.sasl_ssl("alice", PASSWORD,
                         {"sasl.enabled.mechanisms": "SCRAM-SHA-512,OAUTHBEARER"}) as broker:
        broker.create_topic("py-aio-secure")
        asyncio.run(main(broker))

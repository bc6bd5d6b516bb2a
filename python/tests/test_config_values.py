"""Config values are coerced by the core, by the rule every binding shares
(core/src/config/value.rs; node/test/config_values.test.mjs checks the same cases): the Python
layer passes the values as given."""

import datetime
import math

import pytest

import odradek
from odradek.testing import config_setting

BOOTSTRAP = "127.0.0.1:1"


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("linger.ms", "20", "20"),
        ("enable.idempotence", True, "true"),
        ("enable.idempotence", False, "false"),
        ("linger.ms", 5, "5"),
        ("retention.ms", -1, "-1"),
        ("linger.ms", 5.0, "5"),
        ("linger.ms", -0.0, "0"),
        ("x", 0.25, "0.25"),
        ("x", 1e21, "1000000000000000000000"),
        ("linger.ms", datetime.timedelta(seconds=1.5), "1500"),
        ("retention.ms", datetime.timedelta(milliseconds=-1), "-1"),
        ("transactional.id", None, None),
    ],
)
def test_each_kind_has_one_spelling(key, value, expected):
    assert config_setting(key, value) == expected


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("linger.ms", math.nan, "not a finite number"),
        ("linger.ms", math.inf, "not a finite number"),
        ("linger.ms", -math.inf, "not a finite number"),
        ("linger.ms", {"a": 1}, "type dict"),
        ("bootstrap.servers", ["a", "b"], "type list"),
        ("client.id", b"abc", "type bytes"),
        ("linger.ms", 2**70, "int beyond 64 bits"),
        ("acks", datetime.timedelta(seconds=1), "ending in .ms"),
        ("linger.ms", datetime.timedelta(microseconds=1500), "whole number of milliseconds"),
    ],
)
def test_refusals_name_the_key(key, value, message):
    with pytest.raises(odradek.ConfigError) as info:
        config_setting(key, value)
    assert info.value.name == "_INVALID_CONFIG" and not info.value.retriable
    assert key in str(info.value) and message in str(info.value)


def test_clients_take_typed_values():
    # Accepted: what a property parses after coercion (linger.ms is an integer property).
    p = odradek.Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5.0, "enable.idempotence": True,
                          "transactional.id": None, "delivery.timeout.ms": datetime.timedelta(seconds=30)})
    p.close()
    # None leaves the key unset: it used to become the string "None" (a group named "None").
    c = odradek.Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": None})
    with pytest.raises(odradek.KafkaError):
        c.subscribe(["t"])  # no group.id: subscribing needs one
    c.close()
    with pytest.raises(odradek.ConfigError, match="linger.ms"):
        odradek.Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": math.nan})
    with pytest.raises(odradek.ConfigError, match="linger.ms"):
        odradek.Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 0.5})
    with pytest.raises(odradek.ConfigError, match="num.partitions.*dict"):
        odradek.testing.Broker({"num.partitions": {"n": 1}})

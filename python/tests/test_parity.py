"""The API parity manifest (tests/parity/manifest.json): every name it lists for Python exists in
the installed package, so the README's parity table never claims what the binding lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

import pytest

import odradek
import odradek.aio

MANIFEST = json.loads((Path(__file__).resolve().parents[2] / "tests" / "parity" / "manifest.json").read_text())


def resolve(name: str) -> Any:
    owner: Any = odradek
    if name.startswith("aio."):
        owner, name = odradek.aio, name[len("aio."):]
    if "." not in name:  # a module-level function
        return getattr(owner, name)
    cls, member = name.split(".", 1)
    return getattr(getattr(owner, cls), member)


CLAIMED: List[str] = [n for c in MANIFEST["capabilities"] if isinstance(c["python"], list) for n in c["python"]]


@pytest.mark.parametrize("name", CLAIMED)
def test_claimed_name_exists(name: str) -> None:
    assert callable(resolve(name)), f"{name} is not callable"


def test_a_missing_name_fails() -> None:
    with pytest.raises(AttributeError):
        resolve("Consumer.teleport")

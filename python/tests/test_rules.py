"""The small rules (special offsets, error classes, local error codes) are the core's: the Python
layer takes them from the native module, and this fails when a copy drifts from the core or from
the C ABI header that publishes the same numbers to the C-family bindings."""

import re
from pathlib import Path

import odradek
from odradek import _odradek
from odradek.errors import _BY_CLASS

HEADER = Path(__file__).resolve().parents[2] / "bindings" / "c" / "include" / "odradek.h"


def header_defines() -> dict:
    return {m[1]: int(m[2]) for m in re.finditer(r"^#define (ODRADEK_\w+) (-?\d+)$", HEADER.read_text(), re.M)}


def test_special_offsets_are_the_cores():
    defines = header_defines()
    for name in ("BEGINNING", "END", "STORED", "INVALID"):
        value = getattr(odradek, "OFFSET_" + name)
        assert value == getattr(_odradek, "OFFSET_" + name)
        assert value == defines["ODRADEK_OFFSET_" + name], name


def test_local_error_codes_and_classes_are_the_cores():
    defines = header_defines()
    assert _odradek.LOCAL_ERRORS["_TIMED_OUT"] == -185
    for name, code in _odradek.LOCAL_ERRORS.items():
        assert defines["ODRADEK_ERR" + name] == code, name
    assert list(_BY_CLASS) == _odradek.ERROR_CLASSES
    for i, klass in enumerate(_odradek.ERROR_CLASSES):
        assert defines["ODRADEK_CLASS_" + klass.upper()] == i

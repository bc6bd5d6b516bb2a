#!/usr/bin/env python3
"""Checks that the manifests which must state a version literally agree with the one version of
the workspace Cargo.toml (`[workspace.package] version`), so they cannot drift between releases.

    check_source_versions.py [ROOT]

npm's package.json, CMake's project() and the .csproj cannot read Cargo.toml, so they state the
version themselves; the Python package takes it from Cargo through maturin (`dynamic`), and Go
modules take theirs from the release tag. `make lint` runs this; the release stamps the same
version into every artifact (check_versions.py checks those).
"""
from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
    with open(root / "Cargo.toml", "rb") as f:
        version = tomllib.load(f)["workspace"]["package"]["version"]
    stated = {
        "node/package.json": json.loads((root / "node/package.json").read_text())["version"],
        "cpp/CMakeLists.txt": re.search(
            r"project\(odradek VERSION ([^\s)]+)", (root / "cpp/CMakeLists.txt").read_text())[1],
        "dotnet/Odradek.csproj": re.search(
            r"<Version>([^<]+)</Version>", (root / "dotnet/Odradek.csproj").read_text())[1],
    }
    pyproject = tomllib.loads((root / "python/pyproject.toml").read_text())
    if "version" not in pyproject["project"].get("dynamic", []):
        stated["python/pyproject.toml"] = pyproject["project"].get("version", "(none)")
    wrong = {where: v for where, v in stated.items() if v != version}
    for where, v in wrong.items():
        print(f"check_source_versions.py: {where} says {v}, Cargo.toml says {version}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())

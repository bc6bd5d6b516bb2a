#!/usr/bin/env python3
"""Checks that every artifact in dist/ states the one release version, read from inside it.

    check_versions.py DIST VERSION

Reads the wheel's METADATA, the sdist's PKG-INFO, each npm tarball's package.json (and the
versions of the platform packages it depends on), the nuspec, the Go proxy's version list, the
CMake package version file and odradek.pc of the C/C++ tarball, and runs `odradek --version` and
`odradek-broker --version` from the CLI tarball when it was built for this machine.
Exits 1 listing every disagreement.
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path


def main() -> int:
    dist, version = Path(sys.argv[1]), sys.argv[2]
    found: list[tuple[str, str]] = []  # (where, version stated)
    missing: list[str] = []

    def each(pattern: str) -> list[Path]:
        hits = sorted(dist.glob(pattern))
        if not hits:
            missing.append(pattern)
        return hits

    for wheel in each("odradek-*.whl"):
        with zipfile.ZipFile(wheel) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            found.append((f"{wheel.name} METADATA", re.search(r"^Version: (.+)$", z.read(meta).decode(), re.M)[1]))
    for sdist in each("odradek-[0-9]*.tar.gz"):
        with tarfile.open(sdist) as t:
            info = next(m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
            found.append((f"{sdist.name} PKG-INFO", re.search(r"^Version: (.+)$", t.extractfile(info).read().decode(), re.M)[1]))
    for tgz in each("*.tgz"):
        with tarfile.open(tgz) as t:
            pkg = json.load(t.extractfile("package/package.json"))
        found.append((f"{tgz.name} package.json", pkg["version"]))
        for dep, v in pkg.get("optionalDependencies", {}).items():
            found.append((f"{tgz.name} optionalDependencies {dep}", v))
    for nupkg in each("Odradek.*.nupkg"):
        with zipfile.ZipFile(nupkg) as z:
            found.append((f"{nupkg.name} nuspec", re.search(r"<version>(.+?)</version>", z.read("Odradek.nuspec").decode())[1]))
    for listing in each("goproxy/github.com/odradek/odradek/go/@v/list"):
        for v in listing.read_text().split():
            found.append(("Go module proxy list", v.removeprefix("v")))
    for prefix in each("libodradek-*.tar.gz"):
        with tarfile.open(prefix) as t:
            for m in t.getmembers():
                if m.name.endswith("odradekConfigVersion.cmake"):
                    text = t.extractfile(m).read().decode()
                    found.append(("CMake odradekConfigVersion", re.search(r'set\(PACKAGE_VERSION "(.+?)"\)', text)[1]))
                elif m.name.endswith("odradek.pc"):
                    found.append(("odradek.pc", re.search(r"^Version: (.+)$", t.extractfile(m).read().decode(), re.M)[1]))
    for cli in each("odradek-cli-*.tar.gz"):
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(cli) as t:
            t.extractall(tmp, filter="data")
            for binary in sorted(Path(tmp).glob("*/bin/*")):
                try:
                    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
                except OSError:
                    continue  # built for another machine
                found.append((f"{binary.name} --version", out.split()[-1]))

    wrong = [(where, v) for where, v in found if v != version]
    for where, v in wrong:
        print(f"check_versions.py: {where} says {v}, the workspace says {version}", file=sys.stderr)
    for m in missing:
        print(f"check_versions.py: no artifact matches {m}", file=sys.stderr)
    print(f"check_versions.py: {len(found)} version statements, {len(wrong)} disagree", file=sys.stderr)
    return 1 if wrong or missing else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Packs the .NET binding as a NuGet package (Odradek.VERSION.nupkg).

    nupkg.py --version 0.1.0 --assembly Odradek.dll [--doc Odradek.xml] [--config Odradek.dll.config]
             --native linux-x64=PATH/libodradek_ffi.so [--native ...] --notice FILE --out DIR

Layout as NuGet restores it: lib/netstandard2.0/Odradek.dll (+ .xml docs), one
runtimes/<rid>/native/ library per runtime identifier, README.md, LICENSE and the third-party
notice, Odradek.nuspec (licence expression, readme, repository), and the OPC parts NuGet expects
([Content_Types].xml, _rels/.rels). No .NET SDK exists on this machine (no `dotnet pack`, no
nuget.exe on Mono's Debian package), so the zip is written here; the format is a plain zip.
"""
from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[2]
ZIP_TIME = (2020, 1, 1, 0, 0, 0)

NUSPEC = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>Odradek</id>
    <version>{version}</version>
    <authors>The Odradek developers</authors>
    <description>{description}</description>
    <license type="expression">Apache-2.0</license>
    <readme>README.md</readme>
    <projectUrl>{repository}</projectUrl>
    <repository type="git" url="{repository}" />
    <tags>kafka client native</tags>
    <dependencies>
      <group targetFramework=".NETStandard2.0" />
    </dependencies>
  </metadata>
</package>
"""

CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="dll" ContentType="application/octet" />
  <Default Extension="xml" ContentType="application/octet" />
  <Default Extension="config" ContentType="application/octet" />
  <Default Extension="so" ContentType="application/octet" />
  <Default Extension="dylib" ContentType="application/octet" />
  <Default Extension="md" ContentType="application/octet" />
  <Default Extension="txt" ContentType="application/octet" />
  <Override PartName="/LICENSE" ContentType="application/octet" />
</Types>
"""

RELS = """<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/Odradek.nuspec" Id="R0" />
</Relationships>
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", required=True)
    ap.add_argument("--assembly", type=Path, required=True)
    ap.add_argument("--doc", type=Path)
    ap.add_argument("--config", type=Path, help="Mono's Odradek.dll.config (dllmap)")
    ap.add_argument("--native", action="append", required=True, help="RID=path of the native library")
    ap.add_argument("--notice", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    description = ("Kafka client for .NET over the Odradek Rust core (P/Invoke over its C ABI), "
                   "with an embedded test broker.")
    files: dict[str, bytes] = {
        "[Content_Types].xml": CONTENT_TYPES.encode(),
        "_rels/.rels": RELS.encode(),
        "Odradek.nuspec": NUSPEC.format(version=escape(args.version), description=escape(description),
                                        repository="https://github.com/odradek/odradek").encode(),
        "README.md": (ROOT / "dotnet/README.md").read_bytes(),
        "LICENSE": (ROOT / "LICENSE").read_bytes(),
        "THIRD-PARTY-LICENSES.txt": args.notice.read_bytes(),
        "lib/netstandard2.0/Odradek.dll": args.assembly.read_bytes(),
    }
    if args.doc:
        files["lib/netstandard2.0/Odradek.xml"] = args.doc.read_bytes()
    if args.config:
        files["lib/netstandard2.0/Odradek.dll.config"] = args.config.read_bytes()
    for spec in args.native:
        rid, _, path = spec.partition("=")
        files[f"runtimes/{rid}/native/{Path(path).name}"] = Path(path).read_bytes()

    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"Odradek.{args.version}.nupkg"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    print(f"nupkg.py: {out}: {len(files)} parts")


if __name__ == "__main__":
    main()

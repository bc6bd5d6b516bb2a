#!/usr/bin/env python3
"""Adds licence files to a built wheel's .dist-info/licenses/ and its RECORD (PEP 639 layout).

    wheel_licenses.py WHEEL FILE [FILE ...]

maturin takes licence files only from inside python/ (pyproject `license-files`), and the
third-party notice is generated per release, so the release adds LICENSE and the notice to the
finished wheel: the zip is rewritten with the files and their RECORD lines (sha256, size).
"""
from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from pathlib import Path


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: wheel_licenses.py WHEEL FILE [FILE ...]")
    wheel = Path(sys.argv[1])
    extra = [Path(p) for p in sys.argv[2:]]
    with zipfile.ZipFile(wheel) as z:
        items = [(info, z.read(info)) for info in z.infolist()]
    record = next(info.filename for info, _ in items if info.filename.endswith(".dist-info/RECORD"))
    dist_info = record.rsplit("/", 1)[0]
    added = {f"{dist_info}/licenses/{p.name}": p.read_bytes() for p in extra}
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            if info.filename == record:
                continue
            if info.filename in added:
                continue
            out.writestr(info, data)
        lines = [line for line in next(d for i, d in items if i.filename == record).decode().splitlines()
                 if line and line.split(",", 1)[0] not in added]
        for name, data in added.items():
            out.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
            lines.insert(len(lines) - 1, record_line(name, data))
        out.writestr(zipfile.ZipInfo(record, (2020, 1, 1, 0, 0, 0)), "\n".join(lines) + "\n",
                     zipfile.ZIP_DEFLATED)
    tmp.replace(wheel)
    print(f"wheel_licenses.py: {wheel.name}: + {', '.join(added)}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Stages the npm packages of the Node binding in the napi-rs layout, ready for `npm pack`.

    npm_packages.py main --version V --notice FILE --out DIR
        DIR/odradek: index.js, share.js, index.d.ts, README.md, LICENSE, the notice, and a package.json
        whose optionalDependencies name @odradek/<platform> for every target in napi.targets
    npm_packages.py platform --version V --target TRIPLE --addon FILE --notice FILE --out DIR
        DIR/<platform>: the addon and a package.json with os/cpu/libc, so npm installs only the
        package that matches the machine
    npm_packages.py name --target TRIPLE      the napi platform name (linux-x64-gnu, ...)

napi's own `create-npm-dirs` names platform packages `<name>-<platform>` (odradek-linux-x64-gnu);
ours are scoped (@odradek/linux-x64-gnu), which index.js loads, so the manifests are written here.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node"

# Rust target → (napi platform name, os, cpu, libc or None).
PLATFORMS = {
    "x86_64-unknown-linux-gnu": ("linux-x64-gnu", "linux", "x64", "glibc"),
    "aarch64-unknown-linux-gnu": ("linux-arm64-gnu", "linux", "arm64", "glibc"),
    "x86_64-unknown-linux-musl": ("linux-x64-musl", "linux", "x64", "musl"),
    "aarch64-unknown-linux-musl": ("linux-arm64-musl", "linux", "arm64", "musl"),
    "x86_64-apple-darwin": ("darwin-x64", "darwin", "x64", None),
    "aarch64-apple-darwin": ("darwin-arm64", "darwin", "arm64", None),
    "x86_64-pc-windows-msvc": ("win32-x64-msvc", "win32", "x64", None),
    "aarch64-pc-windows-msvc": ("win32-arm64-msvc", "win32", "arm64", None),
}


def source_manifest() -> dict:
    return json.loads((NODE / "package.json").read_text())


def common(src: dict, version: str) -> dict:
    return {
        "version": version,
        "license": src["license"],
        "repository": {"type": "git", "url": "https://github.com/odradek/odradek.git", "directory": "node"},
        "engines": src["engines"],
    }


def write(dest: Path, manifest: dict, files: dict[str, Path]) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name, path in files.items():
        shutil.copyfile(path, dest / name)


def main_package(args: argparse.Namespace) -> None:
    src = source_manifest()
    targets = src["napi"]["targets"]
    unknown = [t for t in targets if t not in PLATFORMS]
    if unknown:
        raise SystemExit(f"npm_packages.py: napi.targets has targets without a platform name: {unknown}")
    manifest = {
        "name": src["name"],
        "description": src["description"],
        **common(src, args.version),
        "main": src["main"],
        "types": src["types"],
        "files": ["index.js", "share.js", "index.d.ts", "THIRD-PARTY-LICENSES.txt"],
        "napi": src["napi"],
        "optionalDependencies": {f"@odradek/{PLATFORMS[t][0]}": args.version for t in targets},
    }
    write(args.out / "odradek", manifest, {
        "index.js": NODE / "index.js",
        "share.js": NODE / "share.js",
        "index.d.ts": NODE / "index.d.ts",
        "README.md": NODE / "README.md",
        "LICENSE": ROOT / "LICENSE",
        "THIRD-PARTY-LICENSES.txt": args.notice,
    })


def platform_package(args: argparse.Namespace) -> None:
    src = source_manifest()
    name, os_, cpu, libc = PLATFORMS[args.target]
    addon = f"odradek.{name}.node"
    manifest = {
        "name": f"@odradek/{name}",
        "description": f"The native addon of the odradek npm package for {name} (installed by odradek)",
        **common(src, args.version),
        "main": addon,
        "files": [addon, "THIRD-PARTY-LICENSES.txt"],
        "os": [os_],
        "cpu": [cpu],
    }
    if libc:
        manifest["libc"] = [libc]
    write(args.out / name, manifest, {
        addon: args.addon,
        "README.md": NODE / "README.md",
        "LICENSE": ROOT / "LICENSE",
        "THIRD-PARTY-LICENSES.txt": args.notice,
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd in ("main", "platform"):
        p = sub.add_parser(cmd)
        p.add_argument("--version", required=True)
        p.add_argument("--notice", type=Path, required=True)
        p.add_argument("--out", type=Path, required=True)
        if cmd == "platform":
            p.add_argument("--target", required=True, choices=sorted(PLATFORMS))
            p.add_argument("--addon", type=Path, required=True)
    p = sub.add_parser("name", help="print the napi platform name of a Rust target")
    p.add_argument("--target", required=True, choices=sorted(PLATFORMS))
    args = ap.parse_args()
    if args.cmd == "name":
        print(PLATFORMS[args.target][0])
        return
    (main_package if args.cmd == "main" else platform_package)(args)


if __name__ == "__main__":
    main()

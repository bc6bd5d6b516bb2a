#!/usr/bin/env python3
"""Third-party licence notice for one release artifact, and the licence allow-list check.

Offline: the Rust dependency graph comes from `cargo metadata --offline --locked` (the licence
expression of each crate, its licence files from the crate's source in cargo's registry cache),
Go modules from `go list -m -json all` in a module directory, npm packages from the
`dependencies` of a package.json and their installed package.json files.

    licenses.py --crate odradek-ffi [--crate ...] [--go-module DIR] [--npm-package DIR] --out FILE
    licenses.py --check            every crate of the workspace graph against the allow-list

Exits 1 naming each package whose licence expression cannot be satisfied by the allow-list.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("ODRADEK_RELEASE_TARGET", "x86_64-unknown-linux-gnu")

# Licences whose terms allow shipping in binary packages with a notice: permissive ones, and
# MPL-2.0 (file-level copyleft, satisfied by pointing at the unmodified source).
ALLOWED = {
    "0BSD", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause", "BSD-3-Clause",
    "BSL-1.0", "CC0-1.0", "ISC", "MIT", "MIT-0", "MPL-2.0", "Unicode-3.0", "Unicode-DFS-2016",
    "Unlicense", "Zlib",
}
LICENSE_FILE = re.compile(r"^(LICEN[SC]E|COPYING|NOTICE|UNLICENSE|COPYRIGHT)", re.IGNORECASE)


def satisfiable(expr: str) -> bool:
    """True when the SPDX expression can be met with allowed licences (OR: one side, AND: both)."""
    tokens = re.findall(r"\(|\)|[A-Za-z0-9.+-]+", expr.replace("/", " OR "))
    pos = 0

    def atom() -> bool:
        nonlocal pos
        if pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            ok = disjunction()
            pos += 1  # ")"
            return ok
        name = tokens[pos]
        pos += 1
        if pos < len(tokens) and tokens[pos] == "WITH":
            name = f"{name} WITH {tokens[pos + 1]}"
            pos += 2
        return name in ALLOWED

    def conjunction() -> bool:
        nonlocal pos
        ok = atom()
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1
            ok = atom() and ok
        return ok

    def disjunction() -> bool:
        nonlocal pos
        ok = conjunction()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            ok = conjunction() or ok
        return ok

    return bool(tokens) and disjunction()


def cargo_metadata() -> dict:
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--offline", "--locked",
         "--filter-platform", TARGET],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def crate_closure(meta: dict, roots: list[str]) -> list[dict]:
    """Packages reachable from the roots through normal (shipped) dependencies, roots excluded."""
    by_id = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    members = set(meta["workspace_members"])
    start = []
    for name in roots:
        ids = [i for i in members if by_id[i]["name"] == name]
        if not ids:
            sys.exit(f"licenses.py: no workspace crate named {name}")
        start += ids
    seen, todo = set(start), list(start)
    while todo:
        for dep in nodes[todo.pop()]["deps"]:
            if any(k["kind"] is None for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    return sorted((by_id[i] for i in seen if i not in members),
                  key=lambda p: (p["name"], p["version"]))


def licence_texts(directory: Path) -> list[tuple[str, str]]:
    if not directory.is_dir():
        return []
    texts = []
    for f in sorted(directory.iterdir()):
        if f.is_file() and LICENSE_FILE.match(f.name):
            texts.append((f.name, f.read_text(errors="replace")))
    return texts


def go_modules(module_dir: Path) -> list[dict]:
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local")
    out = subprocess.run(["go", "list", "-m", "-json", "all"], cwd=module_dir, env=env,
                         check=True, capture_output=True, text=True).stdout
    mods = json.loads("[" + re.sub(r"}\s*{", "},{", out.strip()) + "]") if out.strip() else []
    # Our own modules (the binding, when a test module replaces it with a path) are Odradek's.
    return [m for m in mods if not m.get("Main") and not m["Path"].startswith("github.com/odradek/")]


def npm_dependencies(package_dir: Path) -> list[dict]:
    manifest = json.loads((package_dir / "package.json").read_text())
    found = []
    for name in sorted(manifest.get("dependencies", {})):
        installed = package_dir / "node_modules" / name / "package.json"
        if not installed.is_file():
            sys.exit(f"licenses.py: npm dependency {name} of {package_dir} is not installed")
        found.append(json.loads(installed.read_text()) | {"_dir": str(installed.parent)})
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crate", action="append", default=[], help="a workspace crate the artifact ships")
    ap.add_argument("--go-module", type=Path, help="a Go module directory whose dependencies ship")
    ap.add_argument("--npm-package", type=Path, help="an npm package directory whose dependencies ship")
    ap.add_argument("--out", type=Path, help="where to write the notice")
    ap.add_argument("--check", action="store_true", help="check the whole workspace graph only")
    args = ap.parse_args()

    meta = cargo_metadata()
    if args.check:
        roots = [p["name"] for p in meta["packages"] if p["id"] in set(meta["workspace_members"])]
    else:
        roots = args.crate
    entries = []  # (ecosystem, name, version, licence expression, source, texts)
    for p in crate_closure(meta, roots) if roots else []:
        entries.append(("crate", p["name"], p["version"], p.get("license") or "",
                        p.get("repository") or "", licence_texts(Path(p["manifest_path"]).parent)))
    if args.go_module:
        for m in go_modules(args.go_module):
            texts = licence_texts(Path(m.get("Dir", "")))
            expr = "" if not texts else "see text"
            entries.append(("go", m["Path"], m.get("Version", ""), expr, m["Path"], texts))
    if args.npm_package:
        for p in npm_dependencies(args.npm_package):
            entries.append(("npm", p["name"], p.get("version", ""), p.get("license", ""),
                            p.get("repository", ""), licence_texts(Path(p["_dir"]))))

    refused = [e for e in entries if not (e[3] == "see text" or satisfiable(e[3]))]
    for eco, name, version, expr, _, _ in refused:
        print(f"licenses.py: {eco} {name} {version}: licence {expr or '(none declared)'} "
              f"is not on the allow-list (scripts/release/licenses.py ALLOWED)", file=sys.stderr)
    if args.check:
        print(f"licenses.py: {len(entries)} crates checked, {len(refused)} refused", file=sys.stderr)
        return 1 if refused else 0
    if refused:
        return 1
    if not args.out:
        ap.error("--out is required unless --check")
    lines = [
        "Third-party software in this Odradek artifact",
        "=" * 46,
        "",
        "Odradek itself is licensed under Apache-2.0 (LICENSE). It contains the following",
        "third-party packages, listed with their licence expressions and licence texts.",
        f"Generated by scripts/release/licenses.py for: {', '.join(roots) or '-'}"
        + (f"; Go module {args.go_module.name}" if args.go_module else "")
        + (f"; npm package {args.npm_package.name}" if args.npm_package else ""),
        "",
    ]
    if args.go_module and not any(e[0] == "go" for e in entries):
        lines += ["Go modules: none (the module depends only on the Go standard library).", ""]
    if args.npm_package and not any(e[0] == "npm" for e in entries):
        lines += ["npm packages: none (the package has no runtime dependencies).", ""]
    for eco, name, version, expr, source, texts in entries:
        lines += ["-" * 78, f"{name} {version} ({eco}) — {expr}", f"source: {source}" if source else ""]
        for fname, text in texts:
            lines += ["", f"--- {fname} ---", text.rstrip()]
        if not texts:
            lines += ["(the package ships no licence file; its terms are those of the SPDX "
                      f"licence {expr})"]
        lines.append("")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"licenses.py: {args.out}: {len(entries)} packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

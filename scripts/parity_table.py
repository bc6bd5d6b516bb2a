#!/usr/bin/env python3
"""Writes README.md's API parity table from tests/parity/manifest.json (between the
<!-- parity-table --> markers). --check: fail when the README table is not the generated one."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "parity" / "manifest.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- parity-table begin (scripts/parity_table.py) -->", "<!-- parity-table end -->"
TITLES = {"rust": "Rust", "python": "Python", "node": "Node", "go": "Go", "dotnet": ".NET", "cpp": "C++"}


def table(manifest: dict) -> str:
    langs = manifest["languages"]
    reasons: list = []

    def cell(entry) -> str:
        if isinstance(entry, list):
            return "yes"
        text = entry.get("missing") or entry.get("by")
        if text not in reasons:
            reasons.append(text)
        mark = f"({reasons.index(text) + 1})"
        return f"yes {mark}" if "by" in entry else f"no {mark}"

    rows = ["| capability | " + " | ".join(TITLES[l] for l in langs) + " |",
            "|---|" + "---|" * len(langs)]
    for c in manifest["capabilities"]:
        rows.append(f"| {c['what']} (`{c['name']}`) | " + " | ".join(cell(c[l]) for l in langs) + " |")
    notes = [f"({i + 1}) {r}" for i, r in enumerate(reasons)]
    return "\n".join(rows) + "\n\n" + "; ".join(notes) + "."


def main() -> int:
    manifest = json.loads(MANIFEST.read_text())
    text = README.read_text()
    if BEGIN not in text or END not in text:
        print(f"parity_table.py: README.md lacks the markers {BEGIN} / {END}", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + table(manifest) + "\n" + END + tail
    if "--check" in sys.argv[1:]:
        if new != text:
            print("parity_table.py: README.md's parity table is stale; run scripts/parity_table.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())

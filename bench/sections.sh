#!/usr/bin/env bash
# Prints the bench/run.py sections this checkout can run: "clients", plus "brokers", "bindings",
# "transactions", "replication" (full mode only: run.py skips it in quick mode) and "sessions" once the odradek-broker package has its binary (checked in this checkout's
# manifest, not in the shared target dir, which may hold another branch's build). Used by scripts/bench.sh and scripts/test.d/90-bench-quick.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if cargo metadata --no-deps --format-version 1 2>/dev/null | python3 -c '
import json, sys
pkgs = json.load(sys.stdin)["packages"]
sys.exit(0 if any(t["name"] == "odradek-broker" and "bin" in t["kind"]
                  for p in pkgs if p["name"] == "odradek-broker" for t in p["targets"]) else 1)'
then
    echo "clients,brokers,bindings,transactions,replication,sessions"
else
    echo "odradek-broker has no binary in this checkout yet: broker comparison not run" >&2
    echo "clients"
fi

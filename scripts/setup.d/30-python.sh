#!/usr/bin/env bash
# The test venv: pytest and the Python peers (confluent-kafka bundles librdkafka 2.16).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$ODRADEK_CACHE/venv"
stamp="$venv/.complete-$(sha256sum "$root/tests/requirements.txt" | cut -c1-16)"
[ -e "$stamp" ] && exit 0
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$root/tests/requirements.txt"
touch "$stamp"

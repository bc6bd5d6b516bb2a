#!/usr/bin/env bash
# Builds the Python wheel the way it ships: abi3 (cp39-abi3), stripped, linked with zig against
# glibc 2.17 so it carries the manylinux2014 tag (auditwheel confirms it). Shared by the release
# (scripts/release/build.sh) and the Python suite (scripts/test.d/35-python.sh), so the suite
# tests the very wheel the release ships and cargo builds it once.
#   python-wheel.sh OUTDIR [debug]     (debug: unoptimised, for quick iterations of the suite)
# Needs maturin (setup.d/35-python-binding.sh) and ziglang (setup.d/37-release.sh) in the venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:?usage: python-wheel.sh OUTDIR [debug]}"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
venv="$ODRADEK_CACHE/venv"
[ -x "$venv/bin/maturin" ] || { echo "python-wheel.sh: no maturin in $venv; run scripts/setup.sh" >&2; exit 1; }
"$venv/bin/python" -c 'import ziglang' 2>/dev/null \
    || { echo "python-wheel.sh: no ziglang in $venv; run scripts/setup.d/37-release.sh" >&2; exit 1; }
# A target dir of its own: the zig-linked build shares no artifacts with the host builds (it
# names the target explicitly), and so it neither waits for their lock nor rebuilds C code when
# they run with another CC.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}-wheel"
# maturin finds zig through the `python -m ziglang` of the interpreter on PATH.
export PATH="$venv/bin:$PATH"
flags=(--release --strip)
[ "${2:-}" = debug ] && flags=()
target="${ODRADEK_RELEASE_TARGET:-x86_64-unknown-linux-gnu}"
case "$target" in
*-linux-gnu) flags+=(--zig --compatibility manylinux2014) ;;
*-linux-musl) flags+=(--zig --compatibility musllinux_1_2) ;;
esac
echo "+ maturin build ${flags[*]} --target $target (python/)" >&2
(cd "$root/python" && maturin build "${flags[@]}" --locked --target "$target" -i python3 --out "$out")

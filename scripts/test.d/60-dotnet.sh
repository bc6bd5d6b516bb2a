#!/usr/bin/env bash
# The .NET binding: builds the C ABI (crate odradek-ffi, release), compiles the C# library, its
# NUnit tests (unit, embedded broker, conformance scenarios, cross-language) and the examples
# with Mono's `mcs` (C# 7.2), then runs the tests with `nunit-console` on Mono.
# Needs scripts/setup.d/60-dotnet.sh (mono-complete, nunit-console, libnunit-cil-dev).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
for tool in mcs mono nunit-console; do
    command -v "$tool" >/dev/null || { echo "60-dotnet.sh: $tool not found; run scripts/setup.d/60-dotnet.sh" >&2; exit 1; }
done
run() { echo "+ $*" >&2; "$@"; }

# The native library, and the odradek CLI (broker and Rust reader of the cross-language test),
# in one build so that they share one feature set.
run "$root/scripts/build-release.sh"
native="$CARGO_TARGET_DIR/release/libodradek_ffi.so"
[ -f "$native" ] || { echo "60-dotnet.sh: $native was not built" >&2; exit 1; }

out="$CARGO_TARGET_DIR/dotnet"
rm -rf "$out"
mkdir -p "$out"
cp "$native" "$out/"
# NUnit's framework assembly: pkg-config when Debian's .pc file is there, else the known path.
if pkg-config --exists nunit 2>/dev/null; then
    nunit_ref=(-pkg:nunit)
else
    nunit_ref=(-r:"$(ls /usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll | head -n1)")
fi
mcs_flags=(-langversion:7.2 -warnaserror+ -nowarn:1591 -debug -optimize+)
run mcs "${mcs_flags[@]}" -target:library -unsafe -r:System.Runtime.Serialization -out:"$out/Odradek.dll" -doc:"$out/Odradek.xml" \
    -recurse:"$root/dotnet/src/*.cs"
run mcs "${mcs_flags[@]}" -target:library -out:"$out/Odradek.Tests.dll" -r:"$out/Odradek.dll" \
    "${nunit_ref[@]}" -recurse:"$root/dotnet/tests/*.cs"
for ex in "$root"/examples/dotnet/*.cs; do
    [ -e "$ex" ] || continue
    run mcs "${mcs_flags[@]}" -target:exe -out:"$out/$(basename "$ex" .cs).exe" -r:"$out/Odradek.dll" "$ex"
done
# The cross-language peer (tests/crosslang/): XLang.exe produce|consume.
run mcs "${mcs_flags[@]}" -target:exe -out:"$out/XLang.exe" -r:"$out/Odradek.dll" \
    "$root/dotnet/xlang/XLang.cs" "$root/dotnet/tests/Json.cs"
# The example in dotnet/README.md (its first csharp block) must compile and run too (ExampleTests).
awk '/^```csharp$/ {on = 1; next} /^```$/ && on {exit} on' "$root/dotnet/README.md" > "$out/ReadmeExample.cs"
run mcs "${mcs_flags[@]}" -target:exe -out:"$out/ReadmeExample.exe" -r:"$out/Odradek.dll" "$out/ReadmeExample.cs"

export LD_LIBRARY_PATH="$out${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export ODRADEK_REPO_ROOT="$root"
export ODRADEK_DOTNET_OUT="$out"
cd "$out"
status=0
# -domain:None: Mono 6.8 cannot unload an AppDomain that a library thread has called into
# (mono/mono#20466); the tests run in the main domain instead.
run nunit-console -nologo -labels -noshadow -domain:None -xml="$out/TestResult.xml" "$out/Odradek.Tests.dll" || status=$?
# Cross-language byte identity (tests/crosslang/): records written by one binding are read back
# byte for byte by the others; the Rust reader is the odradek CLI.
command -v go >/dev/null || { echo "60-dotnet.sh: go not found (Go >= 1.26 builds the Go peer)" >&2; exit 1; }
echo "+ go build tests/crosslang/go (the Go peer, on go/)" >&2
(cd "$root/tests/crosslang/go" && GOMODCACHE="$ODRADEK_CACHE/go/mod" GOCACHE="$ODRADEK_CACHE/go/build" \
    GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=1 \
    CGO_LDFLAGS="-L$CARGO_TARGET_DIR/release" go build -o "$out/xlang-go" .)
# The Python peer runs on the wheel scripts/test.d/35-python.sh built (it runs first in make test).
wheel="$(ls "$ODRADEK_CACHE"/python-dist/odradek-*.whl 2>/dev/null | head -1 || true)"
[ -n "$wheel" ] || { echo "60-dotnet.sh: no Python wheel in $ODRADEK_CACHE/python-dist (35-python.sh builds it)" >&2; exit 1; }
rm -rf "$out/pyvenv"
python3 -m venv "$out/pyvenv"
"$out/pyvenv/bin/pip" install -q --disable-pip-version-check --no-index "$wheel"
run python3 "$root/tests/crosslang/crosslang.py" --odradek "$CARGO_TARGET_DIR/release/odradek" \
    --peer "dotnet=mono $out/XLang.exe" --peer "go=$out/xlang-go" \
    --peer "python=$out/pyvenv/bin/python $root/tests/crosslang/python_peer.py" \
    --pair go:dotnet,go,rust,python --pair dotnet:go,dotnet,rust,python \
    --pair python:go,dotnet,rust || status=1
# nunit-console's exit code counts failures and errors; a test that did not run is a failure too
# (no silent skips).
summary="$(grep -m1 '<test-results ' "$out/TestResult.xml" || true)"
echo "60-dotnet.sh: ${summary}" >&2
if ! echo "$summary" | grep -q ' not-run="0"'; then
    echo "60-dotnet.sh: some tests did not run" >&2
    status=1
fi
if echo "$summary" | grep -q ' total="0"'; then
    echo "60-dotnet.sh: no tests ran" >&2
    status=1
fi
exit $status

#!/usr/bin/env bash
# The release packages, installed the way users install them: `scripts/release/build.sh` builds
# dist/ (mostly packing what the earlier suites built), then each artifact goes into a fresh
# temporary directory, with cargo and rustc off PATH and no variable or path into this checkout,
# and that language's quickstart runs against the embedded broker the package ships:
#   Python  venv + pip install of the wheel (and odradek[pandas] from a local wheelhouse);
#           auditwheel names manylinux + abi3; the examples also run against Apache Kafka 4.3.1
#   Node    npm install --offline of the two tarballs; quickstart; tsc type-checks a TS file
#   Go      go get through GOPROXY=file://dist/goproxy, CGO_ENABLED=1; go run of examples/go
#   .NET    the nupkg unpacked as NuGet restores it; examples compiled with mcs, run on Mono
#   C/C++   examples/cpp with CMAKE_PREFIX_PATH at the extracted prefix; the C example of
#           bindings/c/README.md built with pkg-config --cflags --libs odradek
#   CLI     odradek broker + the README quickstart
# Each step checks the version the package reports against the workspace's.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
version="$("$root/scripts/release/version.sh")"
host_target=x86_64-unknown-linux-gnu

work="$(mktemp -d /tmp/odradek-packages.XXXXXX)"
kafka_dir="$work/kafka"
# The CLI's broker runs as the child of `user`'s background subshell ($!): stop both.
stop_broker() {
    [ -n "${broker_pid:-}" ] || return 0
    pkill -P "$broker_pid" 2>/dev/null || true
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
}
cleanup() {
    "$root/scripts/apache-kafka.sh" stop "$kafka_dir" >/dev/null 2>&1 || true
    stop_broker
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "70-packages.sh: $*" >&2; exit 1; }
step() { echo "=== 70-packages.sh: $*" >&2; }

step "scripts/release/build.sh (dist in $work/dist)"
ODRADEK_DIST="$work/dist" "$root/scripts/release/build.sh" "$host_target"
dist="$work/dist"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS) || fail "dist/SHA256SUMS does not match the artifacts"

# Apache Kafka starts now and is ready by the time the Python step needs it.
"$root/scripts/apache-kafka.sh" start "$kafka_dir" > "$work/kafka.bootstrap" &
kafka_starter=$!

# What users have: the system tools, no Rust toolchain, nothing from this checkout.
clean_path=""
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
    [ -n "$d" ] && [ -d "$d" ] || continue
    [ -e "$d/cargo" ] || [ -e "$d/rustc" ] && continue
    case "$d" in "$root"*|"$ODRADEK_CACHE"*) continue ;; esac
    clean_path="${clean_path:+$clean_path:}$d"
done
user() { # user DIR CMD...: runs CMD in DIR as a fresh user would (empty env but PATH/HOME)
    local dir="$1"; shift
    mkdir -p "$dir" "$work/home"
    # exec: the command replaces the subshell, so a background `user ... &` has it as the direct
    # child of $! (stop_broker relies on that).
    (cd "$dir" && exec env -i PATH="$clean_path" HOME="$work/home" LANG=C.UTF-8 TMPDIR="$work" "$@")
}
user "$work" sh -c '! command -v cargo && ! command -v rustc' >/dev/null \
    || fail "cargo or rustc is still on the clean PATH"
# The user's copies of the examples (a user copies them from the docs; no path into the checkout).
cp -r "$root/examples" "$work/examples"

# ---- Python
step "Python: pip install of the wheel into a fresh venv"
wheel="$(ls "$dist"/odradek-"$version"-cp39-abi3-*.whl)" || fail "no cp39-abi3 wheel in dist"
case "$(basename "$wheel")" in *manylinux*) ;; *) fail "the wheel has no manylinux tag: $(basename "$wheel")" ;; esac
audit="$("$ODRADEK_CACHE/venv/bin/auditwheel" show "$wheel")"
echo "$audit"
grep -q 'consistent with the following platform tag' <<<"$audit" && grep -q 'manylinux_2_17_x86_64' <<<"$audit" \
    || fail "auditwheel does not confirm manylinux_2_17_x86_64"
unzip_wheel_file() { python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.read(next(n for n in z.namelist() if n.endswith(sys.argv[2]))).decode())' "$wheel" "$1"; }
wheel_tags="$(unzip_wheel_file .dist-info/WHEEL)"
grep -qx "Tag: cp39-abi3-manylinux_2_17_x86_64" <<<"$wheel_tags" \
    || fail "the wheel's WHEEL file does not name the tag cp39-abi3-manylinux_2_17_x86_64"
python3 - "$wheel" <<'PY' || fail "the wheel lacks a part users need"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["odradek/testing.py", "odradek/py.typed", "odradek/_odradek.pyi", "odradek/aio.py"]
missing = [n for n in need if n not in names]
missing += [n for n in ("licenses/LICENSE", "licenses/THIRD-PARTY-LICENSES.txt")
            if not any(x.endswith(".dist-info/" + n) for x in names)]
if missing:
    sys.exit(f"missing from the wheel: {missing}")
PY
# The interpreter itself (python3 on PATH may be a pyenv shim, which needs the user's pyenv set-up).
py="$(python3 -c 'import sys; print(sys.executable)')"
user "$work/py" "$py" -m venv venv
user "$work/py" venv/bin/pip install -q --disable-pip-version-check --no-index \
    --find-links "$dist" --find-links "$ODRADEK_CACHE/python-wheels" "odradek[pandas]==$version"
got="$(user "$work/py" venv/bin/python -c 'import odradek, pandas; print(odradek.__version__); print(odradek.__file__)')"
[ "$(head -1 <<<"$got")" = "$version" ] || fail "odradek.__version__ is $(head -1 <<<"$got"), want $version"
case "$(tail -1 <<<"$got")" in "$work/py/venv/"*) ;; *) fail "odradek imported from $(tail -1 <<<"$got")" ;; esac
cp "$root/tests/packages/python_examples.py" "$work/py/"
user "$work/py" venv/bin/python python_examples.py "$work/examples/python"
wait "$kafka_starter" || fail "Apache Kafka 4.3.1 did not start (see the log above)"
kafka="$(cat "$work/kafka.bootstrap")"
step "Python: the examples against Apache Kafka 4.3.1 at $kafka"
user "$work/py" venv/bin/python python_examples.py "$work/examples/python" "$kafka" kafka
"$root/scripts/apache-kafka.sh" stop "$kafka_dir"

# ---- CLI and broker
step "CLI: the tarball's odradek broker + the README quickstart"
mkdir -p "$work/cli"
tar -C "$work/cli" -xzf "$dist/odradek-cli-$version-$host_target.tar.gz"
bin="$work/cli/odradek-cli-$version-$host_target/bin"
for b in odradek odradek-broker; do
    [ "$(user "$work/cli" "$bin/$b" --version)" = "$b $version" ] \
        || fail "$b --version says $(user "$work/cli" "$bin/$b" --version)"
done
# The README's block, with the broker on a free port instead of 9092 (a test must not take it).
awk '/^## Quickstart/ {on = 1} on && /^```sh$/ {getline; while ($0 != "```") {print; getline}; exit}' \
    "$root/README.md" > "$work/cli/readme-quickstart.sh"
grep -q '^odradek broker &' "$work/cli/readme-quickstart.sh" || fail "README quickstart has no 'odradek broker &' line"
user "$work/cli" "$bin/odradek" broker --listen 127.0.0.1:0 --data-dir "$work/cli/data" > "$work/cli/broker.out" 2> "$work/cli/broker.log" &
broker_pid=$!
for _ in $(seq 1 100); do [ -s "$work/cli/broker.out" ] && break; sleep 0.1; done
cli_bootstrap="$(head -1 "$work/cli/broker.out")"
[ -n "$cli_bootstrap" ] || fail "odradek broker printed no address; log: $(cat "$work/cli/broker.log")"
{
    echo 'set -euo pipefail'
    echo "odradek() { \"$bin/odradek\" \"\$@\" -b $cli_bootstrap; }"
    grep -v -e '^cargo ' -e '^alias ' -e '^odradek broker' "$work/cli/readme-quickstart.sh"
} > "$work/cli/run.sh"
out="$(user "$work/cli" bash run.sh)"
echo "$out"
grep -q '"value":"hello"' <<<"$out" && grep -q '"value":"again"' <<<"$out" \
    || fail "the README quickstart did not read back its records"
stop_broker

# ---- C / C++
step "C/C++: examples/cpp with find_package, and a C program with pkg-config"
mkdir -p "$work/cpp"
tar -C "$work/cpp" -xzf "$dist/libodradek-$version-$host_target.tar.gz"
prefix="$work/cpp/libodradek-$version-$host_target"
user "$work/cpp" cmake -S "$work/examples/cpp" -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" > "$work/cpp/cmake.log" || { cat "$work/cpp/cmake.log"; fail "cmake configure of examples/cpp"; }
user "$work/cpp" cmake --build build > "$work/cpp/build.log" || { cat "$work/cpp/build.log"; fail "cmake build of examples/cpp"; }
out="$(user "$work/cpp" build/quickstart)"
grep -qx "read 10 records" <<<"$out" || fail "examples/cpp/quickstart did not read its 10 records: $out"
awk '/^```c$/ {on = 1; next} /^```$/ && on {exit} on' "$root/bindings/c/README.md" > "$work/cpp/app.c"
pc="$(user "$work/cpp" env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs odradek)"
[ "$(user "$work/cpp" env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion odradek)" = "$version" ] \
    || fail "odradek.pc does not state version $version"
# shellcheck disable=SC2086 # pkg-config's output is a list of flags
user "$work/cpp" cc -std=c11 -Wall -o app app.c $pc
out="$(user "$work/cpp" env LD_LIBRARY_PATH="$prefix/lib" ./app)"
echo "$out"
grep -qx "hello" <<<"$out" || fail "the C example (bindings/c/README.md) did not read back 'hello'"

# ---- Node
step "Node: npm install --offline of the two tarballs, quickstart, tsc"
mkdir -p "$work/node"
echo '{"name": "quickstart", "version": "1.0.0", "private": true}' > "$work/node/package.json"
user "$work/node" npm install --offline --no-audit --no-fund --loglevel=error \
    --cache "$work/npm-cache" "$dist/odradek-$version.tgz" "$dist/odradek-linux-x64-gnu-$version.tgz"
[ "$(user "$work/node" node -p "require('odradek').version")" = "$version" ] || fail "require('odradek').version is not $version"
sed "s#require('../../node')#require('odradek')#" "$work/examples/node/quickstart.js" > "$work/node/quickstart.js"
grep -q "require('odradek')" "$work/node/quickstart.js" || fail "examples/node/quickstart.js no longer requires ../../node"
out="$(user "$work/node" node quickstart.js)"
echo "$out"
[ "$(grep -c '^group member got' <<<"$out")" = 3 ] || fail "the Node quickstart's group member did not get its 3 records"
cat > "$work/node/check.ts" <<'TS'
import { Producer, Consumer, Admin, KafkaError, testing, Message, DeliveryReport } from 'odradek'

async function main(): Promise<void> {
  const broker = await testing.Broker.start({ 'num.partitions': 1 })
  const admin = new Admin({ 'bootstrap.servers': broker.bootstrapServers })
  await admin.createTopics([{ topic: 't', numPartitions: 1 }])
  const p = new Producer({ 'bootstrap.servers': broker.bootstrapServers })
  const r: DeliveryReport = await p.send({ topic: 't', key: 'k', value: Buffer.from('v') })
  const c = new Consumer({ 'bootstrap.servers': broker.bootstrapServers })
  await c.assign([{ topic: 't', partition: 0, offset: 'earliest' }])
  const m: Message | null = await c.poll(1000)
  console.log(r.offset, m?.value, KafkaError.name)
  await Promise.all([p.close(), c.close(), admin.close(), broker.stop()])
}
main()
TS
tsc_dir="$ODRADEK_CACHE/node-binding/node_modules"
user "$work/node" "$tsc_dir/.bin/tsc" --noEmit --strict --target es2022 --module commonjs \
    --moduleResolution node --typeRoots "$tsc_dir/@types" --types node check.ts \
    || fail "check.ts does not type-check against the installed odradek types"

# ---- Go
step "Go: go get through the file:// module proxy, go run examples/go"
mkdir -p "$work/go"
cp "$work/examples/go/main.go" "$work/go/"
gouser() { user "$work/go" env GOPROXY="file://$dist/goproxy" GOSUMDB=off GOFLAGS=-mod=mod \
    GOMODCACHE="$work/gomod" GOCACHE="$ODRADEK_CACHE/go/build" GOTOOLCHAIN=local CGO_ENABLED=1 "$@"; }
gouser go mod init example.com/quickstart
gouser go get "github.com/odradek/odradek/go@v$version"
grep -q "github.com/odradek/odradek/go v$version" "$work/go/go.mod" || fail "go.mod does not require v$version"
out="$(gouser go run .)"
echo "$out"
grep -q "read 10 records" <<<"$out" || fail "examples/go did not read its 10 records"
modules="$(gouser go list -m all)"
if grep -q franz-go <<<"$modules"; then fail "the user-facing Go module still pulls franz-go"; fi

# ---- .NET
step ".NET: the nupkg as NuGet restores it, examples on Mono"
nupkg="$dist/Odradek.$version.nupkg"
pkg="$work/nuget/packages/odradek/$version"     # NuGet's global-packages layout (id/version, lower case)
mkdir -p "$pkg"
(cd "$pkg" && python3 -m zipfile -e "$nupkg" . && cp "$nupkg" "odradek.$version.nupkg")
[ -f "$pkg/lib/netstandard2.0/Odradek.dll" ] && [ -f "$pkg/runtimes/linux-x64/native/libodradek_ffi.so" ] \
    || fail "the nupkg lacks lib/netstandard2.0/Odradek.dll or runtimes/linux-x64/native/libodradek_ffi.so"
grep -q '<license type="expression">Apache-2.0</license>' "$pkg/Odradek.nuspec" || fail "the nuspec has no licence"
grep -q '<readme>README.md</readme>' "$pkg/Odradek.nuspec" && [ -f "$pkg/README.md" ] || fail "the nuspec has no readme"
mkdir -p "$work/dotnet"
for ex in Quickstart ProducerExample ConsumerExample; do
    user "$work/dotnet" mcs -langversion:7.2 -nologo -out:"$ex.exe" -r:"$pkg/lib/netstandard2.0/Odradek.dll" \
        "$work/examples/dotnet/$ex.cs"
done
# The application references the assembly where the package put it; the assembly finds its native
# library under the package's runtimes/ folder by itself (no LD_LIBRARY_PATH).
out="$(user "$work/dotnet" env MONO_PATH="$pkg/lib/netstandard2.0" mono Quickstart.exe)"
echo "$out"
[ "$(grep -cE '^(alice: hello|bob: hi|alice: again) ' <<<"$out")" = 3 ] \
    || fail "the .NET quickstart did not read back its 3 records"

step "all packages installed and ran (odradek $version)"

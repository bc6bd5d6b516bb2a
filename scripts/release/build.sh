#!/usr/bin/env bash
# `make release`: builds every package users install without a Rust toolchain into dist/, all with
# the one version of the workspace Cargo.toml (scripts/release/version.sh), from stripped release
# builds, with a third-party licence notice in each, and writes dist/SHA256SUMS.
#
#   scripts/release/build.sh [TARGET]     TARGET: a Rust target triple (default: this machine's)
#
#   odradek-VERSION-cp39-abi3-manylinux_2_17_*.whl, odradek-VERSION.tar.gz   Python wheel + sdist
#   odradek-VERSION.tgz, odradek-PLATFORM-VERSION.tgz                          npm (napi-rs layout)
#   goproxy/github.com/odradek/odradek/go/@v/*                                 Go module proxy files
#   Odradek.VERSION.nupkg                                                      NuGet
#   libodradek-VERSION-TARGET.tar.gz                 C/C++ prefix: headers, libs, odradek.pc, CMake
#   odradek-cli-VERSION-TARGET.tar.gz                odradek + odradek-broker
#
# Reuses what the test suites build (cargo's release profile in $CARGO_TARGET_DIR, the wheel of
# scripts/release/python-wheel.sh, the Node addon of scripts/build-release.sh), so after `make test` it
# mostly packs. Only x86_64-unknown-linux-gnu is built and tested on this machine; the other
# targets run this script in the CI matrix (.github/workflows/release.yml, RELEASING.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/scripts/release"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export GOMODCACHE="${GOMODCACHE:-$ODRADEK_CACHE/go/mod}" GOCACHE="${GOCACHE:-$ODRADEK_CACHE/go/build}" GOTOOLCHAIN=local

run() { echo "+ $*" >&2; "$@"; }
# A Rust static library carries each crate's LLVM bitcode (.llvmbc, for LTO by rustc) besides its
# machine code; C, C++ and Go linkers never read it, and it is two thirds of the file.
strip_static() { run "$strip" --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd "$1"; }
say() { echo "release: $*" >&2; }

host="$(rustc -vV | sed -n 's/^host: //p')"
target="${1:-$host}"
export ODRADEK_RELEASE_TARGET="$target"
version="$("$here/version.sh")"
go_version="$("$here/version.sh" --go)"
dist="${ODRADEK_DIST:-$root/dist}"
stage="$dist/.stage"
strip="${STRIP:-strip}"

case "$target" in
x86_64-unknown-linux-gnu) goplat=linux/amd64 rid=linux-x64 ;;
aarch64-unknown-linux-gnu) goplat=linux/arm64 rid=linux-arm64 ;;
x86_64-unknown-linux-musl) goplat="" rid=linux-musl-x64 ;;
x86_64-apple-darwin) goplat=darwin/amd64 rid=osx-x64 ;;
aarch64-apple-darwin) goplat=darwin/arm64 rid=osx-arm64 ;;
x86_64-pc-windows-msvc) goplat="" rid=win-x64 ;;
*) echo "build.sh: no release recipe for target $target" >&2; exit 2 ;;
esac
case "$target" in
*-apple-darwin) shlib=libodradek_ffi.dylib staticlib=libodradek_ffi.a exe="" ;;
*-windows-*) shlib=odradek_ffi.dll staticlib=odradek_ffi.lib exe=.exe ;;
*) shlib=libodradek_ffi.so staticlib=libodradek_ffi.a exe="" ;;
esac
cargo_target=()
out="$CARGO_TARGET_DIR/release"
if [ "$target" != "$host" ]; then
    cargo_target=(--target "$target")
    out="$CARGO_TARGET_DIR/$target/release"
fi

say "odradek $version for $target into $dist"
rm -rf "$dist"
mkdir -p "$stage"

# ---- licences: every crate of the workspace graph must be on the allow-list
run python3 "$here/licenses.py" --check
notice() { # notice NAME ARGS...: writes $stage/NAME.notice for the crates/modules given
    local name="$1"; shift
    python3 "$here/licenses.py" "$@" --out "$stage/$name.notice"
}

# ---- the C ABI and the commands (the selection of scripts/build-release.sh, which the test suites
# share). On a Linux host it builds the Node addon too: napi build passes an explicit --target and
# would compile every crate again in a tree of its own.
node_addon=""
node_pkg=()
if [ "$target" = "$host" ] && [[ "$target" == *-linux-* ]]; then
    node_addon="$out/libodradek_node.so"
    node_pkg=(-p odradek-node -p odradek-examples)
fi
run cargo build --release --locked "${cargo_target[@]}" -p odradek-ffi -p odradek-cli -p odradek-broker \
    "${node_pkg[@]}" --manifest-path "$root/Cargo.toml"

# ---- CLI and broker tarball
notice cli --crate odradek-cli --crate odradek-broker
cli="$stage/odradek-cli-$version-$target"
mkdir -p "$cli/bin" "$cli/doc"
for bin in odradek odradek-broker; do
    cp "$out/$bin$exe" "$cli/bin/"
    run "$strip" "$cli/bin/$bin$exe"
done
cp "$root/README.md" "$root/LICENSE" "$cli/"
cp "$stage/cli.notice" "$cli/THIRD-PARTY-LICENSES.txt"
# The help of every command, as the manual (the binaries print the same with --help).
if [ "$target" = "$host" ]; then
    "$cli/bin/odradek-broker" --help > "$cli/doc/odradek-broker.txt"
    {
        "$cli/bin/odradek" --help
        for sub in broker produce consume topics groups perf; do
            printf '\n\n==== odradek %s ====\n\n' "$sub"
            "$cli/bin/odradek" "$sub" --help
        done
    } > "$cli/doc/odradek.txt"
fi
tar -C "$stage" -czf "$dist/odradek-cli-$version-$target.tar.gz" "$(basename "$cli")"

# ---- C / C++: an install prefix
notice ffi --crate odradek-ffi
notice cpp --crate odradek-cpp --crate odradek-ffi
prefix="$stage/libodradek-$version-$target"
if [ "$target" = "$host" ]; then
    # Release build of the C++ binding; the CMake dir is per checkout (a cache belongs to one source dir).
    cpp_build="$CARGO_TARGET_DIR/release-cpp-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
    run cmake -S "$root/cpp" -B "$cpp_build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DODRADEK_BUILD_TESTS=OFF -DODRADEK_BUILD_EXAMPLES=OFF -DODRADEK_CARGO_TARGET_DIR="$CARGO_TARGET_DIR"
    run cmake --build "$cpp_build"
    run cmake --install "$cpp_build" --prefix "$prefix"
else
    say "the C++ library is built by cpp/CMakeLists.txt for the host only; $target gets the C library"
    mkdir -p "$prefix/lib"
fi
cp "$root/bindings/c/include/odradek.h" "$prefix/include/" 2>/dev/null \
    || { mkdir -p "$prefix/include" && cp "$root/bindings/c/include/odradek.h" "$prefix/include/"; }
cp "$out/$staticlib" "$out/$shlib" "$prefix/lib/"
for lib in "$prefix"/lib/*.a; do strip_static "$lib"; done
run "$strip" --strip-unneeded "$prefix/lib/$shlib"
mkdir -p "$prefix/lib/pkgconfig" "$prefix/share/doc/odradek"
cat > "$prefix/lib/pkgconfig/odradek.pc" <<PC
# The C ABI of odradek (odradek.h). Relocatable: paths are relative to this file.
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: odradek
Description: Kafka client on the odradek Rust core (C ABI)
Version: $version
Libs: -L\${libdir} -lodradek_ffi
Libs.private: -lpthread -ldl -lm
Cflags: -I\${includedir}
PC
cp "$root/bindings/c/README.md" "$prefix/share/doc/odradek/README-c.md"
cp "$root/cpp/README.md" "$prefix/share/doc/odradek/README-cpp.md"
cp "$root/LICENSE" "$prefix/share/doc/odradek/"
cp "$stage/cpp.notice" "$prefix/share/doc/odradek/THIRD-PARTY-LICENSES.txt"
tar -C "$stage" -czf "$dist/libodradek-$version-$target.tar.gz" "$(basename "$prefix")"

# ---- Python: the abi3 wheel (as the Python suite builds it) and the sdist
notice python --crate odradek-python
wheels="$stage/wheels"
run "$here/python-wheel.sh" "$wheels"
wheel="$(ls "$wheels"/odradek-"$version"-*.whl)"
cp "$wheel" "$dist/"
wheel="$dist/$(basename "$wheel")"
cp "$stage/python.notice" "$stage/THIRD-PARTY-LICENSES.txt"
run python3 "$here/wheel_licenses.py" "$wheel" "$root/LICENSE" "$stage/THIRD-PARTY-LICENSES.txt"
if [ "$target" = "$host" ]; then
    run "$ODRADEK_CACHE/venv/bin/maturin" sdist --manifest-path "$root/python/Cargo.toml" --out "$dist"
    # The sdist is a workspace of its own (maturin keeps the crates the binding needs and the
    # lock file): its dependency graph must resolve from that lock without the network.
    tar -C "$stage" -xzf "$dist/odradek-$version.tar.gz"
    run cargo metadata --offline --format-version 1 --manifest-path "$stage/odradek-$version/python/Cargo.toml" >/dev/null
fi

# ---- Node: the odradek package and this target's platform package
notice npm --crate odradek-node --npm-package "$root/node"
napi="$ODRADEK_CACHE/node-binding/node_modules/.bin/napi"
[ -x "$napi" ] || { echo "build.sh: no napi CLI; run scripts/setup.d/45-node-binding.sh" >&2; exit 1; }
if [ -z "$node_addon" ]; then
    # Elsewhere napi build (it writes node/odradek.node; it names it by platform only with --platform).
    (cd "$root/node" && run "$napi" build --release --no-js --dts native.d.ts "${cargo_target[@]}" -- --locked)
    node_addon="$root/node/odradek.node"
fi
platform="$(python3 "$here/npm_packages.py" name --target "$target")"
run python3 "$here/npm_packages.py" platform --version "$version" --target "$target" \
    --addon "$node_addon" --notice "$stage/npm.notice" --out "$stage/npm"
run "$strip" --strip-unneeded "$stage/npm/$platform/odradek.$platform.node"
run python3 "$here/npm_packages.py" main --version "$version" --notice "$stage/npm.notice" --out "$stage/npm"
for pkg in odradek "$platform"; do
    (cd "$stage/npm/$pkg" && run npm pack --silent --pack-destination "$dist" >/dev/null)
done

# ---- .NET: Odradek.dll (mcs) and the native library in the NuGet layout
if command -v mcs >/dev/null; then
    dotnet="$stage/dotnet"
    mkdir -p "$dotnet"
    # System.Runtime.Serialization: DataContractJsonSerializer decodes the statistics (part of
    # netstandard2.0; Mono keeps it in its own assembly).
    run mcs -langversion:7.2 -warnaserror+ -nowarn:1591 -optimize+ -target:library -unsafe \
        -r:System.Runtime.Serialization -out:"$dotnet/Odradek.dll" -doc:"$dotnet/Odradek.xml" -recurse:"$root/dotnet/src/*.cs"
    cp "$out/$shlib" "$dotnet/"
    run "$strip" --strip-unneeded "$dotnet/$shlib"
    run python3 "$here/nupkg.py" --version "$version" --assembly "$dotnet/Odradek.dll" --doc "$dotnet/Odradek.xml" \
        --native "$rid=$dotnet/$shlib" --notice "$stage/ffi.notice" --out "$dist"
else
    say "no mcs (Mono): no .nupkg (scripts/setup.d/60-dotnet.sh installs it)"
    exit 1
fi

# ---- Go: the module with this target's static library, as a module proxy serves it
if [ -n "$goplat" ]; then
    notice go --crate odradek-ffi --go-module "$root/go"
    cp "$out/$staticlib" "$stage/$staticlib"
    strip_static "$stage/$staticlib"
    run python3 "$here/go_module.py" --version "$go_version" --lib "$goplat=$stage/$staticlib" \
        --notice "$stage/go.notice" --out "$dist/goproxy"
fi

# ---- one version everywhere, checksums, sizes
run python3 "$here/check_versions.py" "$dist" "$version"
rm -rf "$stage"
(cd "$dist" && find . -type f ! -name SHA256SUMS ! -name SIZES.txt -printf '%P\n' | sort | xargs sha256sum > SHA256SUMS)
(cd "$dist" && find . -type f ! -name SHA256SUMS ! -name SIZES.txt ! -path './goproxy/*/@v/*.info' \
    ! -path './goproxy/*/@v/*.mod' ! -path './goproxy/*/@v/list' -printf '%s\t%P\n' | sort -k2 > SIZES.txt)
say "done: $dist"
awk -F'\t' '{ printf "  %8.1f MiB  %s\n", $1 / 1048576, $2 }' "$dist/SIZES.txt" >&2

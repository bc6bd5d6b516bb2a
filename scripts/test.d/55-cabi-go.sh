#!/usr/bin/env bash
# The C ABI (bindings/c) and the Go binding (go/): builds libodradek_ffi (release, static and
# shared), compiles the C test program against the checked-in header and runs it, then again
# under valgrind (fails on any definite leak or memory error), then the Go test suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
lib="$CARGO_TARGET_DIR/release"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

"$root/scripts/build-release.sh"

echo "+ cc bindings/c/tests/test_odradek.c (static library)" >&2
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$root/bindings/c/include" \
    "$root/bindings/c/tests/test_odradek.c" "$lib/libodradek_ffi.a" -lpthread -ldl -lm \
    -o "$out/test_odradek"
echo "+ test_odradek" >&2
"$out/test_odradek"

echo "+ cc bindings/c/tests/test_logging.c (the log bridge)" >&2
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$root/bindings/c/include" \
    "$root/bindings/c/tests/test_logging.c" "$lib/libodradek_ffi.a" -lpthread -ldl -lm \
    -o "$out/test_logging"

echo "+ cc bindings/c/tests/test_events.c (error callback, statistics)" >&2
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$root/bindings/c/include" \
    "$root/bindings/c/tests/test_events.c" "$lib/libodradek_ffi.a" -lpthread -ldl -lm \
    -o "$out/test_events"
"$out/test_events"
echo "+ cc bindings/c/tests/test_share.c (the share consumer)" >&2
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$root/bindings/c/include" \
    "$root/bindings/c/tests/test_share.c" "$lib/libodradek_ffi.a" -lpthread -ldl -lm \
    -o "$out/test_share"
"$out/test_share"
"$out/test_logging"

command -v valgrind >/dev/null || { echo "55-cabi-go.sh: valgrind not found (scripts/setup.d/40-debian.sh installs it)" >&2; exit 1; }
echo "+ valgrind --leak-check=full test_odradek" >&2
# "possibly lost" blocks are the library's process-wide runtime threads and protocol tables,
# alive until exit by design; a definite leak or any memory error fails the suite.
# bindings/c/tests/valgrind.supp silences only ring's assembly AEAD on the TLS record paths
# (opaque to memcheck); a deep stack lets those suppressions see the rustls frames.
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --num-callers=64 --suppressions="$root/bindings/c/tests/valgrind.supp" \
    --error-exitcode=3 "$out/test_odradek"
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --num-callers=64 --suppressions="$root/bindings/c/tests/valgrind.supp" \
    --error-exitcode=3 "$out/test_share"

if [ -f "$root/go/go.mod" ]; then
    command -v go >/dev/null || { echo "55-cabi-go.sh: go not found (Go >= 1.26 is needed)" >&2; exit 1; }
    export GOMODCACHE="$ODRADEK_CACHE/go/mod" GOCACHE="$ODRADEK_CACHE/go/build" GOTOOLCHAIN=local
    export GOFLAGS="-mod=readonly -buildvcs=false"
    export CGO_ENABLED=1 CGO_LDFLAGS="-L$lib"
    echo "+ go vet ./... && go test ./... (go/: API, conformance scenarios)" >&2
    (cd "$root/go" && go vet ./... && go test -count=1 -timeout 240s ./...)
    # franz-go interop lives in its own module, so users of the binding never download franz-go.
    echo "+ go vet ./... && go test ./... (go/interop: franz-go interop)" >&2
    (cd "$root/go/interop" && go vet ./... && go test -count=1 -timeout 240s ./...)
    echo "+ go run . (examples/go)" >&2
    (cd "$root/examples/go" && go run .)
    echo "+ go run ./transactions (examples/go: consume-transform-produce)" >&2
    ex_out="$(cd "$root/examples/go" && go run ./transactions)"
    grep -qx "transformed 4 records exactly once" <<<"$ex_out" \
        || { echo "55-cabi-go.sh: examples/go/transactions did not transform its 4 records: $ex_out" >&2; exit 1; }
fi

package odradek

// Linking in a checkout of the repository: the header from bindings/c, the static library from
// cargo's target dir. Build: `cargo build --release -p odradek-ffi`, then
// `CGO_LDFLAGS="-L$CARGO_TARGET_DIR/release" go build` (see README.md). The released module
// (scripts/release/go_module.py) ships link_*.go files in place of this one.

/*
#cgo CFLAGS: -I${SRCDIR}/../bindings/c/include
#cgo LDFLAGS: -l:libodradek_ffi.a -lpthread -ldl -lm
*/
import "C"

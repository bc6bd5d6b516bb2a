//! Generates the C++ side of the bridge (src/lib.rs) and compiles it together with the C++
//! wrapper (src/odradek.cc), so the static library holds everything a C++ program links.

fn main() {
    cxx_build::bridges(["src/lib.rs", "src/admin.rs", "src/observability.rs"])
        .file("src/odradek.cc")
        .include("include")
        .std("c++17")
        .flag_if_supported("-Wall")
        .flag_if_supported("-Wextra")
        .compile("odradek_cpp_glue");
    for f in [
        "src/lib.rs",
        "src/admin.rs",
        "src/observability.rs",
        "src/odradek.cc",
        "src/bridge.h",
        "include/odradek/odradek.hpp",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
}

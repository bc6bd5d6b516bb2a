//! Gives the shared library the SONAME `libodradek_ffi.so` on Linux: a copy loaded by full path
//! (the .NET binding's loader, from a NuGet package's runtimes/ folder) then satisfies later
//! loads by that name, and programs linked against it record that name rather than a path.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libodradek_ffi.so");
    }
}

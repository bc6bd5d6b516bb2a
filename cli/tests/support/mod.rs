//! What the `odradek` command's tests share: starting `odradek broker` as a child process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_odradek");

/// Starts `odradek broker --listen LISTEN --data-dir DATA EXTRA...` and returns it with the
/// address it bound (its first stdout line; LISTEN may use port 0).
pub fn spawn_broker(listen: &str, data: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["broker", "--listen", listen])
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first.trim().to_owned();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "first stdout line of `odradek broker` should be its address, got {first:?}"
    );
    (child, addr)
}

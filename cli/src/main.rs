//! The `odradek` command.
fn main() {
    eprintln!("odradek: no subcommands yet");
    std::process::exit(2);
}

//! Rebuilds the crate when anything under `static/` changes, a file added included:
//! `include_dir!` (src/http/assets.rs) embeds the whole directory, but cargo only knows about the
//! files that existed at the last build.
#![allow(clippy::print_stdout)] // how a build script talks to cargo

fn main() {
    println!("cargo::rerun-if-changed=static");
}

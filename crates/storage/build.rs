//! Embeds the migrations: writes `$OUT_DIR/migrations.rs` with every file of
//! `migrations/sqlite` and `migrations/postgres`, by name and through `include_str!`, in
//! name order (`sql/migrations.rs` reads it). Listing the directories here, not by hand,
//! means a new migration file cannot be left out of a binary; and the rerun line makes a
//! new file alone rebuild the crate.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("migrations");
    let mut out = String::new();
    for (konst, dir) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("migrations/{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        writeln!(out, "pub(super) static {konst}: &[(&str, &str)] = &[").unwrap();
        for p in files {
            let name = p.file_name().unwrap().to_str().expect("a UTF-8 file name");
            // Relative to the crate being compiled, not this run's absolute path: two
            // checkouts sharing a target directory share this output (cargo's hash of a
            // path package leaves the path out), and a checkout whose files differ must
            // then fail to compile rather than embed the other's schema.
            writeln!(
                out,
                "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/migrations/{dir}/{name}\"))),"
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("migrations.rs");
    std::fs::write(dest, out).unwrap();
}

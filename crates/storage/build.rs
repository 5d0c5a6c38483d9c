//! `sqlx::migrate!` embeds the migrations at compile time; without this, a new migration
//! file alone would not rebuild the crate, and a binary would ship without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

// `sqlx::migrate!` embeds ../migrations at compile time but does not watch the folder for
// new files: rebuild when a migration is added.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}

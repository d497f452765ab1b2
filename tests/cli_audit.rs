//! `alpes audit …` as a user runs it: the real binary on a real SQLite file.

use std::path::Path;
use std::process::{Command, Output};

fn alpes(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alpes"))
        .args(arguments)
        .env("RUST_LOG", "error")
        .output()
        .expect("the alpes binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// A store with a few events: W1 of the store benchmark writes real events.
fn seeded_store(dir: &Path) -> String {
    let url = format!("sqlite://{}", dir.join("events.db").display());
    let output = alpes(&[
        "bench",
        "store",
        "--events",
        &url,
        "--workload",
        "w1",
        "--streams",
        "25",
        "--writers",
        "2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    url
}

#[test]
fn export_then_verify_passes_and_a_flipped_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = seeded_store(dir.path());
    let file = dir.path().join("audit.jsonl");
    let file_text = file.to_str().unwrap();
    let output = alpes(&["audit", "export", "--events", &url, "--out", file_text]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("exported 25 of 25 events"),
        "{}",
        stderr(&output)
    );

    let verified = alpes(&["audit", "verify", file_text]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(String::from_utf8_lossy(&verified.stdout).starts_with("ok: 25 records"));

    let mut bytes = std::fs::read(&file).unwrap();
    let fifth_line: usize = bytes
        .split(|b| *b == b'\n')
        .take(4)
        .map(|line| line.len() + 1)
        .sum();
    bytes[fifth_line + 20] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    let broken = alpes(&["audit", "verify", file_text]);
    assert!(!broken.status.success());
    assert!(
        stderr(&broken).contains("record 5 (line 5"),
        "{}",
        stderr(&broken)
    );
}

#[test]
fn bad_arguments_are_named_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let url = seeded_store(dir.path());
    let out = dir.path().join("x.jsonl");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--type", "Nada"], "unknown event type 'Nada'"),
        (
            &["--from", "9:0", "--to", "3:0"],
            "--from 9:0 is after --to 3:0",
        ),
        (&["--from", "ayer"], "'ayer' is neither a log position"),
        (
            &["--aggregate", "Factura"],
            "unknown aggregate type 'Factura'",
        ),
        (&["--format", "xml"], "unknown format 'xml'"),
    ];
    for (extra, message) in cases {
        let mut arguments = vec!["audit", "export", "--events", url.as_str(), "--out", out];
        arguments.extend_from_slice(extra);
        let output = alpes(&arguments);
        assert!(!output.status.success(), "{extra:?} was accepted");
        assert!(
            stderr(&output).contains(message),
            "{extra:?}: {}",
            stderr(&output)
        );
    }
    let unwritable = alpes(&[
        "audit",
        "export",
        "--events",
        &url,
        "--out",
        "/nonexistent-folder/x.jsonl",
    ]);
    assert!(!unwritable.status.success());
    assert!(
        stderr(&unwritable).contains("cannot write the export to '/nonexistent-folder/x.jsonl'")
    );
    let missing = alpes(&["audit", "verify", "/nonexistent-folder/x.jsonl"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("cannot read '/nonexistent-folder/x.jsonl'"));
}

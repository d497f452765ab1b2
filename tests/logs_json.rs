//! The logs of the real binary when they go to a pipe (as in a container): one JSON object
//! per line, with the spans of requests and commands.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use alpes_test_support::requests::campana_json;
use alpes_test_support::SqliteTestDb;
use serde_json::{json, Value};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

/// `alpes` with `arguments`, stderr piped, no log settings inherited.
fn alpes(arguments: &[&str]) -> Child {
    alpes_logging(arguments, None)
}

/// `alpes` with `arguments`, stderr piped, and `RUST_LOG` as given (none: the default).
fn alpes_logging(arguments: &[&str], rust_log: Option<&str>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alpes"));
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    } else {
        command.env_remove("RUST_LOG");
    }
    command
        .args(arguments)
        .env_remove("ALPES_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every stderr line, as it comes, on a channel.
fn lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
}

/// The names of a JSON log line's spans, outermost first.
fn span_names(line: &Value) -> Vec<&str> {
    line["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .filter_map(|span| span["name"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits for the "started" line and answers the address it names.
fn started_address(received: &mpsc::Receiver<String>, seen: &mut Vec<String>) -> String {
    loop {
        let line = received.recv_timeout(WAIT).expect("alpes serve started");
        let parsed = parse(&line);
        seen.push(line);
        if parsed["fields"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("alpes serve started"))
        {
            return parsed["fields"]["address"].as_str().unwrap().to_string();
        }
    }
}

#[tokio::test]
async fn serve_logs_json_lines_with_request_and_command_spans_when_stderr_is_not_a_terminal() {
    let db = SqliteTestDb::create().unwrap();
    // No --log-format: stderr is a pipe, so JSON.
    let mut child = alpes(&["serve", "--events", db.url(), "--listen", "127.0.0.1:0"]);
    let received = lines(child.stderr.take().unwrap());
    let mut seen: Vec<String> = Vec::new();
    let address = started_address(&received, &mut seen);

    // An interaction first: ingest commands log their successes at debug only.
    let client = reqwest::Client::new();
    let click =
        json!({"tipo": "Click", "campana_id": Uuid::new_v4(), "journey_id": Uuid::new_v4()});
    let response = client
        .post(format!("http://{address}/api/v1/interacciones"))
        .json(&click)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let request_id = format!("logs-{}", Uuid::new_v4());
    let response = client
        .post(format!("http://{address}/api/v1/campanas"))
        .header("x-request-id", &request_id)
        .json(&campana_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    // The command's line, inside the request's span and its own.
    let command_line = loop {
        let line = received.recv_timeout(WAIT).expect("the command's log line");
        let parsed = parse(&line);
        seen.push(line);
        if parsed["fields"]["message"] == "command executed" {
            break parsed;
        }
    };
    let ingest_successes = seen
        .iter()
        .map(|line| parse(line))
        .filter(|parsed| {
            parsed["fields"]["message"] == "command executed"
                && parsed["span"]["command"] == "RegistrarInteraccion"
        })
        .count();
    assert_eq!(ingest_successes, 0, "{seen:#?}");
    assert_eq!(span_names(&command_line), vec!["request", "command"]);
    let request = &command_line["spans"][0];
    assert_eq!(request["request_id"], request_id.as_str());
    assert_eq!(request["path"], "/api/v1/campanas");
    let command = &command_line["span"];
    assert_eq!(command["aggregate"], "Campana");
    assert_eq!(command["command"], "CrearCampana");
    assert_eq!(command["outcome"], "executed");
    assert_eq!(command["request_id"], request_id.as_str());
    assert!(command["duration_ms"].as_f64().is_some(), "{command_line}");
    assert!(Uuid::parse_str(command["aggregate_id"].as_str().unwrap()).is_ok());

    // SIGTERM: a graceful stop, still in JSON.
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    loop {
        match received.recv_timeout(WAIT) {
            Ok(line) => seen.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("alpes did not stop: {seen:#?}"),
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    for line in &seen {
        let parsed = parse(line);
        assert!(
            parsed["level"].is_string() && parsed["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(
        seen.iter().any(|line| line.contains("command API stopped")),
        "{seen:#?}"
    );
}

/// Every consumer batch — a projector's and a saga reactor's alike — is a span naming the
/// consumer, the positions and the events, with its outcome and duration.
#[tokio::test]
async fn consumer_batches_are_spans_for_projectors_and_reactors() {
    let db = SqliteTestDb::create().unwrap();
    let mut child = alpes_logging(
        &["serve", "--events", db.url(), "--listen", "127.0.0.1:0"],
        Some("warn,alpes=info,alpes_read=debug,alpes_event_store=debug"),
    );
    let received = lines(child.stderr.take().unwrap());
    let mut seen: Vec<String> = Vec::new();
    let address = started_address(&received, &mut seen);
    let click =
        json!({"tipo": "Click", "campana_id": Uuid::new_v4(), "journey_id": Uuid::new_v4()});
    let response = reqwest::Client::new()
        .post(format!("http://{address}/api/v1/interacciones"))
        .json(&click)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let mut consumers = std::collections::HashSet::new();
    while !(consumers.contains("projection:tracking")
        && consumers.contains("saga.AtribuirConversion"))
    {
        let line = received
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no batch span of both consumers; saw {consumers:?}"));
        let parsed = parse(&line);
        if parsed["fields"]["message"] != "consumer batch done" {
            continue;
        }
        let batch = &parsed["span"];
        assert_eq!(batch["name"], "consumer_batch", "{line}");
        assert_eq!(batch["outcome"], "handled", "{line}");
        assert!(
            batch["events"].as_u64().is_some_and(|events| events >= 1),
            "{line}"
        );
        assert!(batch["duration_ms"].as_f64().is_some(), "{line}");
        assert!(
            batch["last"]
                .as_str()
                .is_some_and(|last| last.contains(':')),
            "{line}"
        );
        consumers.insert(batch["consumer"].as_str().unwrap().to_string());
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_failure_is_one_more_json_line_with_log_format_json() {
    let child = alpes(&[
        "--log-format",
        "json",
        "serve",
        "--events",
        "mysql://nowhere/db",
    ]);
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<Value> = text.lines().map(parse).collect();
    let failure = lines.last().expect("a line");
    assert_eq!(failure["level"], "ERROR");
    assert!(
        failure["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("--events"),
        "{text}"
    );
}

#[test]
fn text_logs_are_written_when_asked_for() {
    let child = alpes(&[
        "--log-format",
        "text",
        "serve",
        "--events",
        "mysql://nowhere/db",
    ]);
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.starts_with("error: "), "{text}");
    assert!(serde_json::from_str::<Value>(text.lines().next().unwrap()).is_err());
}

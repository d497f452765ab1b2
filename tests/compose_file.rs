//! compose.yaml cannot be run here (no container engine), so it is checked against what
//! can be known without one: the Compose Specification's JSON schema, and the binary it
//! runs — every ALPES_* variable it sets is one `alpes serve` reads, every `alpes` command
//! line parses with the real CLI.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use alpes::cli::{Cli, Command};
use clap::{CommandFactory, Parser};
use serde_json::Value as Json;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// compose.yaml with its `<<` merge keys applied, as Compose reads it.
fn compose() -> serde_yaml::Value {
    let text = std::fs::read_to_string(manifest_dir().join("compose.yaml")).unwrap();
    let mut document: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    document.apply_merge().unwrap();
    document
}

fn compose_json() -> Json {
    serde_json::to_value(compose()).unwrap()
}

fn services(document: &Json) -> &serde_json::Map<String, Json> {
    document["services"].as_object().expect("services")
}

/// The services that run the `alpes` image.
fn alpes_services(document: &Json) -> Vec<(&String, &Json)> {
    services(document)
        .iter()
        .filter(|(_, service)| service["image"] == "alpes:local")
        .collect()
}

/// The environment variables `alpes serve` reads (its own and the global flags').
fn variables_serve_reads() -> BTreeSet<String> {
    let cli = Cli::command();
    let serve = cli
        .get_subcommands()
        .find(|command| command.get_name() == "serve")
        .expect("a serve subcommand");
    cli.get_arguments()
        .chain(serve.get_arguments())
        .filter_map(|argument| argument.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// `../shared/compose-spec.json` beside the checkout (CI), or beside an ancestor of it (a
/// worktree under the checkout's parent).
fn compose_spec() -> PathBuf {
    manifest_dir()
        .ancestors()
        .skip(1)
        .map(|folder| folder.join("shared/compose-spec.json"))
        .find(|path| path.is_file())
        .expect("shared/compose-spec.json beside the checkout (../shared)")
}

#[test]
fn compose_yaml_follows_the_compose_specification() {
    let schema_path = compose_spec();
    let schema_text = std::fs::read_to_string(&schema_path)
        .unwrap_or_else(|error| panic!("{}: {error}", schema_path.display()));
    let schema: Json = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let document = compose_json();
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "compose.yaml: {errors:#?}");

    // The schema is permissive; an invalid document must still be caught by it.
    let mut broken = document.clone();
    broken["services"]["marketing"]["restart"] = Json::from(42);
    assert!(!validator.is_valid(&broken));
}

#[test]
fn compose_runs_the_four_services_and_the_projector_on_eventstoredb_and_postgresql() {
    let document = compose_json();
    let all = services(&document);
    for store in ["eventstore", "postgres"] {
        let service = &all[store];
        assert!(service["healthcheck"]["test"].is_array(), "{store}");
        assert!(service["volumes"].is_array(), "{store} keeps its data");
        assert!(service["restart"].is_string(), "{store}");
    }
    assert!(all["eventstore"]["image"]
        .as_str()
        .unwrap()
        .starts_with("eventstore/eventstore:"));
    assert_eq!(
        all["eventstore"]["environment"]["EVENTSTORE_INSECURE"],
        "true"
    );

    let alpes = alpes_services(&document);
    let names: BTreeSet<&str> = alpes.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "marketing",
            "tracking",
            "atribucion",
            "comisiones",
            "projector"
        ])
    );
    let mut listens = BTreeSet::new();
    for (name, service) in &alpes {
        let environment = &service["environment"];
        assert!(
            environment["ALPES_EVENTS"]
                .as_str()
                .unwrap()
                .starts_with("esdb://eventstore:2113"),
            "{name}: events go to EventStoreDB"
        );
        assert!(
            environment["ALPES_VIEWS"]
                .as_str()
                .unwrap()
                .starts_with("postgres://"),
            "{name}: views go to PostgreSQL"
        );
        for store in ["eventstore", "postgres"] {
            assert_eq!(
                service["depends_on"][store]["condition"], "service_healthy",
                "{name} waits for {store}"
            );
        }
        assert!(service["restart"].is_string(), "{name}");
        assert!(
            listens.insert(environment["ALPES_LISTEN"].to_string()),
            "{name}: own port"
        );
    }
}

#[test]
fn every_alpes_variable_compose_sets_is_one_alpes_serve_reads() {
    let known = variables_serve_reads();
    assert!(known.contains("ALPES_EVENTS") && known.contains("ALPES_LOG_FORMAT"));
    let document = compose_json();
    let mut checked = 0;
    for (name, service) in alpes_services(&document) {
        let environment = service["environment"].as_object().expect("a map");
        for variable in environment.keys().filter(|key| key.starts_with("ALPES_")) {
            assert!(
                known.contains(variable),
                "{name} sets {variable}, which `alpes serve` does not read (it reads {known:?})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} variables checked");
}

#[test]
fn every_alpes_command_line_in_compose_parses() {
    let document = compose_json();
    for (name, service) in alpes_services(&document) {
        let arguments: Vec<&str> = service["command"]
            .as_array()
            .expect("command as a list")
            .iter()
            .map(|argument| argument.as_str().unwrap())
            .collect();
        let parsed = Cli::try_parse_from(std::iter::once("alpes").chain(arguments.clone()))
            .unwrap_or_else(|error| panic!("{name}: alpes {arguments:?}: {error}"));
        let Command::Serve(serve) = parsed.command else {
            panic!("{name} does not run `alpes serve`");
        };
        let runs_projectors = service["environment"]["ALPES_PROJECTORS"] == "true";
        if name == "projector" {
            assert!(serve.services.0.is_empty() && runs_projectors, "{name}");
        } else {
            assert_eq!(
                serve.services.0.len(),
                1,
                "{name} runs its own service only"
            );
            assert_eq!(serve.services.0[0].to_string(), *name);
            assert!(
                !serve.projectors,
                "{name} leaves the projectors to `projector`"
            );
        }
    }
}

#[test]
fn an_unknown_flag_or_variable_would_be_caught() {
    assert!(Cli::try_parse_from(["alpes", "serve", "--service", "marketing"]).is_err());
    assert!(!variables_serve_reads().contains("ALPES_SERVICE"));
}

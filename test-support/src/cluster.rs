//! A throwaway PostgreSQL cluster for a test process that finds no server: initdb in a
//! temporary directory, pg_ctl start on a free port, and a watchdog that stops the cluster
//! and removes the directory once the test process has exited (even if it was killed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where Debian and Ubuntu install the server binaries, one folder per major version.
const DEBIAN_POSTGRES_LIB: &str = "/usr/lib/postgresql";
/// initdb refuses to run as root; the server's own account is used instead.
const SERVER_ACCOUNT: &str = "postgres";

/// Starts a cluster and returns its admin URL, or says why it cannot.
pub(crate) fn start() -> Result<String, String> {
    let bin = find_server_binaries()?;
    let run_as = account_to_run_as()?;
    let dir = std::env::temp_dir().join(format!(
        "alpes-pg-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    if let Some(account) = run_as {
        run(Command::new("chown").arg(account).arg(&dir))?;
    }
    let data = dir.join("data");
    let port = free_port()?;

    let mut initdb = server_command(run_as, &bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
    run(&mut initdb)?;

    spawn_watchdog(run_as, &bin.join("pg_ctl"), &dir, &data)?;

    let mut pg_ctl = server_command(run_as, &bin.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-t", "60", "-o"])
        .arg(format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            dir.display()
        ))
        .arg("start");
    run(&mut pg_ctl)?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

/// The newest `…/bin` with initdb and pg_ctl under /usr/lib/postgresql, else from PATH.
fn find_server_binaries() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_POSTGRES_LIB)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server_binaries(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| has_server_binaries(dir))
        .ok_or_else(|| {
            format!("initdb and pg_ctl are neither under {DEBIAN_POSTGRES_LIB}/*/bin nor on PATH")
        })
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

/// `Some(account)` when we are root (initdb would refuse), `None` otherwise.
fn account_to_run_as() -> Result<Option<&'static str>, String> {
    let uid = output(Command::new("id").arg("-u"))?;
    if uid.trim() != "0" {
        return Ok(None);
    }
    output(Command::new("id").arg("-u").arg(SERVER_ACCOUNT)).map_err(|error| {
        format!(
            "running as root and there is no '{SERVER_ACCOUNT}' account to run initdb as ({error})"
        )
    })?;
    Ok(Some(SERVER_ACCOUNT))
}

fn server_command(run_as: Option<&str>, program: &Path) -> Command {
    match run_as {
        Some(account) => {
            let mut command = Command::new("runuser");
            command.args(["-u", account, "--"]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// A detached shell that waits for this process to end, then stops the cluster and removes
/// its directory. Started before the server so that a failed start is cleaned up too.
fn spawn_watchdog(
    run_as: Option<&str>,
    pg_ctl: &Path,
    dir: &Path,
    data: &Path,
) -> Result<(), String> {
    let as_account = run_as
        .map(|account| format!("runuser -u {account} -- "))
        .unwrap_or_default();
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {as_account}'{pg_ctl}' -D '{data}' -m immediate -w stop >/dev/null 2>&1; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|error| format!("cannot start the cluster's watchdog: {error}"))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free port: {error}"))
}

fn run(command: &mut Command) -> Result<(), String> {
    output(command).map(drop)
}

fn output(command: &mut Command) -> Result<String, String> {
    let described = format!("{command:?}");
    let result = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("{described}: {error}"))?;
    if !result.status.success() {
        return Err(format!(
            "{described} failed ({}): {}",
            result.status,
            String::from_utf8_lossy(&result.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&result.stdout).into_owned())
}

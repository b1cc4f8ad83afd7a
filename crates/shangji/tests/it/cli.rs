//! The command line as an operator uses it: the real binary on a temporary data directory.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shangji"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shangji-cli-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = bin()
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("SHANGJI_DATABASE_URL")
        .env_remove("SHANGJI_LISTEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        // A command that does not read its input may have exited already (a broken pipe):
        // what it printed tells.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn prepare_a_database_from_the_command_line() {
    let dir = temp_dir("prepare");
    let out = run(&dir, &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        dir.join("shangji.db").exists(),
        "the SQLite file is created in the data directory"
    );

    assert!(run(&dir, &["team", "add", "总公司"], None).status.success());
    let out = run(&dir, &["team", "add", "华东", "--parent", "总公司"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&dir, &["team", "add", "华南", "--parent", "不存在"], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no team named `不存在`"),
        "{}",
        text(&out.stderr)
    );

    let out = run(
        &dir,
        &[
            "user",
            "add",
            "wang",
            "--role",
            "manager",
            "--team",
            "华东",
            "--name",
            "王经理",
            "--password-stdin",
        ],
        Some("secret-pass\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &dir,
        &["user", "add", "li", "--role", "rep", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("password"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        &dir,
        &["user", "add", "zhao", "--role", "boss", "--password-stdin"],
        Some("secret-pass\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown role `boss`"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&dir, &["user", "list"], None);
    let list = text(&out.stdout);
    assert!(
        list.contains("wang\t王经理\tmanager\t华东\tactive"),
        "{list}"
    );

    let out = run(
        &dir,
        &["user", "passwd", "wang", "--password-stdin"],
        Some("another-pass\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = run(&dir, &["token", "create", "wang"], None);
    assert!(out.status.success());
    let token = text(&out.stdout);
    assert_eq!(
        token.lines().count(),
        1,
        "only the token is printed: {token}"
    );
    assert!(token.starts_with("sj_"));
    let out = run(&dir, &["token", "create", "nobody"], None);
    assert!(text(&out.stderr).contains("no user `nobody`"));
}

#[test]
fn print_config_layers_flags_env_and_file_and_hides_secrets() {
    let dir = temp_dir("config");
    let file = dir.join("shangji.toml");
    std::fs::write(&file, "listen = \"0.0.0.0:9000\"\n").unwrap();
    let out = bin()
        .args(["--config", file.to_str().unwrap(), "print-config"])
        .env(
            "SHANGJI_DATABASE_URL",
            "postgres://sales:topsecret@db.internal/crm",
        )
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(shown.contains("listen = \"0.0.0.0:9000\""), "{shown}");
    assert!(
        shown.contains("postgres://sales:***@db.internal/crm"),
        "{shown}"
    );
    assert!(!shown.contains("topsecret"));
    let out = bin()
        .args(["print-config", "--listen", "127.0.0.1:7000"])
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains("127.0.0.1:7000"));
}

#[test]
fn clear_errors() {
    let dir = temp_dir("errors");
    let out = run(&dir, &["serve", "--colour"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unexpected argument '--colour'"),
        "{}",
        text(&out.stderr)
    );

    let out = bin()
        .args([
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "migrate",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot open the database postgres://nobody@127.0.0.1:1/none")
            && err.contains("cannot connect"),
        "{err}"
    );

    let out = bin()
        .args(["--database-url", "mysql://x/y", "migrate"])
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("unsupported database URL"),
        "{}",
        text(&out.stderr)
    );

    let out = bin()
        .args(["--data-dir", "/proc/shangji-cannot-be-here", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot create data directory /proc/shangji-cannot-be-here"),
        "{}",
        text(&out.stderr)
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&dir, &["serve", "--listen", &addr], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&format!(
            "cannot listen on {addr}: the port is already in use"
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn hand_a_leaving_user_over_from_the_command_line() {
    let dir = temp_dir("handover");
    for (login, role) in [("boss", "admin"), ("leaving", "rep"), ("staying", "rep")] {
        let out = run(
            &dir,
            &["user", "add", login, "--role", role, "--password-stdin"],
            Some("secret1234\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = run(
        &dir,
        &[
            "handover",
            "--from",
            "leaving",
            "--to",
            "staying",
            "--dry-run",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("nothing to move"),
        "{}",
        text(&out.stdout)
    );
    let out = run(
        &dir,
        &["handover", "--from", "leaving", "--to", "leaving"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("receivers"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        &dir,
        &[
            "handover",
            "--from",
            "leaving",
            "--to",
            "staying",
            "--deactivate",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("handover 1 from leaving: done"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&dir, &["user", "list"], None);
    let list = text(&out.stdout);
    let leaving = list.lines().find(|l| l.contains("\tleaving\t")).unwrap();
    assert!(leaving.ends_with("inactive"), "{list}");
}

/// `serve` as a service manager runs it: ready once its jobs turn, metrics for the token's
/// bearer, and on SIGTERM it stops cleanly, leaving the database in one file (the
/// write-ahead log checkpointed and emptied).
#[cfg(unix)]
#[tokio::test]
async fn serve_is_ready_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("sigterm");
    let (mut child, addr) = serving(&dir).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");
    let ready: serde_json::Value = client
        .get(url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ready["jobs"].as_array().unwrap().len() >= 5, "{ready}");
    let metrics = client
        .get(url("/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"shangji_job_healthy{name="analytics projection"} 1"#),
        "{metrics}"
    );
    let wal = dir.join("shangji.db-wal");
    assert!(wal.exists(), "the server writes through its log");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = status.expect("stopped within 30 s of SIGTERM");
    assert!(status.success(), "{status}");
    let left = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(left, 0, "the write-ahead log is checkpointed into the file");
}

/// Starts `serve` on a free port of the data directory `dir` (metrics for the bearer of
/// `scrape-secret`); the child and its address, once it is ready.
#[cfg(unix)]
async fn serving(dir: &std::path::Path) -> (std::process::Child, String) {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let mut child = bin()
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &addr])
        .env_remove("SHANGJI_DATABASE_URL")
        .env("SHANGJI_METRICS_TOKEN", "scrape-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("http://{addr}/readyz")).await {
            if r.status() == 200 {
                return (child, addr);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("not ready within 20 s");
}

/// kill -9 while four clients create deals: after a restart every deal whose creation was
/// answered 201 is there, with its history.
#[cfg(unix)]
#[tokio::test]
async fn every_acknowledged_write_survives_a_kill_9() {
    let dir = temp_dir("kill9");
    let out = run(
        &dir,
        &["user", "add", "boss", "--role", "admin", "--password-stdin"],
        Some("secret1234\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&dir, &["token", "create", "boss"], None);
    let token = text(&out.stdout).trim().to_string();
    let (mut server, addr) = serving(&dir).await;
    let client = reqwest::Client::new();
    let account: serde_json::Value = client
        .post(format!("http://{addr}/api/v1/accounts"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "崩溃测试有限公司"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = account["id"].as_i64().unwrap();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (client, token, addr) = (client.clone(), token.clone(), addr.clone());
        let acknowledged = acknowledged.clone();
        clients.push(tokio::spawn(async move {
            for i in 0.. {
                let title = format!("客户端{c} 第{i}单");
                let sent = client
                    .post(format!("http://{addr}/api/v1/opportunities"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({
                        "title": title, "account_id": account, "amount_minor": 100_000 + i
                    }))
                    .send()
                    .await;
                let Ok(resp) = sent else { return };
                if resp.status() != 201 {
                    return;
                }
                let Ok(v) = resp.json::<serde_json::Value>().await else {
                    return;
                };
                acknowledged
                    .lock()
                    .unwrap()
                    .push((v["id"].as_i64().unwrap(), title));
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 10,
        "{} writes before the kill",
        acknowledged.len()
    );

    let (mut server, addr) = serving(&dir).await;
    for (id, title) in &acknowledged {
        let resp = client
            .get(format!("http://{addr}/api/v1/opportunities/{id}/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "deal {id}");
        let events: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(events[0]["kind"], "created", "deal {id}: {events}");
        let deal: serde_json::Value = client
            .get(format!("http://{addr}/api/v1/opportunities/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(deal["title"], title.as_str());
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

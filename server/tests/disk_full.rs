//! A full disk under a billing server on SQLite, on a small filesystem the test mounts (tmpfs):
//! while it is full, writes fail with a clear 503 and reads keep working; once space is freed,
//! the server recovers by itself (no connection is left inside a dead transaction, and the
//! usage journal takes events again), with no restart.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{error, user, Api};
use serde_json::json;

/// A tmpfs of `size` at a fresh directory (kept, as `_dir`, until after the unmount), unmounted
/// when dropped.
struct Small(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Small {
    fn mount(size: &str) -> Small {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("small");
        std::fs::create_dir(&at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a small filesystem needs root (scripts/test.sh runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Small(at, dir)
    }
}

impl Drop for Small {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the filesystem at `dir` to the last byte.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    while f.write_all(&[0]).is_ok() {}
    let _ = f.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_refuses_writes_clearly_and_recovers_by_itself() {
    let small = Small::mount("16m");
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", small.0.join("nubes.db").display()),
        usage_journal: Some(small.0.join("usage-journal")),
        compute: Some("memory://?images=img".into()),
        billing: true,
        ..Default::default()
    };
    let state = nubes_server::state(&config).await.unwrap();
    let api = Api {
        app: nubes_server::app(state.clone()),
    };
    let alice = user(&api, "alice@example.com").await;
    let web = json!({"name": "web", "image": "img", "cpus": 0.1, "memory": 64 << 20});
    let (status, created) = api.post("/v1/instances", Some(&alice), web).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();

    let filler = fill(&small.0);
    let creds = json!({"email": "bob@example.com", "password": "correct horse battery"});
    let refused = api.post("/v1/auth/register", None, creds.clone()).await;
    error(&refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(
        refused.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("out of disk space"),
        "{}",
        refused.1
    );
    let more = json!({"name": "more", "image": "img", "cpus": 0.1, "memory": 64 << 20});
    let res = api.post("/v1/instances", Some(&alice), more.clone()).await;
    assert_eq!(res.0, StatusCode::SERVICE_UNAVAILABLE, "{}", res.1);
    // The stop happens; its usage event cannot be journaled, and says so in the log.
    let stop = api
        .post(&format!("/v1/instances/{id}/stop"), Some(&alice), json!({}))
        .await;
    assert_eq!(stop.0, StatusCode::OK, "{}", stop.1);
    // Reads go on.
    assert_eq!(api.get("/v1/auth/me", Some(&alice)).await.0, StatusCode::OK);
    assert_eq!(
        api.get("/v1/instances", Some(&alice)).await.0,
        StatusCode::OK
    );

    // Space comes back: the next writes go through at once, and commit.
    std::fs::remove_file(filler).unwrap();
    let started = Instant::now();
    assert_eq!(
        api.post("/v1/auth/register", None, creds.clone()).await.0,
        StatusCode::CREATED
    );
    let bob = api.post("/v1/auth/login", None, creds).await;
    assert_eq!(bob.0, StatusCode::OK, "{}", bob.1);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no write waited out a lock held by a dead transaction"
    );
    let bob = bob.1["access_token"].as_str().unwrap().to_string();
    assert_eq!(api.get("/v1/auth/me", Some(&bob)).await.0, StatusCode::OK);
    let res = api.post("/v1/instances", Some(&alice), more).await;
    assert_eq!(res.0, StatusCode::CREATED, "{}", res.1);
    // The usage journal takes events again: a tick (which journals what it finds running)
    // works, and so does a start.
    let start = api
        .post(
            &format!("/v1/instances/{id}/start"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(start.0, StatusCode::OK, "{}", start.1);
    state.instances.meter().await.unwrap();
    let (unbalanced, total) = state.accounts.db().ledger_audit().await.unwrap();
    assert!(
        unbalanced.is_empty() && total == 0,
        "{unbalanced:?} {total}"
    );
}

/// The usage journal on a full disk: appends fail (Unavailable, nothing recorded) instead of
/// tearing the file, and once space is freed appends go on numbering without a gap, and a
/// reader (or a restart) sees every recorded event and nothing of the failed ones.
#[tokio::test(flavor = "multi_thread")]
async fn the_usage_journal_recovers_from_a_full_disk() {
    use nubes_billing::journal::{Cursor, Entry, Journal, Options};
    let small = Small::mount("1m");
    let dir = small.0.join("journal");
    let journal = Journal::open(&dir, Options::default()).unwrap();
    let entry = |at: i64| Entry {
        instance: "nb-0123456789abcdef".into(),
        seq: None,
        transition: nubes_billing::Transition::Started,
        at,
        size: nubes_billing::Resources::new(1000, 1 << 30, 0, 0),
    };
    let filler = fill(&small.0);
    let mut recorded = 0;
    let failed = loop {
        match journal.append(vec![entry(recorded)]).await {
            Ok(_) => recorded += 1,
            Err(e) => break e,
        }
        assert!(recorded < 1_000_000, "the disk never filled");
    };
    assert_eq!(failed.kind(), nubes::ErrorKind::Unavailable, "{failed}");
    assert!(journal.append(vec![entry(-1)]).await.is_err(), "still full");

    std::fs::remove_file(filler).unwrap();
    let got = journal.append(vec![entry(recorded)]).await.unwrap();
    assert_eq!(
        got[0].seq(),
        recorded as u64 + 1,
        "numbering goes on without a gap"
    );
    let seqs = |j: &Journal| {
        let (records, _) = j.read(Cursor::default(), usize::MAX).unwrap();
        records
            .into_iter()
            .map(|(r, _)| r.event.seq)
            .collect::<Vec<_>>()
    };
    let want: Vec<u64> = (1..=recorded as u64 + 1).collect();
    assert_eq!(seqs(&journal), want);
    drop(journal);
    let reopened = Journal::open(&dir, Options::default()).unwrap();
    assert_eq!(seqs(&reopened), want, "a restart reads the same");
}

//! Every documented route, fuzzed by schemathesis against a live server (real TCP, every service
//! configured, mail through the real SMTP server): whatever it sends, the answer is never a 5xx.
//! 501 is allowed: it is the answer by design for an operation a provider does not support.

mod common;

use std::sync::Arc;

use common::from_test_script;
use nubes::memory::{MemoryCompute, MemoryDisk, MemoryFunction, MemoryStorage};
use nubes::Bytes;

#[tokio::test(flavor = "multi_thread")]
async fn no_route_answers_a_server_error_to_fuzzed_input() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        smtp_url: Some(from_test_script("NUBES_TEST_SMTP_URL")),
        ..Default::default()
    };
    let cloud = nubes::Cloud::new("memory")
        .with_compute(Arc::new(MemoryCompute::new().with_image("img")))
        .with_storage(Arc::new(MemoryStorage::new()))
        .with_disk(Arc::new(MemoryDisk::new()))
        .with_function(Arc::new(
            MemoryFunction::new()
                .with_handler("upper", |b: Bytes| Ok(b.to_ascii_uppercase().into())),
        ));
    let backends = nubes_server::Backends::of(&cloud);
    let url =
        nubes_testing::serve(nubes_server::state_with(&config, backends).await.unwrap()).await;
    // An API token, unlike an access token, outlives the run.
    let token = nubes_testing::api_token(&url, "fuzz@example.com", "fuzz").await;

    let settings = dir.path().join("schemathesis.toml");
    std::fs::write(
        &settings,
        "[checks.not_a_server_error]\nexpected-statuses = [\"2xx\", \"3xx\", \"4xx\", \"501\"]\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(from_test_script("NUBES_TEST_SCHEMATHESIS"))
        .arg("--config-file")
        .arg(&settings)
        .args(["run", &format!("{url}/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error"])
        .args(["--max-examples", "25"])
        // A fixed seed: a failure here replays the same way on any machine.
        .args(["--seed", "20261124"])
        // Revoking the run's own token or session would leave the rest unauthenticated.
        .args(["--exclude-path", "/v1/auth/logout"])
        .args(["--exclude-path", "/v1/auth/tokens/{token}"])
        .arg("--no-color")
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "schemathesis found server errors:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every operation selected (all but the two excluded above) was tested.
    let selected = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Operations:"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("schemathesis says how many operations it selected");
    assert!(
        report.contains(&format!("Tested: {selected}")),
        "not every route was fuzzed:\n{report}"
    );
}

//! The conformance kit against a real Docker Engine. `scripts/test.sh` starts the engine and
//! imports the test image; run alone, these tests fail (not skip) when no engine is reachable.

use nubes_core::conformance::{self, Fixture};
use nubes_core::{Cloud, FunctionSpec};

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

async fn cloud() -> Cloud {
    let uri = std::env::var("NUBES_DOCKER_URI").unwrap_or_else(|_| "docker://".into());
    nubes_docker::connect(&uri).await.unwrap_or_else(|e| {
        panic!("no Docker engine at {uri} ({e}); scripts/test.sh installs and starts one")
    })
}

fn fixture() -> Fixture {
    let image = image();
    Fixture::new(image.clone()).with_functions(
        FunctionSpec::new("echo", image.clone(), ["cat"]),
        FunctionSpec::new(
            "fail",
            image,
            ["sh", "-c", "cat >/dev/null; echo boom >&2; exit 3"],
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn compute() {
    let cloud = cloud().await;
    let report = conformance::compute(cloud.compute().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    for case in ["lifecycle", "exec", "logs", "stats", "resize", "ports"] {
        assert!(
            report.passed.contains(&case),
            "{case} did not run: {report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn function() {
    let cloud = cloud().await;
    let report = conformance::function(cloud.function().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    assert!(report.skipped.is_empty(), "{report}");
}

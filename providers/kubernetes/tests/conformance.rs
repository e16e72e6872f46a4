//! The conformance kits against a real Kubernetes cluster (see `common`).

mod common;

use nubes_core::conformance::{self, Fixture};
use nubes_core::FunctionSpec;

/// Small instances and functions: the test cluster's one node has the machine's two cores, and
/// requests equal limits, so default-sized (one core) pods of three suites at once would not fit.
fn fixture() -> Fixture {
    let image = common::image();
    let mut echo = FunctionSpec::new("echo", image.clone(), ["cat"]);
    let mut fail = FunctionSpec::new(
        "fail",
        image,
        ["sh", "-c", "cat >/dev/null; echo boom >&2; exit 3"],
    );
    echo.cpus = Some(0.1);
    fail.cpus = Some(0.1);
    Fixture::new(common::image())
        .cpus(0.1)
        .with_functions(echo, fail)
}

#[tokio::test(flavor = "multi_thread")]
async fn compute() {
    common::in_namespace("compute", |ns| async move {
        let cloud = nubes_kubernetes::connect(&common::uri(&ns, ""))
            .await
            .unwrap();
        let report = conformance::compute(cloud.compute().unwrap().as_ref(), &fixture()).await;
        println!("{report}");
        for case in [
            "lifecycle",
            "exec",
            "exec_stream",
            "logs",
            "resize",
            "bad_input_creates_nothing",
        ] {
            assert!(
                report.passed.contains(&case),
                "{case} did not run: {report}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn function() {
    common::in_namespace("function", |ns| async move {
        let cloud = nubes_kubernetes::connect(&common::uri(&ns, ""))
            .await
            .unwrap();
        let report = conformance::function(cloud.function().unwrap().as_ref(), &fixture()).await;
        println!("{report}");
        assert!(report.skipped.is_empty(), "{report}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disk() {
    common::in_namespace("disk", |ns| async move {
        let cloud = nubes_kubernetes::connect(&common::uri(&ns, ""))
            .await
            .unwrap();
        let report = conformance::disk(cloud.disk().unwrap().as_ref(), &fixture()).await;
        println!("{report}");
        assert!(
            report.passed.contains(&"create_get_list_delete"),
            "{report}"
        );
    })
    .await;
}

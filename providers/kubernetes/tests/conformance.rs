//! The conformance kits against a real Kubernetes cluster (see `common`).

mod common;

use nubes_core::conformance::{self, Fixture};
use nubes_core::FunctionSpec;

fn fixture() -> Fixture {
    let image = common::image();
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
    let admin = common::admin().await;
    let ns = common::namespace(&admin, "compute").await;
    let cloud = nubes_kubernetes::connect(&common::uri(&ns, "")).await.unwrap();
    let report = conformance::compute(cloud.compute().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    common::drop_namespace(&admin, &ns).await;
    for case in ["lifecycle", "exec", "exec_stream", "logs", "resize", "bad_input_creates_nothing"] {
        assert!(report.passed.contains(&case), "{case} did not run: {report}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn function() {
    let admin = common::admin().await;
    let ns = common::namespace(&admin, "function").await;
    let cloud = nubes_kubernetes::connect(&common::uri(&ns, "")).await.unwrap();
    let report = conformance::function(cloud.function().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    common::drop_namespace(&admin, &ns).await;
    assert!(report.skipped.is_empty(), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn disk() {
    let admin = common::admin().await;
    let ns = common::namespace(&admin, "disk").await;
    let cloud = nubes_kubernetes::connect(&common::uri(&ns, "")).await.unwrap();
    let report = conformance::disk(cloud.disk().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    common::drop_namespace(&admin, &ns).await;
    assert!(report.passed.contains(&"create_get_list_delete"), "{report}");
}

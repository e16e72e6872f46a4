//! The memory provider passes every conformance suite.

use nubes_core::conformance::{self, Fixture};
use nubes_core::memory::{MemoryCompute, MemoryDisk, MemoryFunction, MemoryStorage};
use nubes_core::{Cloud, FunctionError, FunctionSpec};
use std::sync::Arc;

const IMAGE: &str = "nubes-test/busybox:latest";

fn cloud() -> Cloud {
    let functions = MemoryFunction::new()
        .with_handler("echo", Ok)
        .with_handler("fail", |_| {
            Err(FunctionError {
                exit_code: Some(3),
                message: "boom".into(),
            })
        });
    Cloud::new("memory")
        .with_compute(Arc::new(MemoryCompute::new().with_image(IMAGE)))
        .with_disk(Arc::new(MemoryDisk::new()))
        .with_storage(Arc::new(MemoryStorage::new()))
        .with_function(Arc::new(functions))
}

fn fixture() -> Fixture {
    Fixture::new(IMAGE).with_functions(
        FunctionSpec::new("echo", IMAGE, ["echo"]),
        FunctionSpec::new("fail", IMAGE, ["fail"]),
    )
}

#[tokio::test]
async fn compute() {
    let report = conformance::compute(cloud().compute().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    assert!(report.passed.contains(&"lifecycle"));
}

#[tokio::test]
async fn disk() {
    let report = conformance::disk(cloud().disk().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    assert!(report.skipped.is_empty());
}

#[tokio::test]
async fn storage() {
    let report = conformance::storage(cloud().storage().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    assert!(report.skipped.is_empty());
}

#[tokio::test]
async fn function() {
    let report = conformance::function(cloud().function().unwrap().as_ref(), &fixture()).await;
    println!("{report}");
    assert!(report.skipped.is_empty());
}

//! Asynchronous invocations on a real Docker Engine: the call returns while the function still
//! runs, the container goes away once it is done, and no more than `ASYNC_MAX` run at once.

use std::time::{Duration, Instant};

use nubes_core::{Bytes, ErrorKind, FunctionSpec};

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

/// The invocation containers of `function` that exist now.
fn invocations(function: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=io.nubes.kind=invocation"])
        .args([
            "--filter",
            &format!("label=io.nubes.function.name={function}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn async_invocations_run_in_the_background_within_a_bound() {
    let cloud = nubes_docker::connect("docker://").await.unwrap();
    let functions = cloud.function().unwrap();
    let name = format!("async-{}", std::process::id());
    functions
        .deploy(FunctionSpec::new(
            &name,
            image(),
            ["sh", "-c", "cat >/dev/null; sleep 30"],
        ))
        .await
        .unwrap();

    let started = Instant::now();
    let one = functions
        .invoke_async(&name, Bytes::from("x"))
        .await
        .unwrap();
    // The function sleeps 30 s, long enough that none ends while the bound is filled even on a
    // slow two-core CI machine (3 s was not: the first one ended and gave its place back). The
    // call came back while it runs, in its own container.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(invocations(&name), vec![one.id[..12].to_string()]);

    // Past the bound, callers are told to come back later instead of queueing without end.
    let mut taken = vec![one];
    let refused = loop {
        match functions.invoke_async(&name, Bytes::from("x")).await {
            Ok(inv) => taken.push(inv),
            Err(e) => break e,
        }
        assert!(taken.len() <= nubes_docker::ASYNC_MAX, "no bound");
    };
    assert_eq!(refused.kind(), ErrorKind::RateLimited, "{refused}");
    assert!(refused.is_temporary());
    assert_eq!(taken.len(), nubes_docker::ASYNC_MAX);

    // Every one finishes and cleans up after itself.
    let deadline = Instant::now() + Duration::from_secs(150);
    while !invocations(&name).is_empty() {
        assert!(
            Instant::now() < deadline,
            "invocations left: {:?}",
            invocations(&name)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    functions.delete(&name).await.unwrap();
}

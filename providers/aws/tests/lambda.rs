//! Lambda against moto, whose invocations run in containers on the local Docker Engine (the
//! test script builds the runtime image): the function kit, code from a directory, what boto3
//! sees, and bad input that leaves nothing behind.

mod common;

use nubes_core::conformance::{self, Fixture};
use nubes_core::{Bytes, ErrorKind, FunctionSpec};

const RUNTIME: &str = "provided.al2";

/// A zip holding one script, `name`.
fn script(name: &str, body: &str) -> Bytes {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), body).unwrap();
    nubes_aws::zip_dir(dir.path()).unwrap()
}

fn echo() -> FunctionSpec {
    FunctionSpec::new("echo", RUNTIME, ["echo.sh"]).code(script("echo.sh", "cat\n"))
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_passes_the_function_kit() {
    let function = common::cloud_with_role().await.function().unwrap();
    let failing = FunctionSpec::new("fail", RUNTIME, ["fail.sh"])
        .code(script("fail.sh", "echo boom >&2\nexit 3\n"));
    let mut fx = Fixture::new("unused").with_functions(echo(), failing);
    // moto hands the event to the container as one argument, which Linux caps at 128 KiB.
    fx.max_payload = 96 * 1024;
    let report = conformance::function(function.as_ref(), &fx).await;
    println!("{report}");
    assert_eq!(report.passed.len(), 4, "{report}");
    assert!(report.passed.contains(&"invoke_async"), "{report}");
}

/// A directory zipped by the SDK runs with its env; boto3 sees the function as Nubes made it
/// and invokes it too; a function deployed outside Nubes is not Nubes' to see.
#[tokio::test(flavor = "multi_thread")]
async fn code_from_a_directory_runs_and_boto3_agrees() {
    let function = common::cloud_with_role().await.function().unwrap();
    let name = format!("lambda-dir-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    std::fs::write(dir.path().join("lib/greeting.txt"), "hello").unwrap();
    std::fs::write(
        dir.path().join("main.sh"),
        "printf '{\"greeting\":\"%s\",\"to\":\"%s\"}\\n' \"$(cat lib/greeting.txt)\" \"$WHO\"\n",
    )
    .unwrap();
    let mut spec = FunctionSpec::new(&name, RUNTIME, ["main.sh"])
        .code(nubes_aws::zip_dir(dir.path()).unwrap())
        .timeout(std::time::Duration::from_secs(30));
    spec.env.insert("WHO".into(), "nubes".into());
    spec.memory = Some(256 << 20);
    spec.cpus = Some(0.5);
    let info = function.deploy(spec).await.unwrap();
    // Half a vCPU takes 885 MiB on Lambda, more than the 256 MiB asked for: that is its size.
    assert_eq!(
        (info.image.as_str(), info.memory, info.timeout),
        (
            RUNTIME,
            Some(885 << 20),
            Some(std::time::Duration::from_secs(30))
        )
    );
    assert!(info.cpus.is_some_and(|c| c >= 0.5), "{info:?}");
    let out = function.invoke(&name, Bytes::from("{}")).await.unwrap();
    assert!(out.error.is_none(), "{out:?}");
    let got: serde_json::Value = serde_json::from_slice(&out.payload).unwrap();
    assert_eq!(got, serde_json::json!({"greeting": "hello", "to": "nubes"}));

    let seen = common::boto3_lambda(
        "import json\n\
         c = lambda_.get_function(FunctionName=sys.argv[1])['Configuration']\n\
         print(c['Runtime'], c['Handler'], c['MemorySize'], c['Timeout'], c['Environment']['Variables']['WHO'])\n\
         r = lambda_.invoke(FunctionName=sys.argv[1], Payload=b'{}')\n\
         print(json.loads(r['Payload'].read())['to'])",
        &[&name],
    );
    assert_eq!(
        String::from_utf8(seen).unwrap(),
        format!("{RUNTIME} main.sh 885 30 nubes\nnubes\n")
    );

    let stranger = format!("lambda-stranger-{}", std::process::id());
    common::boto3_lambda(
        "import io, zipfile\n\
         b = io.BytesIO()\n\
         zipfile.ZipFile(b, 'w').writestr('h.sh', 'cat')\n\
         lambda_.create_function(FunctionName=sys.argv[1], Runtime='provided.al2', Role=sys.argv[2], Handler='h.sh', Code={'ZipFile': b.getvalue()})",
        &[&stranger, &common::role()],
    );
    assert!(function
        .list()
        .await
        .unwrap()
        .iter()
        .all(|f| f.name != stranger));
    for e in [
        function.get(&stranger).await.map(|_| ()).unwrap_err(),
        function.delete(&stranger).await.unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    }
    function.delete(&name).await.unwrap();
}

/// Each refused with the right kind and a reason, before anything is made.
#[tokio::test(flavor = "multi_thread")]
async fn bad_code_limits_and_payloads_are_refused_and_leave_nothing() {
    let function = common::cloud_with_role().await.function().unwrap();
    let name = format!("lambda-bad-{}", std::process::id());
    let named = |mut s: FunctionSpec| {
        s.name = name.clone();
        s
    };
    let mut not_a_zip = named(echo());
    not_a_zip.code = Some(Bytes::from("#!/bin/sh\ncat\n"));
    let mut no_code = named(echo());
    no_code.code = None;
    let mut cpus = named(echo());
    cpus.cpus = Some(8.0);
    let mut tiny = named(echo());
    tiny.memory = Some(64 << 20);
    let mut two_handlers = named(echo());
    two_handlers.handler = vec!["sh".into(), "echo.sh".into()];
    for (spec, kind, why) in [
        (not_a_zip, ErrorKind::InvalidInput, "zip"),
        (no_code, ErrorKind::InvalidInput, "code"),
        (cpus, ErrorKind::InvalidInput, "14152 MiB"),
        (tiny, ErrorKind::InvalidInput, "128 to 10240 MiB"),
        (two_handlers, ErrorKind::InvalidInput, "one string"),
    ] {
        let e = function.deploy(spec).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{why}: {e}");
        assert!(e.to_string().contains(why), "{e}");
    }
    assert_eq!(
        function.get(&name).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // Without a role, nothing can be deployed: said at deploy, not at some later invoke.
    let roleless = common::cloud().await.function().unwrap();
    let e = roleless.deploy(named(echo())).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("role="), "{e}");

    function.deploy(named(echo())).await.unwrap();
    for payload in ["not json", "{\"unclosed\": "] {
        let e = function
            .invoke(&name, Bytes::from(payload))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{payload}: {e}");
    }
    function.delete(&name).await.unwrap();
}

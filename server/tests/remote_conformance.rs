//! The conformance kit through `nubes-remote` against a live server (real TCP) whose instances run
//! on the real Docker engine: the SDK behaves the same through the platform as on the backend.

use nubes_core::conformance::{self, Fixture};
use nubes_core::{Cloud, FunctionSpec};

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

/// A live server on a real socket, with `config`'s providers, and a cloud signed in to it.
async fn live(config: nubes_server::Config, dir: &tempfile::TempDir) -> Cloud {
    live_server(config, dir).await.0
}

async fn live_server(
    config: nubes_server::Config,
    dir: &tempfile::TempDir,
) -> (Cloud, nubes_server::http::AppState, String) {
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        ..config
    };
    let state = nubes_server::state(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(nubes_server::serve(listener, state.clone()));
    // Sign up and make an API token, as automation would.
    let token = sign_up(&url).await;
    let cloud = nubes_remote::connect_with_token(&url, &token)
        .await
        .unwrap();
    (cloud, state, url)
}

/// The compute kit's cases every way to Docker passes (disk limits where the engine has them).
const COMPUTE_CASES: &[&str] = &[
    "lifecycle",
    "bad_input_creates_nothing",
    "exec",
    "exec_stream",
    "logs",
    "stats",
    "resize",
    "unsupported_operations",
];

fn assert_passed(report: &conformance::Report, cases: &[&str]) {
    println!("{report}");
    for case in cases {
        assert!(
            report.passed.contains(case),
            "{case} did not pass: {report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_compute_passes_the_kit_against_a_live_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        compute: Some("docker://".into()),
        ..Default::default()
    };
    let cloud = live(config, &dir).await;
    let report =
        conformance::compute(cloud.compute().unwrap().as_ref(), &Fixture::new(image())).await;
    assert_passed(&report, &[COMPUTE_CASES, &["disk_limit"]].concat());
}

/// The same kit through every hop of the fleet: nubes-remote → the server → the agent's
/// WebSocket → a real agent → Docker. Exec output and followed logs stream the whole way.
#[tokio::test(flavor = "multi_thread")]
async fn remote_compute_passes_the_kit_through_the_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        compute: Some("fleet://".into()),
        ..Default::default()
    };
    let (cloud, state, url) = live_server(config, &dir).await;
    state
        .accounts
        .bootstrap_admin("admin@example.com")
        .await
        .unwrap();
    let token = state.agents.issue_own("kit-agent").await.unwrap();
    let docker = <nubes::Cloud as nubes::Connect>::connect("docker://")
        .await
        .unwrap()
        .compute()
        .unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let agent = nubes_agent::AgentConfig {
        server: url,
        token,
        name: "kit-agent".into(),
        capacity: nubes_agent::Resources::new(cpus * 1000, 4 << 30, 0, 0),
        labels: Default::default(),
    };
    let running = tokio::spawn(nubes_agent::run(agent, docker));
    let fleet = state.agents.fleet().unwrap().clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !fleet.agents().iter().any(|a| a.online) {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never came online"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let report =
        conformance::compute(cloud.compute().unwrap().as_ref(), &Fixture::new(image())).await;
    running.abort();
    assert_passed(&report, COMPUTE_CASES);
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_function_passes_the_kit_against_a_live_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        function: Some("docker://".into()),
        ..Default::default()
    };
    let cloud = live(config, &dir).await;
    let fixture = Fixture::new(image()).with_functions(
        FunctionSpec::new("echo", image(), ["cat"]),
        FunctionSpec::new(
            "fail",
            image(),
            ["sh", "-c", "cat >/dev/null; echo boom >&2; exit 3"],
        ),
    );
    let report = conformance::function(cloud.function().unwrap().as_ref(), &fixture).await;
    assert_eq!(report.skipped, vec![], "{report}");
}

/// Asynchronous invocations hold one of the caller's running invocations until they end, as
/// synchronous ones do: a caller cannot start more than the bound by not waiting.
#[tokio::test(flavor = "multi_thread")]
async fn async_invocations_count_against_the_running_bound() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        function: Some("docker://".into()),
        ..Default::default()
    };
    let cloud = live(config, &dir).await;
    let functions = cloud.function().unwrap();
    functions
        .deploy(FunctionSpec::new(
            "slow",
            image(),
            ["sh", "-c", "cat >/dev/null; sleep 4"],
        ))
        .await
        .unwrap();
    let bound = nubes_server::functions::INVOCATIONS_PER_USER;
    for _ in 0..bound {
        functions
            .invoke_async("slow", nubes_core::Bytes::from("x"))
            .await
            .unwrap();
    }
    let refused = functions
        .invoke_async("slow", nubes_core::Bytes::from("x"))
        .await
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        nubes_core::ErrorKind::RateLimited,
        "{refused}"
    );
    let sync = functions
        .invoke("slow", nubes_core::Bytes::from("x"))
        .await
        .unwrap_err();
    assert_eq!(sync.kind(), nubes_core::ErrorKind::RateLimited, "{sync}");
    // Once they end, the caller may start more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match functions
            .invoke_async("slow", nubes_core::Bytes::from("x"))
            .await
        {
            Ok(_) => break,
            Err(e) if e.kind() == nubes_core::ErrorKind::RateLimited => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the bound never freed"
                );
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_storage_passes_the_kit_against_a_live_server() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    let config = nubes_server::Config {
        storage: Some(format!("local://{}", objects.display())),
        ..Default::default()
    };
    let cloud = live(config, &dir).await;
    let report =
        conformance::storage(cloud.storage().unwrap().as_ref(), &Fixture::new(image())).await;
    assert_eq!(report.skipped, vec![], "{report}");
}

/// Tenants' buckets on S3 (moto, started by the test script): the server's own names for them
/// are valid bucket names, and S3's answers keep their meaning through the API.
#[tokio::test(flavor = "multi_thread")]
async fn remote_storage_passes_the_kit_on_s3_behind_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = std::env::var("NUBES_TEST_AWS_ENDPOINT")
        .expect("NUBES_TEST_AWS_ENDPOINT is unset: run through scripts/test.sh, which starts moto");
    let config = nubes_server::Config {
        storage: Some(format!("aws://us-east-1?endpoint={endpoint}")),
        ..Default::default()
    };
    let cloud = live(config, &dir).await;
    let storage = cloud.storage().unwrap();
    let report = conformance::storage(storage.as_ref(), &Fixture::new(image())).await;
    assert_eq!(report.skipped, vec![], "{report}");
    assert!(report.passed.contains(&"presign"), "{report}");

    // A tenant's read URL works for anyone, with plain curl, and only for what exists.
    storage.create_bucket("shared").await.unwrap();
    storage
        .put("shared", "a/b.txt", nubes_core::byte_stream("for anyone"))
        .await
        .unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let url = storage
        .presign("shared", "a/b.txt", nubes_core::PresignMethod::Get, hour)
        .await
        .unwrap();
    let fetched = std::process::Command::new("curl")
        .args(["-fsS", &url.url])
        .output()
        .unwrap();
    assert_eq!(fetched.stdout, b"for anyone", "{fetched:?}");
    let missing = storage
        .presign("shared", "nothing", nubes_core::PresignMethod::Get, hour)
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), nubes_core::ErrorKind::NotFound, "{missing}");
    let write = storage
        .presign("shared", "new", nubes_core::PresignMethod::Put, hour)
        .await
        .unwrap_err();
    assert_eq!(write.kind(), nubes_core::ErrorKind::Unsupported, "{write}");
}

/// moto's address, from the test script.
fn moto() -> String {
    std::env::var("NUBES_TEST_AWS_ENDPOINT")
        .expect("NUBES_TEST_AWS_ENDPOINT is unset: run through scripts/test.sh, which starts moto")
}

/// EC2 instances and EBS volumes behind the server: tenants see their own, by their names.
#[tokio::test(flavor = "multi_thread")]
async fn remote_compute_and_disk_pass_the_kits_on_ec2_and_ebs_behind_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let aws = format!("aws://us-east-1?endpoint={}", moto());
    // Without a security group and image owners, a server refuses EC2 for tenants.
    let unsafe_config = nubes_server::Config {
        compute: Some(aws.clone()),
        ..Default::default()
    };
    let refused = nubes_server::Backends::connect(&unsafe_config)
        .await
        .unwrap_err();
    assert!(refused.message().contains("security_group="), "{refused}");
    let group = std::process::Command::new(std::env::var("NUBES_TEST_AWS_PYTHON").unwrap())
        .args(["-c", &format!(
            "import boto3, uuid; ec2 = boto3.client('ec2', endpoint_url='{}', region_name='us-east-1')\n\
             print(ec2.create_security_group(GroupName='nubes-' + uuid.uuid4().hex, Description='tenants: no member lets another in')['GroupId'])",
            moto()
        )])
        .output()
        .unwrap();
    let group = String::from_utf8(group.stdout).unwrap().trim().to_string();
    let config = nubes_server::Config {
        compute: Some(format!("{aws}&security_group={group}&image_owners=amazon")),
        disk: Some(aws),
        ..Default::default()
    };
    let cloud = live(config, &dir).await;
    let ami = std::process::Command::new(std::env::var("NUBES_TEST_AWS_PYTHON").unwrap())
        .args(["-c", &format!(
            "import boto3; print(boto3.client('ec2', endpoint_url='{}', region_name='us-east-1').describe_images(Owners=['amazon'])['Images'][0]['ImageId'])",
            moto()
        )])
        .output()
        .unwrap();
    let ami = String::from_utf8(ami.stdout).unwrap().trim().to_string();
    let mut fx = Fixture::new(ami).excuse(
        "logs",
        "moto's console output is canned text: it never shows the instance's command",
    )
    .excuse(
        "stats",
        "moto publishes no metrics: nothing runs on its instances (stats are tested with metric data put in)",
    );
    fx.missing_image = "ami-0123456789abcdef0".into();
    let report = conformance::compute(cloud.compute().unwrap().as_ref(), &fx).await;
    for case in [
        "lifecycle",
        "bad_input_creates_nothing",
        "resize",
        "list_filters",
    ] {
        assert!(
            report.passed.contains(&case),
            "{case} did not run: {report}"
        );
    }
    let report = conformance::disk(cloud.disk().unwrap().as_ref(), &Fixture::new("unused")).await;
    assert_eq!(report.passed.len(), 4, "{report}");
}

/// Lambda behind the server: code goes up as base64, payloads are JSON, and asynchronous
/// invocations are the server's own.
#[tokio::test(flavor = "multi_thread")]
async fn remote_function_passes_the_kit_on_lambda_behind_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let python = std::env::var("NUBES_TEST_AWS_PYTHON").unwrap();
    let role = std::process::Command::new(python)
        .args(["-c", &format!(
            "import boto3\niam = boto3.client('iam', endpoint_url='{}', region_name='us-east-1')\n\
             try:\n    print(iam.create_role(RoleName='nubes-test', AssumeRolePolicyDocument='{{}}')['Role']['Arn'])\n\
             except iam.exceptions.EntityAlreadyExistsException:\n    print(iam.get_role(RoleName='nubes-test')['Role']['Arn'])",
            moto()
        )])
        .output()
        .unwrap();
    assert!(role.status.success(), "{role:?}");
    let role = String::from_utf8(role.stdout).unwrap().trim().to_string();
    let config = nubes_server::Config {
        function: Some(format!("aws://us-east-1?endpoint={}&role={role}", moto())),
        ..Default::default()
    };
    let cloud = live(config, &dir).await;
    let zip = |name: &str, body: &str| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(name), body).unwrap();
        nubes::aws::zip_dir(d.path()).unwrap()
    };
    let mut fixture = Fixture::new("unused").with_functions(
        FunctionSpec::new("echo", "provided.al2", ["echo.sh"]).code(zip("echo.sh", "cat\n")),
        FunctionSpec::new("fail", "provided.al2", ["fail.sh"])
            .code(zip("fail.sh", "echo boom >&2\nexit 3\n")),
    );
    // moto hands the event to the container as one argument, which Linux caps at 128 KiB.
    fixture.max_payload = 96 * 1024;
    let report = conformance::function(cloud.function().unwrap().as_ref(), &fixture).await;
    assert_eq!(report.skipped, vec![], "{report}");
    assert!(report.passed.contains(&"invoke_async"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_disk_passes_the_kit_against_a_live_server() {
    let dir = tempfile::tempdir().unwrap();
    // Real images: qemu-img in a pool of the test's own.
    let config = nubes_server::Config {
        disk: Some(format!(
            "qemu://?pool={}",
            dir.path().join("images").display()
        )),
        ..Default::default()
    };
    let cloud = live(config, &dir).await;
    let report = conformance::disk(cloud.disk().unwrap().as_ref(), &Fixture::new(image())).await;
    assert_eq!(report.skipped, vec![], "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_a_provider_offers_no_such_service() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = live(nubes_server::Config::default(), &dir).await;
    for kind in [
        cloud.compute().map(|_| ()).unwrap_err().kind(),
        cloud.storage().map(|_| ()).unwrap_err().kind(),
        cloud.disk().map(|_| ()).unwrap_err().kind(),
        cloud.function().map(|_| ()).unwrap_err().kind(),
    ] {
        assert_eq!(kind, nubes_core::ErrorKind::Unsupported);
    }
}

/// Registers a user and returns a fresh API token, speaking HTTP/1.1 over a plain socket.
async fn sign_up(url: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let creds =
        serde_json::json!({"email": "kit@example.com", "password": "correct horse battery"});
    post(addr, "/v1/auth/register", None, &creds).await;
    let tokens = post(addr, "/v1/auth/login", None, &creds).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let created = post(
        addr,
        "/v1/auth/tokens",
        Some(&access),
        &serde_json::json!({"name": "kit"}),
    )
    .await;
    created["token"].as_str().unwrap().to_string()
}

async fn post(
    addr: &str,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).await.unwrap();
    let (head, json) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 2"), "{path}: {response}");
    serde_json::from_str(json).unwrap()
}

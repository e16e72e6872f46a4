//! cloudctl end to end: the real binary against a real Docker Engine and a local directory.
//! `scripts/test.sh` starts the engine and imports the test image.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

fn cloudctl(args: &[&str]) -> Output {
    cloudctl_with_stdin(args, b"")
}

fn cloudctl_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let config = std::path::Path::new("/nonexistent/nubes-test/config.yaml");
    cloudctl_in(config, &[], args, stdin)
}

/// `cloudctl` with its configuration in `config` and none of `unset` from this environment.
fn cloudctl_in(config: &std::path::Path, unset: &[&str], args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cloudctl"));
    command
        .args(args)
        .env("NUBES_CONFIG", config)
        .env_remove("NUBES_PROVIDER");
    for var in unset {
        command.env_remove(var);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cloudctl runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[track_caller]
fn fails(out: &Output, code: i32, says: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains(says),
        "stderr {:?} does not say {says:?}",
        text(&out.stderr)
    );
}

fn unique(what: &str) -> String {
    format!("cli-{what}-{}", std::process::id())
}

#[test]
fn instance_lifecycle_on_docker() {
    let name = unique("web");
    let image = image();
    let created = ok(&cloudctl(&[
        "-o",
        "json",
        "instance",
        "create",
        &name,
        "--image",
        &image,
        "--cpus",
        "1",
        "--memory",
        "256Mi",
        "--label",
        "suite=cli",
        "--",
        "sh",
        "-c",
        "echo started; sleep 3600",
    ]));
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(created["state"], "running");
    assert_eq!(created["memory"], 256 << 20);
    assert_eq!(created["cpus"], 1.0);

    let listed = ok(&cloudctl(&["vm", "list", "--label", "suite=cli"]));
    assert!(listed.lines().next().unwrap().starts_with("ID"), "{listed}");
    assert!(listed.contains(&name), "{listed}");

    // The remote command's exit code becomes cloudctl's.
    let out = cloudctl(&[
        "instance",
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "echo hi; echo oops >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(text(&out.stdout), "hi\n");
    assert_eq!(text(&out.stderr), "oops\n");
    let out = cloudctl_with_stdin(
        &["instance", "exec", "-i", &name, "--", "wc", "-c"],
        b"12345",
    );
    assert_eq!(ok(&out).trim(), "5");
    fails(
        &cloudctl(&["instance", "exec", &name, "--", "no-such-binary"]),
        3,
        "no such executable",
    );

    let yaml = ok(&cloudctl(&["-o", "yaml", "instance", "stats", &name]));
    assert!(
        yaml.contains(&format!("memory_limit_bytes: {}", 256 << 20)),
        "{yaml}"
    );
    let logs = ok(&cloudctl(&["instance", "logs", &name]));
    assert_eq!(logs, "started\n");

    let stopped = ok(&cloudctl(&["instance", "stop", &name, "--timeout", "2s"]));
    assert!(stopped.contains("stopped"), "{stopped}");
    fails(
        &cloudctl(&["instance", "exec", &name, "--", "true"]),
        11,
        "not running",
    );
    assert!(ok(&cloudctl(&["instance", "start", &name])).contains("running"));
    assert!(ok(&cloudctl(&[
        "instance",
        "restart",
        &name,
        "--timeout",
        "1s"
    ]))
    .contains("running"));
    let resized = ok(&cloudctl(&[
        "instance", "resize", &name, "--memory", "128Mi",
    ]));
    assert!(resized.contains("128Mi"), "{resized}");

    fails(&cloudctl(&["instance", "delete", &name]), 11, "running");
    ok(&cloudctl(&["instance", "delete", &name, "--force"]));
    fails(&cloudctl(&["instance", "get", &name]), 3, "not found");
}

#[test]
fn bad_input_has_clear_errors_and_distinct_exit_codes() {
    let image = image();
    let name = unique("bad");
    fails(
        &cloudctl(&[
            "instance", "create", &name, "--image", &image, "--cpus", "-1",
        ]),
        5,
        "cpus must be a positive number",
    );
    fails(
        &cloudctl(&[
            "instance", "create", &name, "--image", &image, "--cpus", "0",
        ]),
        5,
        "cpus",
    );
    fails(
        &cloudctl(&["instance", "create", "Bad Name", "--image", &image]),
        5,
        "invalid instance name",
    );
    fails(
        &cloudctl(&[
            "instance",
            "create",
            &name,
            "--image",
            "nubes-test/never:none",
        ]),
        3,
        "image nubes-test/never:none not found",
    );
    fails(
        &cloudctl(&[
            "instance", "create", &name, "--image", &image, "--memory", "0",
        ]),
        5,
        "memory",
    );
    fails(
        &cloudctl(&[
            "instance",
            "create",
            &name,
            "--image",
            &image,
            "--",
            "no-such-binary",
        ]),
        5,
        "cannot be started",
    );
    // Nothing was left behind by any of those.
    fails(&cloudctl(&["instance", "get", &name]), 3, "not found");
    fails(
        &cloudctl(&[
            "instance", "create", &name, "--image", &image, "--memory", "12XB",
        ]),
        2,
        "unknown unit",
    );
    fails(
        &cloudctl(&["instance", "get", "nonexistent-instance-xyz"]),
        3,
        "not found",
    );
    fails(
        &cloudctl(&["--provider", "nope://", "instance", "list"]),
        5,
        "no provider for `nope://`",
    );
    fails(&cloudctl(&["bucket", "list"]), 6, "--provider local://");
    fails(
        &cloudctl(&[
            "--provider",
            "docker:///nonexistent/docker.sock",
            "instance",
            "list",
        ]),
        14,
        "is dockerd running?",
    );
}

#[test]
fn images_import_list_run_delete() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo", "sleep"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    let tarball = dir.path().join("rootfs.tar");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());

    let reference = format!("nubes-test/imported:{}", std::process::id());
    let imported = ok(&cloudctl(&[
        "image",
        "import",
        tarball.to_str().unwrap(),
        "--name",
        &reference,
        "--change",
        r#"CMD ["/bin/sh"]"#,
        "--change",
        "ENV PATH=/bin",
    ]));
    assert!(imported.contains(&reference), "{imported}");
    assert!(ok(&cloudctl(&["image", "list"])).contains(&reference));

    let name = unique("imported");
    ok(&cloudctl(&[
        "instance", "create", &name, "--image", &reference, "--", "sleep", "600",
    ]));
    assert_eq!(
        ok(&cloudctl(&[
            "instance",
            "exec",
            &name,
            "--",
            "echo",
            "from the tarball"
        ])),
        "from the tarball\n"
    );
    fails(&cloudctl(&["image", "delete", &reference]), 11, "in use");
    ok(&cloudctl(&["instance", "delete", "--force", &name]));
    ok(&cloudctl(&["image", "delete", &reference]));
    fails(&cloudctl(&["image", "delete", &reference]), 3, "not found");

    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, b"this is not a tarball").unwrap();
    fails(
        &cloudctl(&[
            "image",
            "import",
            garbage.to_str().unwrap(),
            "--name",
            "nubes-test/garbage:1",
        ]),
        5,
        "could not import the tarball",
    );
    fails(
        &cloudctl(&["image", "import", "/nonexistent.tar", "--name", "x/y:1"]),
        3,
        "/nonexistent.tar",
    );
    fails(
        &cloudctl(&["--provider", "memory://", "image", "list"]),
        6,
        "Docker engine",
    );
}

/// The same commands on S3 (moto, started by the test script): a stream from stdin, ranges,
/// `-` for stdout, and S3's refusals as the usual exit codes.
#[test]
fn buckets_and_objects_on_s3() {
    let endpoint = std::env::var("NUBES_TEST_AWS_ENDPOINT")
        .expect("NUBES_TEST_AWS_ENDPOINT is unset: run through scripts/test.sh, which starts moto");
    let provider = format!("aws://us-east-1?endpoint={endpoint}");
    let p = ["--provider", provider.as_str()];
    let run = |args: &[&str]| cloudctl(&[&p[..], args].concat());
    let bucket = format!("cli-{}", std::process::id());
    ok(&run(&["bucket", "create", &bucket]));
    fails(&run(&["bucket", "create", &bucket]), 4, "already exists");
    let data: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    ok(&cloudctl_with_stdin(
        &[&p[..], &["object", "put", &bucket, "big.bin", "-"]].concat(),
        &data,
    ));
    let got = run(&["object", "get", &bucket, "big.bin", "-"]);
    assert!(got.stdout == data, "read back {} bytes", got.stdout.len());
    ok(&cloudctl_with_stdin(
        &[
            &p[..],
            &[
                "object",
                "put",
                &bucket,
                "parts.bin",
                "-",
                "--part-size",
                "5Mi",
            ],
        ]
        .concat(),
        &data,
    ));
    assert!(run(&["object", "get", &bucket, "parts.bin", "-"]).stdout == data);
    ok(&run(&["object", "delete", &bucket, "parts.bin"]));
    let ranged = run(&["object", "get", &bucket, "big.bin", "--range", "10-14"]);
    assert_eq!(ranged.stdout, &data[10..14]);
    fails(
        &run(&["object", "get", &bucket, "missing"]),
        3,
        "does not exist",
    );
    // A URL anyone can read with, until it expires.
    let url = ok(&run(&[
        "object",
        "presign",
        &bucket,
        "big.bin",
        "--expires",
        "10m",
    ]));
    let fetched = std::process::Command::new("curl")
        .args(["-fsS", "-r", "0-99", url.trim()])
        .output()
        .unwrap();
    assert_eq!(fetched.stdout, &data[..100], "{}", text(&fetched.stderr));
    fails(
        &run(&["object", "presign", &bucket, "big.bin", "--expires", "30d"]),
        5,
        "7 days",
    );
    fails(&run(&["bucket", "delete", &bucket]), 11, "bucket");
    ok(&run(&["object", "delete", &bucket, "big.bin"]));
    ok(&run(&["bucket", "delete", &bucket]));
}

/// Instances on EC2, disks on EBS and functions on Lambda (moto, started by the test script),
/// through the same commands as every provider.
#[test]
fn instances_disks_and_functions_on_aws() {
    let endpoint = std::env::var("NUBES_TEST_AWS_ENDPOINT")
        .expect("NUBES_TEST_AWS_ENDPOINT is unset: run through scripts/test.sh, which starts moto");
    let python = std::env::var("NUBES_TEST_AWS_PYTHON").unwrap();
    let boto3 = |code: &str| {
        let out = std::process::Command::new(&python)
            .args(["-c", &format!("import boto3\nkw = dict(endpoint_url='{endpoint}', region_name='us-east-1')\n{code}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    };
    let ami = boto3("print(boto3.client('ec2', **kw).describe_images(Owners=['amazon'])['Images'][0]['ImageId'])");
    let role = boto3(
        "iam = boto3.client('iam', **kw)\n\
         try:\n    print(iam.create_role(RoleName='nubes-test', AssumeRolePolicyDocument='{}')['Role']['Arn'])\n\
         except iam.exceptions.EntityAlreadyExistsException:\n    print(iam.get_role(RoleName='nubes-test')['Role']['Arn'])",
    );
    let provider = format!("aws://us-east-1?endpoint={endpoint}&role={role}");
    let p = ["--provider", provider.as_str()];
    let run = |args: &[&str]| cloudctl(&[&p[..], args].concat());

    let vm = unique("ec2");
    let made = ok(&run(&[
        "-o", "json", "instance", "create", &vm, "--image", &ami, "--cpus", "1", "--memory", "1Gi",
        "-l", "team=web",
    ]));
    let made: serde_json::Value = serde_json::from_str(&made).unwrap();
    assert_eq!(
        (&made["state"], &made["cpus"]),
        (&serde_json::json!("running"), &serde_json::json!(2.0)),
        "{made}"
    );
    fails(
        &run(&["instance", "create", &vm, "--image", &ami]),
        4,
        "already exists",
    );
    fails(
        &run(&[
            "instance",
            "create",
            &unique("ec2"),
            "--image",
            "ami-0000000000000000f",
        ]),
        3,
        "does not exist",
    );
    ok(&run(&["instance", "stop", &vm]));
    ok(&run(&["instance", "delete", &vm]));

    let disk = unique("ebs");
    ok(&run(&[
        "disk", "create", &disk, "--size", "1Gi", "--format", "raw",
    ]));
    ok(&run(&["disk", "resize", &disk, "2Gi"]));
    ok(&run(&["disk", "delete", &disk]));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("echo.sh"), "cat\n").unwrap();
    let function = unique("lambda");
    ok(&run(&[
        "function",
        "deploy",
        &function,
        "--image",
        "provided.al2",
        "--code",
        dir.path().to_str().unwrap(),
        "--",
        "echo.sh",
    ]));
    let out = ok(&run(&[
        "function",
        "invoke",
        &function,
        "--payload",
        r#"{"n": 1}"#,
    ]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!({"n": 1})
    );
    let id = ok(&run(&[
        "function",
        "invoke",
        &function,
        "--async",
        "--payload",
        "{}",
    ]));
    assert!(!id.trim().is_empty());
    fails(
        &run(&["function", "invoke", &function, "--payload", "not json"]),
        5,
        "JSON",
    );
    let not_zip = dir.path().join("echo.sh");
    fails(
        &run(&[
            "function",
            "deploy",
            &unique("lambda"),
            "--image",
            "provided.al2",
            "--code",
            not_zip.to_str().unwrap(),
            "--",
            "echo.sh",
        ]),
        5,
        "zip",
    );
    ok(&run(&["function", "delete", &function]));
}

#[test]
fn buckets_and_objects_on_local_storage() {
    let dir = tempfile::tempdir().unwrap();
    let provider = format!("local://{}", dir.path().join("data").display());
    let p = ["--provider", provider.as_str()];
    let run = |args: &[&str]| cloudctl(&[&p[..], args].concat());
    ok(&run(&["bucket", "create", "docs"]));
    fails(&run(&["bucket", "create", "docs"]), 4, "already exists");
    let file = dir.path().join("in.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let put = ok(&run(&[
        "-o",
        "json",
        "object",
        "put",
        "docs",
        "a/in.bin",
        file.to_str().unwrap(),
    ]));
    assert!(put.contains("\"size\": 3000000"), "{put}");
    let out_file = dir.path().join("out.bin");
    ok(&run(&[
        "object",
        "get",
        "docs",
        "a/in.bin",
        out_file.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&out_file).unwrap(), data);
    let ranged = run(&["object", "get", "docs", "a/in.bin", "--range", "10-14"]);
    assert_eq!(ranged.stdout, &data[10..14]);
    // In parts of 5 MiB, two at a time, and back whole.
    let big = dir.path().join("big.bin");
    let many: Vec<u8> = (0..12_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&big, &many).unwrap();
    ok(&run(&[
        "object",
        "put",
        "docs",
        "parts.bin",
        big.to_str().unwrap(),
        "--part-size",
        "5Mi",
        "--parallel",
        "2",
    ]));
    assert!(run(&["object", "get", "docs", "parts.bin", "-"]).stdout == many);
    fails(
        &run(&[
            "object",
            "put",
            "docs",
            "p2",
            big.to_str().unwrap(),
            "--part-size",
            "1Mi",
        ]),
        5,
        "part size",
    );
    ok(&run(&["object", "delete", "docs", "parts.bin"]));
    ok(&cloudctl_with_stdin(
        &[&p[..], &["object", "put", "docs", "b.txt", "-"]].concat(),
        b"from stdin",
    ));
    let list = ok(&run(&["object", "list", "docs"]));
    assert!(
        list.contains("a/in.bin") && list.contains("b.txt"),
        "{list}"
    );
    let page = ok(&run(&[
        "-o", "json", "object", "list", "docs", "--limit", "1",
    ]));
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["objects"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], "a/in.bin");
    fails(
        &run(&["object", "put", "docs", "../escape", file.to_str().unwrap()]),
        5,
        "invalid object key",
    );
    fails(&run(&["object", "get", "docs", "missing"]), 3, "not found");
    fails(&run(&["bucket", "delete", "docs"]), 11, "not empty");
    ok(&run(&["object", "delete", "docs", "a/in.bin"]));
    ok(&run(&["object", "delete", "docs", "b.txt"]));
    ok(&run(&["bucket", "delete", "docs"]));
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn functions_on_docker() {
    let name = unique("fn");
    let image = image();
    ok(&cloudctl(&[
        "function", "deploy", &name, "--image", &image, "--memory", "64Mi", "--", "tr", "a-z",
        "A-Z",
    ]));
    fails(
        &cloudctl(&["function", "deploy", &name, "--image", &image, "--", "cat"]),
        4,
        "already exists",
    );
    let out = cloudctl_with_stdin(&["function", "invoke", &name], b"shout this");
    assert_eq!(ok(&out), "SHOUT THIS");
    assert!(ok(&cloudctl(&["function", "list"])).contains(&name));
    ok(&cloudctl(&["function", "delete", &name]));
    fails(
        &cloudctl(&["function", "invoke", &name, "--payload", "x"]),
        3,
        "not found",
    );

    let failing = unique("fnfail");
    ok(&cloudctl(&[
        "function",
        "deploy",
        &failing,
        "--image",
        &image,
        "--",
        "sh",
        "-c",
        "echo nope >&2; exit 4",
    ]));
    fails(
        &cloudctl(&["function", "invoke", &failing, "--payload", "x"]),
        4,
        "nope",
    );
    ok(&cloudctl(&["function", "delete", &failing]));
}

#[test]
fn help_and_completions() {
    let help = ok(&cloudctl(&["instance", "exec", "--help"]));
    assert!(help.contains("exit code"), "{help}");
    let bash = ok(&cloudctl(&["completion", "bash"]));
    assert!(bash.contains("cloudctl"));
    fails(
        &cloudctl(&["instance", "frobnicate"]),
        2,
        "unrecognized subcommand",
    );
}

/// `cloudctl serve`: the first admin is shown once, and survives a restart.
#[test]
fn serve_bootstraps_an_admin_once_and_keeps_it() {
    use std::io::{BufRead, BufReader, Read};

    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloudctl"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--compute",
                "none",
                "--data-dir",
            ])
            .arg(dir.path())
            .env_remove("NUBES_SERVER_JWT_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        let addr = loop {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(addr) = line.strip_prefix("listening on http://") {
                break addr.to_string();
            }
            printed.push(line);
        };
        (child, addr, printed)
    };
    let login = |addr: &str, email: &str, password: &str| {
        let body = serde_json::json!({"email": email, "password": password}).to_string();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "POST /v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        response
    };

    let (mut first, addr, printed) = start();
    let email = printed
        .iter()
        .find_map(|l| l.strip_prefix("first admin: "))
        .expect("admin shown")
        .trim()
        .to_string();
    let password = printed
        .iter()
        .find_map(|l| l.strip_prefix("password:"))
        .expect("password shown")
        .trim()
        .to_string();
    assert!(login(&addr, &email, &password).starts_with("HTTP/1.1 200"));
    assert!(login(&addr, &email, "wrong password!").starts_with("HTTP/1.1 401"));

    // One server per data directory: a second `serve` or `up` on it is refused, naming the
    // first, and the first goes on serving.
    let holder = format!("(pid {})", first.id());
    for second in [
        &["serve", "--listen", "127.0.0.1:0", "--compute", "none"][..],
        &[
            "up",
            "--listen",
            "127.0.0.1:0",
            "--compute",
            "none",
            "--no-context",
        ][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cloudctl"))
            .args(second)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        fails(&out, 11, "is in use by another cloudctl serve or up");
        assert!(text(&out.stderr).contains(&holder), "{}", text(&out.stderr));
    }
    assert!(login(&addr, &email, &password).starts_with("HTTP/1.1 200"));
    first.kill().unwrap();
    let mut stderr = String::new();
    first
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains(&password), "the password reached stderr");
    first.wait().unwrap();

    let (mut second, addr, printed) = start();
    assert!(
        printed.iter().all(|l| !l.contains("password")),
        "credentials shown twice: {printed:?}"
    );
    assert!(
        login(&addr, &email, &password).starts_with("HTTP/1.1 200"),
        "the admin did not survive a restart"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}

/// `--provider http://...`: the same instance commands against a Nubes server, with an API token.
#[test]
fn instances_through_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = serve_in(dir.path(), "memory://?images=img");
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        http_post(&addr, path, token, body)
    };
    let creds =
        serde_json::json!({"email": "cli@example.com", "password": "correct horse battery"});
    post("/v1/auth/register", None, creds.clone());
    let access = post("/v1/auth/login", None, creds)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let token = post(
        "/v1/auth/tokens",
        Some(&access),
        serde_json::json!({"name": "cli"}),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();

    let provider = format!("http://{addr}");
    let run = |args: &[&str], token: &str| {
        Command::new(env!("CARGO_BIN_EXE_cloudctl"))
            .args(["--provider", &provider])
            .args(args)
            .env("NUBES_TOKEN", token)
            .env("NUBES_CONFIG", "/nonexistent/nubes-test/config.yaml")
            .output()
            .unwrap()
    };
    let created = ok(&run(
        &[
            "-o", "json", "instance", "create", "web", "--image", "img", "--cpus", "1",
        ],
        &token,
    ));
    assert!(created.contains("\"state\": \"running\""), "{created}");
    assert!(ok(&run(&["instance", "list"], &token)).contains("web"));
    assert!(ok(&run(
        &["instance", "stop", "web", "--timeout", "1s"],
        &token
    ))
    .contains("stopped"));
    fails(
        &run(&["instance", "exec", "web", "--", "true"], &token),
        6,
        "unsupported",
    );
    ok(&run(&["instance", "delete", "web"], &token));
    fails(&run(&["instance", "get", "web"], &token), 3, "not found");
    fails(
        &run(
            &["instance", "list"],
            "nba_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        8,
        "invalid token",
    );
    fails(&run(&["instance", "list"], ""), 8, "NUBES_TOKEN");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// `cloudctl login` with a second factor, then commands through the saved context, then logout.
#[test]
fn login_with_totp_uses_contexts_and_logout_revokes() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let (mut server, addr) = serve_in(&dir.path().join("data"), "memory://?images=img");
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        http_post(&addr, path, token, body)
    };
    let password = "correct horse battery";
    let creds = serde_json::json!({"email": "tina@example.com", "password": password});
    post("/v1/auth/register", None, creds.clone());
    let access = post("/v1/auth/login", None, creds)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = post("/v1/auth/totp", Some(&access), serde_json::json!({}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = nubes_auth::TotpSecret::from_base32(&secret).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    post(
        "/v1/auth/totp/confirm",
        Some(&access),
        serde_json::json!({"code": secret.code_at(now)}),
    );

    let server_url = format!("http://{addr}");
    let cloudctl = |args: &[&str], stdin: &[u8]| {
        cloudctl_in(&config, &["NUBES_TOKEN", "NUBES_PASSWORD"], args, stdin)
    };
    let login = [
        "login",
        "--server",
        &server_url,
        "--email",
        "tina@example.com",
        "--password-stdin",
    ];
    fails(
        &cloudctl(&login, b"wrong horse battery\n"),
        8,
        "invalid credentials",
    );
    fails(
        &cloudctl(&login, format!("{password}\n").as_bytes()),
        8,
        "pass --code",
    );
    let code = secret.code_at(now + 30);
    ok(&cloudctl(
        &[&login[..], &["--code", &code]].concat(),
        format!("{password}\n").as_bytes(),
    ));

    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the config file holds a token");
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(!saved.contains(password), "the password was saved");
    let token = saved
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("a token was saved")
        .trim()
        .to_string();

    // No --provider: the current context is used.
    ok(&cloudctl(
        &["instance", "create", "web", "--image", "img"],
        b"",
    ));
    assert!(ok(&cloudctl(&["instance", "list"], b"")).contains("web"));
    let contexts = ok(&cloudctl(&["context", "list"], b""));
    assert!(
        contexts.contains("*") && contexts.contains(&addr),
        "{contexts}"
    );
    fails(
        &cloudctl(&["context", "use", "nowhere"], b""),
        3,
        "no context named nowhere",
    );

    // Logout forgets the context and revokes the token on the server.
    ok(&cloudctl(&["logout"], b""));
    let revoked = Command::new(env!("CARGO_BIN_EXE_cloudctl"))
        .args(["--provider", &server_url, "instance", "list"])
        .env("NUBES_TOKEN", &token)
        .env("NUBES_CONFIG", &config)
        .output()
        .unwrap();
    fails(&revoked, 8, "invalid token");
    fails(&cloudctl(&["logout"], b""), 3, "no current context");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Starts `cloudctl serve` on a free port with its data in `data_dir`; returns it and its address.
fn serve_in(data_dir: &std::path::Path, compute: &str) -> (std::process::Child, String) {
    serve_with(data_dir, compute, &[])
}

fn serve_with(
    data_dir: &std::path::Path,
    compute: &str,
    extra: &[&str],
) -> (std::process::Child, String) {
    let (server, addr, _) = serve_showing_admin(data_dir, compute, extra);
    (server, addr)
}

/// As `serve_with`, with the first admin's email and password as `serve` showed them.
fn serve_showing_admin(
    data_dir: &std::path::Path,
    compute: &str,
    extra: &[&str],
) -> (std::process::Child, String, (String, String)) {
    use std::io::{BufRead, BufReader};
    let mut server = Command::new(env!("CARGO_BIN_EXE_cloudctl"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--compute",
            compute,
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut admin = (String::new(), String::new());
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(email) = line.strip_prefix("first admin: ") {
            admin.0 = email.trim().to_string();
        }
        if let Some(password) = line.strip_prefix("password:") {
            admin.1 = password.trim().to_string();
        }
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_string();
        }
    };
    (server, addr, admin)
}

/// POSTs JSON over a plain socket (HTTP/1.1) and returns the JSON answer.
fn http_post(
    addr: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> serde_json::Value {
    use std::io::Read;
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap()
}

/// `cloudctl up`: the platform on this machine, its first admin signed in through a context, so
/// instance, bucket and object commands reach it; a restart keeps everything and shows no secret.
#[test]
fn up_runs_the_platform_and_signs_the_admin_in() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let up = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloudctl"))
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env("NUBES_CONFIG", &config)
            .env_remove("NUBES_PROVIDER")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        loop {
            let line = lines.next().expect("up printed its banner").unwrap();
            let done = line.starts_with("press Ctrl-C");
            printed.push(line);
            if done {
                break;
            }
        }
        (child, printed)
    };
    let run = |args: &[&str], stdin: &[u8]| cloudctl_in(&config, &["NUBES_TOKEN"], args, stdin);

    let (mut first, printed) = up();
    let shown = printed.join("\n");
    assert!(shown.contains("first admin: admin@nubes.local"), "{shown}");
    assert!(shown.contains("context local is now current"), "{shown}");
    // Instances run on the fleet, this machine's engine leased to it by a local agent whose
    // token is kept for its owner's eyes only.
    assert!(shown.contains("leased to the fleet"), "{shown}");
    let agent_token = dir.path().join("data/agent-token");
    let mode = std::fs::metadata(&agent_token)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    ok(&run(&["bucket", "create", "reports"], b""));
    ok(&run(
        &["object", "put", "reports", "nov/a.txt", "-"],
        b"november",
    ));
    let web = unique("up");
    ok(&run(
        &[
            "instance",
            "create",
            &web,
            "--image",
            &image(),
            "--",
            "sleep",
            "600",
        ],
        b"",
    ));
    assert_eq!(
        ok(&run(&["instance", "exec", &web, "--", "echo", "hi"], b"")),
        "hi\n"
    );
    // Disk images with qemu-img, in the data directory.
    ok(&run(&["disk", "create", "scratch", "--size", "1Gi"], b""));
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, printed) = up();
    assert!(
        printed.iter().all(|l| !l.contains("password")),
        "credentials shown twice: {printed:?}"
    );
    assert_eq!(
        ok(&run(&["object", "get", "reports", "nov/a.txt"], b"")),
        "november"
    );
    assert!(ok(&run(&["instance", "list"], b"")).contains(&web));
    assert!(ok(&run(&["disk", "list"], b"")).contains("scratch"));
    ok(&run(&["instance", "delete", "--force", &web], b""));
    ok(&run(&["disk", "delete", "scratch"], b""));
    second.kill().unwrap();
    second.wait().unwrap();
}

#[test]
fn disks_with_qemu_img() {
    let pool = tempfile::tempdir().unwrap();
    let provider = format!("qemu://?pool={}", pool.path().display());
    let disk = |args: &[&str]| {
        let mut all = vec!["--provider", &provider, "-o", "json", "disk"];
        all.extend_from_slice(args);
        cloudctl(&all)
    };
    let json = |out: &Output| -> serde_json::Value { serde_json::from_str(&ok(out)).unwrap() };
    // cloudctl sizes are SI: G is 10^9 (Gi would be 2^30).
    const G: u64 = 1_000_000_000;

    let base = json(&disk(&[
        "create", "base", "--size", "10G", "--format", "qcow2",
    ]));
    assert_eq!(
        (base["format"].as_str(), base["virtual_size"].as_u64()),
        (Some("qcow2"), Some(10 * G))
    );
    let grown = json(&disk(&["resize", "base", "+5G"]));
    assert_eq!(grown["virtual_size"].as_u64(), Some(15 * G));
    let copy = json(&disk(&[
        "convert",
        "base",
        "--format",
        "vmdk",
        "--target",
        "base-vmdk",
    ]));
    assert_eq!(
        (copy["format"].as_str(), copy["virtual_size"].as_u64()),
        (Some("vmdk"), Some(15 * G))
    );
    let overlay = json(&disk(&[
        "create",
        "vm-root",
        "--size",
        "15G",
        "--backing",
        "base",
    ]));
    assert_eq!(overlay["backing"], "base");
    let info = json(&disk(&["info", "vm-root"]));
    assert_eq!(
        (info["backing"].as_str(), info["format"].as_str()),
        (Some("base"), Some("qcow2"))
    );
    let listed = json(&disk(&["list"]));
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");

    // Bad input: a clear message and the right exit code, nothing made or changed.
    fails(&disk(&["create", "x", "--size", "10Q"]), 2, "size");
    fails(
        &disk(&["create", "x", "--size", "1G", "--format", "qcow3"]),
        2,
        "qcow3",
    );
    fails(&disk(&["create", "../x", "--size", "1G"]), 5, "name");
    fails(&disk(&["resize", "base", "1G"]), 5, "explicitly");
    fails(&disk(&["delete", "base"]), 11, "base of disk vm-root");
    fails(
        &disk(&[
            "convert",
            "base",
            "--format",
            "raw",
            "--target",
            "base-vmdk",
        ]),
        4,
        "already exists",
    );
    fails(&disk(&["info", "ghost"]), 3, "not found");
    assert_eq!(
        json(&disk(&["info", "base"]))["virtual_size"].as_u64(),
        Some(15 * G)
    );
    assert_eq!(json(&disk(&["list"])).as_array().unwrap().len(), 3);
    // Only the records and images the pool should hold: no user string became a path.
    let mut files: Vec<String> = std::fs::read_dir(pool.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| !f.contains("base") && !f.contains("vm-root")),
        "{files:?}"
    );

    ok(&disk(&["delete", "vm-root"]));
    ok(&disk(&["delete", "base"]));
    ok(&disk(&["rm", "base-vmdk"]));
    assert_eq!(json(&disk(&["list"])).as_array().unwrap().len(), 0);
}

/// VMs with cloudctl, on the libvirtd the test script starts: an installer ISO on a blank disk
/// (it finds nothing to boot, and idles in the firmware: enough to be running), the disk kept
/// after the VM, and the bad input the issue names.
#[test]
fn vms_with_cloudctl_on_libvirt() {
    let libvirt = std::env::var("NUBES_TEST_LIBVIRT_URI").expect(
        "NUBES_TEST_LIBVIRT_URI is not set: run through scripts/test.sh, which starts libvirtd",
    );
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    std::fs::write(boot.join("installer.iso"), vec![0u8; 1 << 20]).unwrap();
    let provider = format!(
        "qemu://?pool={}&libvirt={libvirt}&boot={}&state={}",
        dir.path().join("images").display(),
        boot.display(),
        dir.path().join("state").display()
    );
    let run = |args: &[&str]| {
        let mut all = vec!["--provider", &provider, "-o", "json"];
        all.extend_from_slice(args);
        cloudctl(&all)
    };
    let json = |out: &Output| -> serde_json::Value { serde_json::from_str(&ok(out)).unwrap() };
    let name = unique("vm");
    let boot_disk = format!("{name}-boot");
    let vm = json(&run(&[
        "instance",
        "create",
        &name,
        "--image",
        "blank",
        "--disk",
        "1Gi",
        "--cpus",
        "1",
        "--memory",
        "128Mi",
        "--iso",
        "installer.iso",
        "--network",
        "none",
    ]));
    assert_eq!(
        (vm["state"].as_str(), vm["disk"].as_u64()),
        (Some("running"), Some(1 << 30))
    );
    let disk = json(&run(&["disk", "info", &boot_disk]));
    assert_eq!(disk["virtual_size"].as_u64(), Some(1 << 30));
    fails(
        &run(&["disk", "delete", &boot_disk]),
        11,
        "running with it attached",
    );
    fails(
        &run(&[
            "instance",
            "create",
            "x",
            "--image",
            "blank",
            "--iso",
            "../../etc/shadow",
        ]),
        5,
        "file name in the boot directory",
    );
    fails(
        &run(&[
            "instance",
            "create",
            "x",
            "--image",
            "blank",
            "--iso",
            "missing.iso",
        ]),
        3,
        "missing.iso",
    );
    fails(
        &run(&[
            "instance",
            "create",
            "y",
            "--image",
            "blank",
            "--network",
            "wifi",
        ]),
        5,
        "not one of user, none, bridge:NAME",
    );
    fails(
        &run(&[
            "instance",
            "create",
            "z",
            "--image",
            "ghost",
            "--iso",
            "installer.iso",
        ]),
        3,
        "ghost",
    );
    fails(
        &run(&["instance", "resize", &name, "--cpus", "2"]),
        11,
        "resized while stopped",
    );
    fails(&run(&["instance", "delete", &name]), 11, "running");
    ok(&run(&[
        "instance",
        "delete",
        "--force",
        "--keep-disks",
        &name,
    ]));
    assert_eq!(
        json(&run(&["disk", "info", &boot_disk]))["virtual_size"].as_u64(),
        Some(1 << 30)
    );
    ok(&run(&["disk", "delete", &boot_disk]));
    fails(&run(&["instance", "get", &name]), 3, "not found");
    assert_eq!(json(&run(&["disk", "list"])).as_array().unwrap().len(), 0);
}

#[test]
fn billing_settings_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("billing.json");
    let serve = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cloudctl"))
            .args(["serve", "--listen", "127.0.0.1:0", "--compute", "none"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--billing-settings")
            .arg(&settings)
            .args(extra)
            .output()
            .unwrap()
    };
    fails(&serve(&[]), 3, "billing.json");
    std::fs::write(&settings, r#"{"fee_bps": 12000}"#).unwrap();
    fails(&serve(&[]), 5, "fee_bps is the platform's share");
    std::fs::write(&settings, r#"{"prices": {"core_hour": "0.2.5"}}"#).unwrap();
    fails(&serve(&[]), 5, "prices.core_hour");

    std::fs::write(
        &settings,
        r#"{"prices": {"core_hour": "0.35"}, "plans": {"free": {"monthly": "20", "cpus": 1}}}"#,
    )
    .unwrap();
    let settings_arg = settings.display().to_string();
    let (mut server, addr) = serve_with(
        &dir.path().join("data"),
        "memory://?images=img",
        &["--billing", "--billing-settings", &settings_arg],
    );
    let creds =
        serde_json::json!({"email": "set@example.com", "password": "correct horse battery"});
    http_post(&addr, "/v1/auth/register", None, creds.clone());
    let access = http_post(&addr, "/v1/auth/login", None, creds)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cloudctl"))
            .args(["--provider", &format!("http://{addr}"), "-o", "json"])
            .args(args)
            .env("NUBES_TOKEN", &access)
            .env("NUBES_CONFIG", "/nonexistent/nubes-test/config.yaml")
            .output()
            .unwrap()
    };
    let plans: serde_json::Value = serde_json::from_str(&ok(&run(&["billing", "plans"]))).unwrap();
    assert_eq!(plans["prices"]["core_hour"], "0.35", "{plans}");
    let balance: serde_json::Value =
        serde_json::from_str(&ok(&run(&["billing", "balance"]))).unwrap();
    assert_eq!(balance["credits"], "20", "the free plan's grant as set");
    fails(
        &run(&[
            "instance", "create", "big", "--image", "img", "--cpus", "1.5",
        ]),
        9,
        "free plan allows 1 of cpu",
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn billing_through_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr, (admin_email, admin_password)) =
        serve_showing_admin(dir.path(), "memory://?images=img", &[]);
    let creds =
        serde_json::json!({"email": "payer@example.com", "password": "correct horse battery"});
    http_post(&addr, "/v1/auth/register", None, creds.clone());
    let login = |creds| {
        http_post(&addr, "/v1/auth/login", None, creds)["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let access = login(creds);
    let admin = login(serde_json::json!({"email": admin_email, "password": admin_password}));
    let provider = format!("http://{addr}");
    let run_as = |token: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cloudctl"))
            .args(["--provider", &provider])
            .args(args)
            .env("NUBES_TOKEN", token)
            .env("NUBES_CONFIG", "/nonexistent/nubes-test/config.yaml")
            .output()
            .unwrap()
    };
    let run = |args: &[&str]| run_as(&access, args);
    let json = |out: &Output| -> serde_json::Value { serde_json::from_str(&ok(out)).unwrap() };
    assert_eq!(
        json(&run(&["-o", "json", "billing", "balance"]))["credits"],
        "15"
    );
    assert!(ok(&run(&["billing", "balance"])).starts_with("15 credits ($7.50)"));
    assert!(ok(&run(&["billing", "plans"])).contains("pay_as_you_go"));
    assert_eq!(
        json(&run(&["-o", "json", "billing", "plan"]))["plan"],
        "free"
    );
    // Pay-as-you-go has no price, so a Free wallet affords it on any day of the month.
    assert_eq!(
        json(&run(&["-o", "json", "billing", "switch", "pay_as_you_go"]))["plan"],
        "pay_as_you_go"
    );
    fails(&run(&["billing", "switch", "gold"]), 5, "unknown plan");
    fails(
        &run(&["billing", "switch", "pay_as_you_go"]),
        11,
        "already on the pay_as_you_go plan",
    );
    let txs = json(&run(&["-o", "json", "billing", "transactions"]));
    let kinds = nubes_testing::field(&txs, "kind");
    assert_eq!(kinds, ["plan_switch", "grant"], "{txs}");
    fails(
        &run(&["billing", "top-up", "someone", "10", "--memo", "x"]),
        7,
        "billing for others",
    );
    let usage = json(&run(&[
        "-o",
        "json",
        "billing",
        "usage",
        "--from",
        "2026-11-01",
    ]));
    assert_eq!(usage["total"]["total"], "0", "{usage}");
    fails(
        &run(&["billing", "usage", "--from", "yesterday"]),
        5,
        "not a day",
    );

    // Vouchers: an admin issues them (codes printed once), the user redeems one, once.
    fails(
        &run(&["billing", "vouchers", "issue", "10", "--memo", "mine"]),
        7,
        "billing for others",
    );
    let issued = json(&run_as(
        &admin,
        &[
            "-o", "json", "billing", "vouchers", "issue", "12.5", "--count", "2", "--memo",
            "launch",
        ],
    ));
    let code = issued[0]["code"].as_str().unwrap().to_string();
    assert_eq!(issued.as_array().unwrap().len(), 2, "{issued}");
    let table = ok(&run_as(&admin, &["billing", "vouchers", "list"]));
    assert!(
        table.contains("launch") && !table.contains("nbv_"),
        "{table}"
    );
    fails(
        &run_as(
            &admin,
            &["billing", "vouchers", "issue", "-3", "--memo", "x"],
        ),
        2,
        "unexpected argument '-3'",
    );
    fails(
        &run_as(
            &admin,
            &[
                "billing", "vouchers", "issue", "3", "--memo", "x", "--count", "500",
            ],
        ),
        5,
        "count must be 1 to 100",
    );
    let before: f64 = json(&run(&["-o", "json", "billing", "balance"]))["credits"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let paid = json(&run(&["-o", "json", "billing", "redeem", &code]));
    assert_eq!(
        (paid["kind"].as_str(), paid["amount"].as_str()),
        (Some("payment"), Some("12.5"))
    );
    let after: f64 = json(&run(&["-o", "json", "billing", "balance"]))["credits"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(after - before, 12.5);
    fails(&run(&["billing", "redeem", &code]), 11, "credited already");
    fails(
        &run(&["billing", "redeem", "nbv_nope"]),
        5,
        "not a voucher code",
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// `serve --admin-password-file`: the first admin's password goes to a new file only the
/// server's user can read, and nowhere on stdout; it signs in.
#[test]
fn serve_writes_the_first_admins_password_to_a_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-password");
    let (mut server, addr, shown) = serve_showing_admin(
        &dir.path().join("data"),
        "none",
        &["--admin-password-file", file.to_str().unwrap()],
    );
    assert!(
        shown.1.starts_with("in "),
        "the password was shown: {shown:?}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let password = std::fs::read_to_string(&file).unwrap();
    let tokens = http_post(
        &addr,
        "/v1/auth/login",
        None,
        serde_json::json!({"email": shown.0, "password": password.trim()}),
    );
    assert!(tokens["access_token"].is_string(), "{tokens}");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Every REST noun a user of a server needs has a command: register, organizations with invites
/// and roles, `--org` on create, API tokens, TOTP enrolment, and the admin views; each refusal
/// exits with its kind's code.
#[test]
fn accounts_orgs_tokens_and_admin_views_from_cloudctl() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr, (admin_email, admin_password)) =
        serve_showing_admin(&dir.path().join("data"), "memory://?images=img", &[]);
    let url = format!("http://{addr}");
    let run = |config: &str, args: &[&str], stdin: &[u8], token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudctl"));
        cmd.args(args)
            .env("NUBES_CONFIG", dir.path().join(config))
            .env_remove("NUBES_PROVIDER")
            .env_remove("NUBES_TOKEN")
            .env_remove("NUBES_PASSWORD")
            .env_remove("NUBES_ORG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = token {
            cmd.env("NUBES_TOKEN", t);
        }
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    };
    let admin = |args: &[&str]| run("admin.yaml", args, b"", None);
    let bob = |args: &[&str]| run("bob.yaml", args, b"", None);
    let json = |out: &Output| -> serde_json::Value { serde_json::from_str(&ok(out)).unwrap() };

    let register = [
        "register",
        "--server",
        &url,
        "--email",
        "bob@example.com",
        "--password-stdin",
    ];
    ok(&run("bob.yaml", &register, b"bob's long password\n", None));
    fails(
        &run("bob.yaml", &register, b"bob's long password\n", None),
        4,
        "already",
    );
    let login = |config: &str, email: &str, password: &str| {
        let args = [
            "login",
            "--server",
            &url,
            "--email",
            email,
            "--password-stdin",
        ];
        ok(&run(
            config,
            &args,
            format!("{password}\n").as_bytes(),
            None,
        ));
    };
    login("admin.yaml", &admin_email, &admin_password);
    login("bob.yaml", "bob@example.com", "bob's long password");
    // Not an admin: the admin views refuse, with permission denied's code.
    fails(&bob(&["admin", "users"]), 7, "");
    let users = json(&admin(&["admin", "users", "-o", "json"]));
    let bobs = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bob@example.com")
        .expect("bob is listed");
    // A new user is on the free plan until one is renewed, with an exact balance.
    assert_eq!(bobs["plan"], "free", "{bobs}");
    assert!(
        bobs["balance"].as_str().unwrap().parse::<f64>().is_ok(),
        "{bobs}"
    );
    let bob_id = bobs["id"].as_str().unwrap().to_string();

    // An organization, an invite for one join, and bob in it.
    let org = json(&admin(&["org", "create", "team", "-o", "json"]));
    let org_id = org["id"].as_str().unwrap().to_string();
    assert_eq!(org["role"], "admin");
    let invite = json(&admin(&[
        "org", "invite", &org_id, "--role", "viewer", "-o", "json",
    ]));
    let code = invite["code"].as_str().expect("the code, once").to_string();
    fails(&bob(&["org", "join", "nbi_not-a-code"]), 3, "invite code");
    // The code on stdin: out of shell history and the process list.
    let stdin = format!("{code}\n");
    let joined = run(
        "bob.yaml",
        &["org", "join", "-o", "json"],
        stdin.as_bytes(),
        None,
    );
    assert_eq!(json(&joined)["id"], org_id);
    fails(&bob(&["org", "join", &code]), 11, "already a member");
    let carol = [
        "register",
        "--server",
        &url,
        "--email",
        "carol@example.com",
        "--password-stdin",
    ];
    ok(&run("carol.yaml", &carol, b"carol's long password\n", None));
    login("carol.yaml", "carol@example.com", "carol's long password");
    fails(
        &run("carol.yaml", &["org", "join", &code], b"", None),
        3,
        "used up",
    );
    let invites = json(&admin(&["org", "invites", &org_id, "-o", "json"]));
    assert!(
        invites[0]["code"].is_null(),
        "codes are shown once: {invites}"
    );
    let members = ok(&admin(&["org", "members", &org_id]));
    assert!(
        members.contains("bob@example.com") && members.contains("viewer"),
        "{members}"
    );

    // --org on create: a viewer may not, a member may, and the instance is the organization's.
    let create = [
        "--org", &org_id, "instance", "create", "shared", "--image", "img",
    ];
    fails(&bob(&create), 7, "");
    ok(&admin(&["org", "role", &org_id, &bob_id, "member"]));
    fails(&bob(&["org", "role", &org_id, &bob_id, "admin"]), 7, "");
    ok(&bob(&create));
    let all = json(&admin(&["admin", "instances", "-o", "json"]));
    let shared = all
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "shared")
        .expect("the instance is listed");
    assert_eq!(shared["org_id"], org_id.as_str());
    assert_eq!(shared["owner_id"], bob_id.as_str());
    fails(
        &bob(&[
            "--provider",
            "memory://",
            "--org",
            &org_id,
            "instance",
            "list",
        ]),
        5,
        "--org applies to a Nubes server",
    );

    // API tokens: the secret once, then usable, listed without it, revoked for good.
    let token = json(&bob(&["token", "create", "ci", "-o", "json"]));
    let secret = token["token"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    let token_id = token["id"].as_str().unwrap().to_string();
    let listed = ok(&bob(&["token", "list"]));
    assert!(
        listed.contains("ci") && !listed.contains(&secret),
        "{listed}"
    );
    let with_token = ["--provider", &url, "instance", "list"];
    assert!(ok(&run("none.yaml", &with_token, b"", Some(&secret))).contains("shared"));
    ok(&bob(&["token", "revoke", &token_id]));
    fails(&run("none.yaml", &with_token, b"", Some(&secret)), 8, "");

    // TOTP: enrol, a wrong code is refused, the right one turns it on.
    let enrolment = json(&bob(&["totp", "enrol", "-o", "json"]));
    assert!(enrolment["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://"));
    let secret =
        nubes_auth::TotpSecret::from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let wrong = if secret.code_at(now) == "000000" {
        "111111"
    } else {
        "000000"
    };
    fails(
        &bob(&["totp", "confirm", wrong]),
        5,
        "the code does not match",
    );
    let me = json(&bob(&[
        "totp",
        "confirm",
        &secret.code_at(now),
        "-o",
        "json",
    ]));
    assert_eq!(me["totp_enabled"], true);
    // This server sends no mail: email codes cannot be turned on.
    fails(&bob(&["email-otp", "on"]), 6, "cannot send mail");

    // The audit log names what was done, filtered.
    let audit = json(&admin(&[
        "admin",
        "audit",
        "--action",
        "POST /v1/orgs",
        "-o",
        "json",
    ]));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        !actions.is_empty() && actions.iter().all(|a| a.starts_with("POST /v1/orgs")),
        "{actions:?}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// `kubectl` on the test cluster; its output.
fn kubectl(kubeconfig: &str, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()
        .expect("kubectl is on PATH (scripts/test.sh puts the one it built there)");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The test cluster's kubeconfig, and a namespace of this test's own on it (labelled so the
/// test script clears it if the test does not).
fn k8s_namespace(prefix: &str) -> (String, String) {
    let kubeconfig = std::env::var("NUBES_TEST_K8S_KUBECONFIG").expect(
        "NUBES_TEST_K8S_KUBECONFIG is unset: run through scripts/test.sh, which starts Kubernetes",
    );
    let namespace = format!("{prefix}-{}", std::process::id());
    kubectl(&kubeconfig, &["create", "namespace", &namespace]);
    kubectl(
        &kubeconfig,
        &["label", "namespace", &namespace, "nubes-test=true"],
    );
    (kubeconfig, namespace)
}

/// The real cluster `scripts/test.sh` starts: instances with a disk, exec, logs and functions.
#[test]
fn instances_disks_and_functions_on_kubernetes() {
    let (kubeconfig, namespace) = k8s_namespace("nt-cli");
    let kubectl = |args: &[&str]| kubectl(&kubeconfig, args);
    let provider = format!(
        "kubernetes://?kubeconfig={kubeconfig}&namespace={namespace}&pull=never&root=allow"
    );
    let p = ["--provider", provider.as_str()];
    let run = |args: &[&str]| cloudctl(&[&p[..], args].concat());

    ok(&run(&[
        "disk", "create", "data", "--size", "1Gi", "--format", "raw",
    ]));
    assert!(ok(&run(&["disk", "list"])).contains("data"));
    let made = ok(&run(&[
        "-o",
        "json",
        "instance",
        "create",
        "web",
        "--image",
        &image(),
        "--cpus",
        "0.1",
        "--memory",
        "32Mi",
        "-v",
        "data:/data",
        "--",
        "sh",
        "-c",
        "echo hello-k8s; sleep 3600",
    ]));
    let made: serde_json::Value = serde_json::from_str(&made).unwrap();
    assert_eq!(made["state"], "running", "{made}");
    fails(
        &run(&["instance", "create", "web", "--image", &image()]),
        4,
        "already exists",
    );
    let out = cloudctl_with_stdin(
        &[
            &p[..],
            &[
                "instance",
                "exec",
                "-i",
                "web",
                "--",
                "sh",
                "-c",
                "cat > /data/f; cat /data/f; exit 7",
            ],
        ]
        .concat(),
        b"through stdin",
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "through stdin");
    assert!(ok(&run(&["instance", "logs", "web"])).contains("hello-k8s"));
    fails(&run(&["disk", "delete", "data"]), 11, "mounted");
    ok(&run(&["instance", "stop", "web"]));
    ok(&run(&["instance", "start", "web"]));
    let out = ok(&run(&["instance", "exec", "web", "--", "cat", "/data/f"]));
    assert_eq!(out, "through stdin");
    ok(&run(&["instance", "delete", "--force", "web"]));
    fails(
        &run(&[
            "instance",
            "create",
            "ghost",
            "--image",
            "nubes-test/none:never",
            "--cpus",
            "0.1",
        ]),
        3,
        "not found",
    );
    fails(
        &run(&["instance", "create", "bad_name", "--image", &image()]),
        5,
        "'_'",
    );

    ok(&run(&[
        "function",
        "deploy",
        "upper",
        "--image",
        &image(),
        "--cpus",
        "0.1",
        "--",
        "tr",
        "a-z",
        "A-Z",
    ]));
    let out = ok(&run(&["function", "invoke", "upper", "--payload", "shout"]));
    assert_eq!(out, "SHOUT");
    ok(&run(&["function", "delete", "upper"]));
    kubectl(&["delete", "namespace", &namespace, "--wait=false"]);
}

/// `cloudctl serve --compute kubernetes://...`: tenants' instances are pods in the server's
/// namespace, under the server's own names, and run, exec and go through the API as anywhere.
#[test]
fn a_server_runs_instances_on_kubernetes() {
    let (kubeconfig, namespace) = k8s_namespace("nt-serve");
    let kubectl = |args: &[&str]| kubectl(&kubeconfig, args);
    let dir = tempfile::tempdir().unwrap();
    let compute = format!("kubernetes://?kubeconfig={kubeconfig}&namespace={namespace}&pull=never");
    let (mut server, addr) = serve_with(dir.path(), &compute, &["--billing"]);
    let token_of = |email: &str| {
        let creds = serde_json::json!({"email": email, "password": "correct horse battery"});
        http_post(&addr, "/v1/auth/register", None, creds.clone());
        let access = http_post(&addr, "/v1/auth/login", None, creds)["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        http_post(
            &addr,
            "/v1/auth/tokens",
            Some(&access),
            serde_json::json!({"name": "k8s"}),
        )["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let provider = format!("http://{addr}");
    let as_user = |token: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cloudctl"))
            .args(["--provider", &provider])
            .args(args)
            .env("NUBES_TOKEN", token)
            .env("NUBES_CONFIG", "/nonexistent/nubes-test/config.yaml")
            .output()
            .unwrap()
    };
    let create = |token: &str| {
        let made = ok(&as_user(
            token,
            &[
                "-o",
                "json",
                "instance",
                "create",
                "web",
                "--image",
                &image(),
                "--cpus",
                "0.1",
                "--memory",
                "32Mi",
                "--",
                "sleep",
                "3600",
            ],
        ));
        let made: serde_json::Value = serde_json::from_str(&made).unwrap();
        assert_eq!(made["state"], "running", "{made}");
        // A new user's one organization: their personal one, where the instance went.
        let orgs = ok(&as_user(token, &["-o", "json", "org", "list"]));
        let orgs: serde_json::Value = serde_json::from_str(&orgs).unwrap();
        orgs[0]["id"].as_str().unwrap().to_string()
    };
    let (alice, bob) = (token_of("k8s-a@example.com"), token_of("k8s-b@example.com"));
    let org_a = create(&alice);
    let org_b = create(&bob);
    assert_eq!(
        ok(&as_user(
            &alice,
            &["instance", "exec", "web", "--", "echo", "hi"]
        )),
        "hi\n"
    );
    // Each organization's instances are in a namespace of its own beside the server's, whose
    // quota is the organization's plan (Free: 2 cores, 2 GB), and the pod carries the
    // server's name for it, not the tenant's.
    assert!(kubectl(&["get", "pods", "-n", &namespace, "-o", "name"]).is_empty());
    for org in [&org_a, &org_b] {
        let ns = format!("{namespace}-{org}");
        let pods = kubectl(&["get", "pods", "-n", &ns, "-o", "name"]);
        assert_eq!(pods.lines().count(), 1, "{ns}: {pods}");
        assert!(!pods.contains("pod/web"), "{pods}");
        let hard = kubectl(&[
            "get",
            "resourcequota",
            "nubes-limits",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.hard.limits\\.cpu} {.spec.hard.limits\\.memory}",
        ]);
        assert_eq!(hard, "2 2G", "{ns}");
    }
    ok(&as_user(&alice, &["instance", "stop", "web"]));
    ok(&as_user(&alice, &["instance", "start", "web"]));
    for token in [&alice, &bob] {
        ok(&as_user(token, &["instance", "delete", "--force", "web"]));
        fails(&as_user(token, &["instance", "get", "web"]), 3, "not found");
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let base = format!("io.nubes.base={namespace}");
    kubectl(&["delete", "namespace", "-l", &base, "--wait=false"]);
    kubectl(&["delete", "namespace", &namespace, "--wait=false"]);
}

//! EC2 against moto: the compute kit, what boto3 sees of what Nubes made, and what Nubes did
//! not make stays out of its sight.

mod common;

use nubes_core::compute::*;
use nubes_core::conformance::{self, Fixture};
use nubes_core::ErrorKind;

const MIB: u64 = 1 << 20;

/// An AMI moto serves.
fn ami() -> String {
    let out = common::boto3_ec2(
        "print(ec2.describe_images(Owners=['amazon'])['Images'][0]['ImageId'])",
        &[],
    );
    String::from_utf8(out).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn ec2_passes_the_compute_kit() {
    let compute = common::cloud().await.compute().unwrap();
    let mut fx = Fixture::new(ami()).excuse(
        "logs",
        "moto's console output is canned text: it never shows the instance's command",
    )
    .excuse(
        "stats",
        "moto publishes no metrics: nothing runs on its instances (stats are tested with metric data put in)",
    );
    fx.missing_image = "ami-0123456789abcdef0".into();
    let report = conformance::compute(compute.as_ref(), &fx).await;
    println!("{report}");
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
}

/// The type, tags and user data AWS holds are what the spec asked for, read back by boto3.
#[tokio::test(flavor = "multi_thread")]
async fn boto3_sees_the_type_tags_and_script_nubes_asked_for() {
    let compute = common::cloud().await.compute().unwrap();
    let name = format!("ec2-seen-{}", std::process::id());
    let spec = InstanceSpec::new(&name, ami())
        .cpus(1.0)
        .memory(600 * MIB)
        .label("team", "storage")
        .env("GREETING", "it's me")
        .command(["sh", "-c", "echo $GREETING"]);
    let made = compute.create(spec).await.unwrap();
    assert_eq!(made.state, InstanceState::Running);
    // 600 MiB does not fit a t3.nano (512 MiB): the next size up, reported as what it is.
    assert_eq!((made.cpus, made.memory), (Some(2.0), Some(1024 * MIB)));
    assert_eq!(made.labels.get("team").map(String::as_str), Some("storage"));
    let seen = common::boto3_ec2(
        "import base64\n\
         i = ec2.describe_instances(InstanceIds=[sys.argv[1]])['Reservations'][0]['Instances'][0]\n\
         tags = {t['Key']: t['Value'] for t in i['Tags']}\n\
         ud = ec2.describe_instance_attribute(InstanceId=sys.argv[1], Attribute='userData')['UserData']['Value']\n\
         root = [m for m in i['BlockDeviceMappings'] if m['DeviceName'] == i['RootDeviceName']][0]\n\
         print(i['InstanceType'], tags['Name'], tags['team'], tags['nubes-managed'], root['Ebs']['DeleteOnTermination'])\n\
         print(base64.b64decode(ud).decode(), end='')",
        &[&made.id],
    );
    let seen = String::from_utf8(seen).unwrap();
    assert_eq!(
        seen,
        format!(
            "t3.micro {name} storage true True\n#!/bin/sh\nexport GREETING='it'\\''s me'\nexec 'sh' '-c' 'echo $GREETING'\n"
        )
    );

    // Resized while stopped: the type AWS holds changes, and the instance reports its size.
    compute
        .stop(
            &name,
            StopOptions::timeout(std::time::Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let bigger = compute
        .resize(&name, ResizeRequest::default().memory(3 * 1024 * MIB))
        .await
        .unwrap();
    assert_eq!(bigger.memory, Some(4096 * MIB));
    let kind = common::boto3_ec2(
        "print(ec2.describe_instances(InstanceIds=[sys.argv[1]])['Reservations'][0]['Instances'][0]['InstanceType'])",
        &[&made.id],
    );
    assert_eq!(String::from_utf8(kind).unwrap().trim(), "t3.medium");
    compute.delete(&name, DeleteOptions::force()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_the_console_output_and_only_nubes_instances_are_seen() {
    let compute = common::cloud().await.compute().unwrap();
    let name = format!("ec2-logs-{}", std::process::id());
    compute
        .create(InstanceSpec::new(&name, ami()))
        .await
        .unwrap();
    let mut all = Vec::new();
    let mut logs = compute.logs(&name, LogOptions::default()).await.unwrap();
    use futures::StreamExt;
    while let Some(chunk) = logs.next().await {
        all.extend_from_slice(&chunk.unwrap().data);
    }
    let all = String::from_utf8(all).unwrap();
    assert!(all.contains("Linux version"), "console: {all:?}");
    let mut last = compute
        .logs(&name, LogOptions::default().tail(1))
        .await
        .unwrap();
    let last = last.next().await.unwrap().unwrap().data;
    assert!(
        all.trim_end()
            .ends_with(String::from_utf8_lossy(&last).trim_end())
            && last.len() < all.len(),
        "tail 1: {last:?}"
    );
    let e = compute
        .logs(&name, LogOptions::default().follow(true))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");

    // An instance launched outside Nubes, even with a Nubes-looking name, is not Nubes' own.
    let stranger = format!("ec2-stranger-{}", std::process::id());
    common::boto3_ec2(
        "ec2.run_instances(ImageId=sys.argv[2], MinCount=1, MaxCount=1, TagSpecifications=[{'ResourceType': 'instance', 'Tags': [{'Key': 'Name', 'Value': sys.argv[1]}]}])",
        &[&stranger, &ami()],
    );
    assert!(compute
        .list(ListOptions::default())
        .await
        .unwrap()
        .iter()
        .all(|i| i.name != stranger));
    for e in [
        compute.get(&stranger).await.map(|_| ()).unwrap_err(),
        compute
            .delete(&stranger, DeleteOptions::force())
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    }
    compute.delete(&name, DeleteOptions::force()).await.unwrap();
}

/// AWS's own refusals arrive as the SDK's kinds, and a refused launch leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn bad_amis_and_sizes_are_refused_and_leave_nothing() {
    let compute = common::cloud().await.compute().unwrap();
    let name = format!("ec2-bad-{}", std::process::id());
    for (image, kind) in [
        ("ami-0000000000000000f", ErrorKind::NotFound),
        ("ubuntu:24.04", ErrorKind::InvalidInput),
        ("ami-xyz", ErrorKind::InvalidInput),
    ] {
        let e = compute
            .create(InstanceSpec::new(&name, image))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{image}: {e}");
        assert!(e.to_string().contains(image), "{e}");
    }
    let e = compute
        .create(InstanceSpec::new(&name, ami()).cpus(500.0))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = compute
        .create(InstanceSpec::new(&name, ami()).label("Name", "other"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(
        compute.get(&name).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// Stats are CloudWatch's figures: what EC2 (here, boto3 in its place) reported, CPU as percent
/// of one core, network summed since launch, memory from the CloudWatch agent's metric.
#[tokio::test(flavor = "multi_thread")]
async fn stats_are_cloudwatchs_figures() {
    let compute = common::cloud().await.compute().unwrap();
    let name = format!("ec2-stats-{}", std::process::id());
    let made = compute
        .create(InstanceSpec::new(&name, ami()).cpus(2.0).memory(1024 * MIB))
        .await
        .unwrap();
    // Nothing reported yet: nothing used, within the type's memory.
    let s = compute.stats(&name).await.unwrap();
    assert_eq!(
        (s.cpu_percent, s.network_rx_bytes, s.memory_limit_bytes),
        (0.0, 0, Some(1024 * MIB)),
        "{s:?}"
    );
    common::boto3_cloudwatch(
        "import datetime\n\
         now = datetime.datetime.now(datetime.timezone.utc)\n\
         d = [{'Name': 'InstanceId', 'Value': sys.argv[1]}]\n\
         for ns, m, v in [('AWS/EC2', 'CPUUtilization', 25.0), ('AWS/EC2', 'NetworkIn', 1000), ('AWS/EC2', 'NetworkIn', 500), ('AWS/EC2', 'NetworkOut', 300), ('CWAgent', 'mem_used', 123456789)]:\n    \
             cloudwatch.put_metric_data(Namespace=ns, MetricData=[{'MetricName': m, 'Dimensions': d, 'Value': v, 'Timestamp': now}])",
        &[&made.id],
    );
    let s = compute.stats(&name).await.unwrap();
    // A t3.micro has two vCPUs: a quarter of them is half a core.
    assert_eq!(s.cpu_percent, 50.0, "{s:?}");
    assert_eq!(
        (s.network_rx_bytes, s.network_tx_bytes),
        (1500, 300),
        "{s:?}"
    );
    assert_eq!(s.memory_bytes, 123_456_789, "{s:?}");
    assert_eq!(s.memory_limit_bytes, Some(1024 * MIB), "{s:?}");
    compute.delete(&name, DeleteOptions::force()).await.unwrap();
    assert_eq!(
        compute.stats(&name).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// Exec goes to SSM RunCommand as a quoted script, where the connection asks for it. moto runs
/// nothing (it answers every command with success and no output), so what is checked here is
/// what SSM was asked to run, and the refusals.
#[tokio::test(flavor = "multi_thread")]
async fn exec_goes_through_ssm_run_command() {
    let without = common::cloud().await.compute().unwrap();
    assert!(!without.capability().exec);
    let compute = nubes_aws::connect(&format!(
        "aws://us-east-1?endpoint={}&exec=ssm",
        common::endpoint()
    ))
    .await
    .unwrap()
    .compute()
    .unwrap();
    assert!(compute.capability().exec && !compute.capability().exec_stdin);
    let name = format!("ec2-exec-{}", std::process::id());
    let made = compute
        .create(InstanceSpec::new(&name, ami()))
        .await
        .unwrap();
    let mut request = ExecRequest::new(["echo", "it's", "$HOME"]).workdir("/srv");
    request.env.insert("GREETING".into(), "hi there".into());
    let out = compute.exec(&name, request).await.unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    let sent = common::boto3_ssm(
        "c = ssm.list_commands(InstanceId=sys.argv[1])['Commands'][-1]\n\
         print(c['DocumentName'])\n\
         print(c['Parameters']['commands'][0])",
        &[&made.id],
    );
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        "AWS-RunShellScript\nexport GREETING='hi there'\ncd '/srv' || exit 127\nexec 'echo' 'it'\\''s' '$HOME'\n"
    );
    let e = compute
        .exec(&name, ExecRequest::new(["cat"]).stdin("x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    compute
        .stop(
            &name,
            StopOptions::timeout(std::time::Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let e = compute
        .exec(&name, ExecRequest::new(["true"]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    compute.delete(&name, DeleteOptions::force()).await.unwrap();
    let e = compute
        .exec(&name, ExecRequest::new(["true"]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = without
        .exec(&name, ExecRequest::new(["true"]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
}

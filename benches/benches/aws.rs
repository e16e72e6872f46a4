//! The AWS provider vs raw aws-sdk-s3/aws-sdk-ec2 vs boto3, on the same moto endpoint,
//! interleaved round by round in one run. Goals: <= 1.02x raw for each call, <= 0.5x boto3.
//!
//! Needs moto and its venv (`scripts/bench.sh` starts them): `NUBES_TEST_AWS_ENDPOINT`,
//! `NUBES_TEST_AWS_PYTHON`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::StreamExt;
use nubes::prelude::*;
use nubes::{Bytes, DeleteOptions, GetOptions, ListObjectsOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SMALL: usize = 4 * 1024;
const BIG: usize = 256 << 20;
const PART: usize = 8 << 20;
const KEYS: usize = 10_000;

#[derive(Default)]
struct Samples(HashMap<(&'static str, &'static str), Vec<Duration>>);

impl Samples {
    fn add(&mut self, op: &'static str, who: &'static str, d: Duration) {
        self.0.entry((op, who)).or_default().push(d);
    }

    fn median(&self, op: &'static str, who: &'static str) -> Option<Duration> {
        let mut v = self.0.get(&(op, who))?.clone();
        v.sort();
        Some(v[v.len() / 2])
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (Duration, T) {
    let start = Instant::now();
    let out = f.await;
    (start.elapsed(), out)
}

/// The big object as a stream of 1 MiB pieces, never whole in memory.
fn big_stream() -> nubes::ByteStream {
    let piece = Bytes::from(vec![7u8; 1 << 20]);
    futures::stream::iter((0..BIG >> 20).map(move |_| Ok(piece.clone()))).boxed()
}

/// boto3 in a child process that times each call it is asked for, so Python's start-up and
/// imports are not counted: one line in (`op arg`), the seconds it took out.
struct Boto3 {
    child: tokio::process::Child,
    out: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

const BOTO3: &str = r#"
import sys, time, boto3
kw = dict(endpoint_url=sys.argv[1], region_name='us-east-1')
s3 = boto3.client('s3', **kw)
ec2 = boto3.client('ec2', **kw)
small = b'x' * 4096
for line in sys.stdin:
    op, bucket, arg = line.split()
    t = time.perf_counter()
    if op == 'put':
        s3.put_object(Bucket=bucket, Key=arg, Body=small)
    elif op == 'get':
        s3.get_object(Bucket=bucket, Key=arg)['Body'].read()
    elif op == 'list':
        n = sum(len(p.get('Contents', [])) for p in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=arg))
        assert n == 10000, n
    elif op == 'run':
        i = ec2.run_instances(ImageId=arg, MinCount=1, MaxCount=1, InstanceType='t3.nano')['Instances'][0]['InstanceId']
        w = ec2.get_waiter('instance_running')
        w.wait(InstanceIds=[i], WaiterConfig={'Delay': 1})
        d = time.perf_counter() - t
        ec2.terminate_instances(InstanceIds=[i])
        print(d, flush=True)
        continue
    print(time.perf_counter() - t, flush=True)
"#;

impl Boto3 {
    fn start(python: &str, endpoint: &str) -> Self {
        let mut child = tokio::process::Command::new(python)
            .args(["-c", BOTO3, endpoint])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("boto3 (moto's venv)");
        let out = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, out }
    }

    async fn call(&mut self, op: &str, bucket: &str, arg: &str) -> Duration {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{op} {bucket} {arg}\n").as_bytes())
            .await
            .unwrap();
        let line = self.out.next_line().await.unwrap().expect("boto3 ended");
        Duration::from_secs_f64(line.trim().parse().unwrap())
    }
}

/// RunInstances, then DescribeInstances until running with the same backoff Nubes uses
/// (100 ms doubling to 5 s), then terminate.
async fn raw_run(ec2: &aws_sdk_ec2::Client, ami: &str) -> Duration {
    let start = Instant::now();
    let out = ec2
        .run_instances()
        .image_id(ami)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Nano)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let id = out.instances()[0].instance_id().unwrap().to_string();
    let mut wait = Duration::from_millis(100);
    loop {
        let d = ec2
            .describe_instances()
            .instance_ids(&id)
            .send()
            .await
            .unwrap();
        let state = d.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .cloned();
        if state == Some(aws_sdk_ec2::types::InstanceStateName::Running) {
            break;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
    let took = start.elapsed();
    ec2.terminate_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    took
}

async fn raw_multipart(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    let up = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = Bytes::from(vec![7u8; PART]);
    let mut done = CompletedMultipartUpload::builder();
    for n in 1..=(BIG / PART) as i32 {
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(S3Body::from(part.clone()))
            .send()
            .await
            .unwrap();
        done = done.parts(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_string))
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(done.build())
        .send()
        .await
        .unwrap();
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("NUBES_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let endpoint = std::env::var("NUBES_TEST_AWS_ENDPOINT")
        .expect("NUBES_TEST_AWS_ENDPOINT: run scripts/bench.sh, which starts moto");
    let python = std::env::var("NUBES_TEST_AWS_PYTHON").expect("NUBES_TEST_AWS_PYTHON");
    let uri = format!("aws://us-east-1?endpoint={endpoint}");
    let cloud = Cloud::connect(&uri).await.unwrap();
    let storage = cloud.storage().unwrap();
    let compute = cloud.compute().unwrap();
    // The raw clients are configured exactly as the provider's: same loader, same endpoint.
    let sdk = nubes::aws::AwsConfig::parse(&uri).unwrap().load().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let mut boto3 = Boto3::start(&python, &endpoint);
    let ami = ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .unwrap()
        .images()[0]
        .image_id()
        .unwrap()
        .to_string();

    let bucket = format!("bench-{}", std::process::id());
    storage.create_bucket(&bucket).await.unwrap();
    let small = Bytes::from(vec![b'x'; SMALL]);
    // 10k keys under one prefix, made once for the list.
    let puts = futures::stream::iter(0..KEYS)
        .map(|i| {
            let (s3, bucket, small) = (s3.clone(), bucket.clone(), small.clone());
            async move {
                s3.put_object()
                    .bucket(bucket)
                    .key(format!("many/{i:05}"))
                    .body(S3Body::from(small))
                    .send()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(32);
    puts.collect::<Vec<()>>().await;

    let mut s = Samples::default();
    let heavy = (rounds / 5).max(3);
    for round in 0..rounds {
        for turn in 0..3 {
            let key = format!("small/{round}-{turn}");
            match (round + turn) % 3 {
                0 => {
                    let (d, r) =
                        timed(storage.put(&bucket, &key, nubes::byte_stream(small.clone()))).await;
                    r.unwrap();
                    s.add("put 4 KiB", "nubes", d);
                    let (d, r) = timed(async {
                        let got = storage.get(&bucket, &key, GetOptions::default()).await?;
                        nubes::collect_bytes(got.body.0).await
                    })
                    .await;
                    assert_eq!(r.unwrap().len(), SMALL);
                    s.add("get 4 KiB", "nubes", d);
                    let (d, n) = timed(async {
                        let mut n = 0;
                        let mut options = ListObjectsOptions::default().prefix("many/");
                        loop {
                            let page = storage.list(&bucket, options.clone()).await.unwrap();
                            n += page.objects.len();
                            match page.next {
                                Some(next) => options = options.continuation(next),
                                None => return n,
                            }
                        }
                    })
                    .await;
                    assert_eq!(n, KEYS);
                    s.add("list 10k keys", "nubes", d);
                    if round < heavy {
                        let (d, r) = timed(storage.put(&bucket, "big-nubes", big_stream())).await;
                        r.unwrap();
                        s.add("put 256 MiB", "nubes", d);
                        storage.delete(&bucket, "big-nubes").await.unwrap();
                        let spec = InstanceSpec::new(format!("bench-{round}"), ami.clone());
                        let (d, r) = timed(compute.create(spec)).await;
                        s.add("run+wait", "nubes", d);
                        compute
                            .delete(&r.unwrap().id, DeleteOptions::force())
                            .await
                            .unwrap();
                    }
                }
                1 => {
                    let (d, r) = timed(
                        s3.put_object()
                            .bucket(&bucket)
                            .key(&key)
                            .body(S3Body::from(small.clone()))
                            .send(),
                    )
                    .await;
                    r.unwrap();
                    s.add("put 4 KiB", "raw", d);
                    let (d, r) = timed(async {
                        let out = s3
                            .get_object()
                            .bucket(&bucket)
                            .key(&key)
                            .send()
                            .await
                            .unwrap();
                        out.body.collect().await.unwrap().into_bytes()
                    })
                    .await;
                    assert_eq!(r.len(), SMALL);
                    s.add("get 4 KiB", "raw", d);
                    let (d, n) = timed(async {
                        let mut pages = s3
                            .list_objects_v2()
                            .bucket(&bucket)
                            .prefix("many/")
                            .into_paginator()
                            .send();
                        let mut n = 0;
                        while let Some(page) = pages.next().await {
                            n += page.unwrap().contents().len();
                        }
                        n
                    })
                    .await;
                    assert_eq!(n, KEYS);
                    s.add("list 10k keys", "raw", d);
                    if round < heavy {
                        let (d, ()) = timed(raw_multipart(&s3, &bucket, "big-raw")).await;
                        s.add("put 256 MiB", "raw", d);
                        s3.delete_object()
                            .bucket(&bucket)
                            .key("big-raw")
                            .send()
                            .await
                            .unwrap();
                        s.add("run+wait", "raw", raw_run(&ec2, &ami).await);
                    }
                }
                _ => {
                    s.add("put 4 KiB", "boto3", boto3.call("put", &bucket, &key).await);
                    s.add("get 4 KiB", "boto3", boto3.call("get", &bucket, &key).await);
                    s.add(
                        "list 10k keys",
                        "boto3",
                        boto3.call("list", &bucket, "many/").await,
                    );
                    if round < heavy {
                        s.add("run+wait", "boto3", boto3.call("run", &bucket, &ami).await);
                    }
                }
            }
        }
    }

    println!("aws on moto ({rounds} rounds; 256 MiB and run+wait: {heavy}), medians:");
    println!(
        "{:<16} {:>11} {:>11} {:>11} {:>10} {:>12}",
        "operation", "nubes", "raw sdk", "boto3", "nubes/raw", "nubes/boto3"
    );
    for op in [
        "put 4 KiB",
        "get 4 KiB",
        "list 10k keys",
        "put 256 MiB",
        "run+wait",
    ] {
        let n = s.median(op, "nubes").unwrap();
        let r = s.median(op, "raw").unwrap();
        let b = s.median(op, "boto3");
        println!(
            "{:<16} {:>11.2?} {:>11.2?} {:>11} {:>9.3}x {:>12}",
            op,
            n,
            r,
            b.map_or("-".to_string(), |b| format!("{b:.2?}")),
            n.as_secs_f64() / r.as_secs_f64(),
            b.map_or("-".to_string(), |b| format!(
                "{:.3}x",
                n.as_secs_f64() / b.as_secs_f64()
            )),
        );
    }
    for i in 0..KEYS {
        let _ = storage.delete(&bucket, &format!("many/{i:05}")).await;
    }
    for round in 0..rounds {
        for turn in 0..3 {
            let _ = storage
                .delete(&bucket, &format!("small/{round}-{turn}"))
                .await;
        }
    }
    let _ = storage.delete_bucket(&bucket).await;
}

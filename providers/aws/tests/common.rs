//! The moto endpoint the test script started, and a cloud on it.

#![allow(dead_code)]

/// moto's address, from the test script (`scripts/test.sh` starts it).
pub fn endpoint() -> String {
    std::env::var("NUBES_TEST_AWS_ENDPOINT")
        .expect("NUBES_TEST_AWS_ENDPOINT is unset: run through scripts/test.sh, which starts moto")
}

pub async fn cloud() -> nubes_core::Cloud {
    nubes_aws::connect(&format!("aws://us-east-1?endpoint={}", endpoint()))
        .await
        .unwrap()
}

/// Runs Python code with boto3 (moto's venv has it) against moto, with `s3` a client; its
/// stdout.
pub fn boto3(code: &str, args: &[&str]) -> Vec<u8> {
    python(&client("s3"), code, args)
}

/// As [`boto3`], with `ec2` a client.
pub fn boto3_ec2(code: &str, args: &[&str]) -> Vec<u8> {
    python(&client("ec2"), code, args)
}

/// As [`boto3`], with `ssm` a client.
pub fn boto3_ssm(code: &str, args: &[&str]) -> Vec<u8> {
    python(&client("ssm"), code, args)
}

/// As [`boto3`], with `cloudwatch` a client.
pub fn boto3_cloudwatch(code: &str, args: &[&str]) -> Vec<u8> {
    python(&client("cloudwatch"), code, args)
}

/// As [`boto3`], with `lambda_` a Lambda client.
pub fn boto3_lambda(code: &str, args: &[&str]) -> Vec<u8> {
    python(
        &client("lambda").replace("lambda = ", "lambda_ = "),
        code,
        args,
    )
}

/// The IAM role functions run as (made in moto if it is not there yet; tests race to make it),
/// as an ARN.
pub fn role() -> String {
    let out = python(
        &client("iam"),
        "try:\n    print(iam.create_role(RoleName='nubes-test', AssumeRolePolicyDocument='{}')['Role']['Arn'])\n\
         except iam.exceptions.EntityAlreadyExistsException:\n    print(iam.get_role(RoleName='nubes-test')['Role']['Arn'])",
        &[],
    );
    String::from_utf8(out).unwrap().trim().to_string()
}

/// A cloud whose functions run as [`role`].
pub async fn cloud_with_role() -> nubes_core::Cloud {
    nubes_aws::connect(&format!(
        "aws://us-east-1?endpoint={}&role={}",
        endpoint(),
        role()
    ))
    .await
    .unwrap()
}

fn client(service: &str) -> String {
    format!(
        "import sys, boto3\n{service} = boto3.client('{service}', endpoint_url='{}', region_name='us-east-1')\n",
        endpoint()
    )
}

fn python(prelude: &str, code: &str, args: &[&str]) -> Vec<u8> {
    let python = std::env::var("NUBES_TEST_AWS_PYTHON")
        .expect("NUBES_TEST_AWS_PYTHON is unset: run through scripts/test.sh");
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(format!("{prelude}{code}"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Random-looking bytes, the same for the same seed.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

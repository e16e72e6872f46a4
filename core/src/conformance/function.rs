use bytes::Bytes;

use super::{ensure, expect_kind, CaseResult, Failure, Fixture, Report, Runner};
use crate::function::*;
use crate::{ErrorKind, Result};

/// Runs the Function suite. Needs `Fixture::with_functions`.
pub async fn function(f: &dyn Function, fx: &Fixture) -> Report {
    let mut r = Runner::new("function", f.provider(), fx);
    match (&fx.echo_function, &fx.failing_function) {
        (Some(echo), Some(failing)) => {
            r.case("deploy_invoke_delete", echo_case(f, fx, echo)).await;
            r.case("function_error", failing_case(f, fx, failing)).await;
            r.case("bad_input", bad_input(f, fx, echo)).await;
            if f.capability().invoke_async {
                r.case("invoke_async", async_case(f, fx, echo)).await;
            } else {
                r.case("invoke_async_unsupported", no_async(f, fx, echo))
                    .await;
            }
        }
        _ => r.skip("all", "the fixture has no echo and failing functions"),
    }
    let cleanup = cleanup(f, fx).await;
    r.finish(cleanup)
}

async fn cleanup(f: &dyn Function, fx: &Fixture) -> Result<()> {
    for info in f.list().await? {
        if info.name.starts_with(fx.prefix()) {
            f.delete(&info.name).await?;
        }
    }
    Ok(())
}

fn named(spec: &FunctionSpec, name: String) -> FunctionSpec {
    let mut s = spec.clone();
    s.name = name;
    s
}

async fn echo_case(f: &dyn Function, fx: &Fixture, echo: &FunctionSpec) -> CaseResult {
    let name = fx.name("echo");
    let info = f.deploy(named(echo, name.clone())).await?;
    ensure!(
        info.name == name && info.handler == echo.handler,
        "deployed {info:?}"
    );
    ensure!(f.get(&name).await?.name == name, "get");
    ensure!(f.list().await?.iter().any(|i| i.name == name), "not listed");
    expect_kind(
        f.deploy(named(echo, name.clone())).await,
        ErrorKind::AlreadyExists,
        "deploy twice",
    )?;

    let json = f.capability().json;
    let payload = Bytes::from(r#"{"hello":"nubes","n":[1,2,3]}"#);
    let out = f.invoke(&name, payload.clone()).await?;
    ensure!(out.error.is_none(), "echo failed: {:?}", out.error);
    ensure!(
        same(&out.payload, &payload, json),
        "echo returned {:?}",
        out.payload
    );
    // A JSON backend takes a big string; any other, big bytes.
    let big = if json {
        Bytes::from(format!("\"{}\"", "x".repeat(fx.max_payload - 2)))
    } else {
        Bytes::from(vec![b'x'; fx.max_payload])
    };
    let back = f.invoke(&name, big.clone()).await?.payload;
    ensure!(
        same(&back, &big, json),
        "{} byte payload came back as {} bytes",
        big.len(),
        back.len()
    );
    if !json {
        let empty = f.invoke(&name, Bytes::new()).await?;
        ensure!(
            empty.error.is_none() && empty.payload.is_empty(),
            "empty payload: {empty:?}"
        );
    }

    f.delete(&name).await?;
    expect_kind(f.get(&name).await, ErrorKind::NotFound, "get after delete")?;
    expect_kind(
        f.invoke(&name, payload).await,
        ErrorKind::NotFound,
        "invoke after delete",
    )?;
    expect_kind(f.delete(&name).await, ErrorKind::NotFound, "delete twice")
}

async fn failing_case(f: &dyn Function, fx: &Fixture, failing: &FunctionSpec) -> CaseResult {
    let name = fx.name("fail");
    f.deploy(named(failing, name.clone())).await?;
    let out = f.invoke(&name, Bytes::from(r#""x""#)).await?;
    let err = out
        .error
        .ok_or_else(|| Failure("a failing function reported success".into()))?;
    // The handler's own exit code; JSON backends (Lambda) report none.
    let want = (!f.capability().json).then_some(3);
    ensure!(err.exit_code == want, "exit code {:?}", err.exit_code);
    ensure!(err.message.contains("boom"), "message {:?}", err.message);
    f.delete(&name).await?;
    Ok(())
}

/// Whether `got` is `want`: the same bytes, or for JSON backends the same document.
fn same(got: &[u8], want: &[u8], json: bool) -> bool {
    if !json {
        return got == want;
    }
    match (
        serde_json::from_slice::<serde_json::Value>(got),
        serde_json::from_slice::<serde_json::Value>(want),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Two async invocations return distinct ids without waiting for the function; a missing
/// function fails at once.
async fn async_case(f: &dyn Function, fx: &Fixture, echo: &FunctionSpec) -> CaseResult {
    let name = fx.name("async");
    f.deploy(named(echo, name.clone())).await?;
    let payload = Bytes::from(r#"{"async":true}"#);
    let first = f.invoke_async(&name, payload.clone()).await?;
    let second = f.invoke_async(&name, payload.clone()).await?;
    ensure!(
        !first.id.is_empty() && first.id != second.id,
        "invocation ids {:?} and {:?}",
        first.id,
        second.id
    );
    expect_kind(
        f.invoke_async(&fx.name("ghost"), payload).await,
        ErrorKind::NotFound,
        "async invoke of a missing function",
    )?;
    f.delete(&name).await?;
    Ok(())
}

async fn no_async(f: &dyn Function, fx: &Fixture, echo: &FunctionSpec) -> CaseResult {
    let name = fx.name("noasync");
    f.deploy(named(echo, name.clone())).await?;
    expect_kind(
        f.invoke_async(&name, Bytes::from("{}")).await,
        ErrorKind::Unsupported,
        "async invoke without the capability",
    )?;
    f.delete(&name).await?;
    Ok(())
}

async fn bad_input(f: &dyn Function, fx: &Fixture, echo: &FunctionSpec) -> CaseResult {
    expect_kind(
        f.deploy(named(echo, "Bad Name".into())).await,
        ErrorKind::InvalidInput,
        "invalid name",
    )?;
    let mut no_handler = named(echo, fx.name("nohandler"));
    no_handler.handler.clear();
    expect_kind(
        f.deploy(no_handler).await,
        ErrorKind::InvalidInput,
        "empty handler",
    )?;
    let mut no_image = named(echo, fx.name("noimage"));
    no_image.image.clear();
    expect_kind(
        f.deploy(no_image).await,
        ErrorKind::InvalidInput,
        "empty image",
    )?;
    let mut bad_cpu = named(echo, fx.name("badcpu"));
    bad_cpu.cpus = Some(-1.0);
    expect_kind(
        f.deploy(bad_cpu).await,
        ErrorKind::InvalidInput,
        "negative cpus",
    )?;
    expect_kind(
        f.invoke(&fx.name("ghost"), Bytes::new()).await,
        ErrorKind::NotFound,
        "invoke missing",
    )?;
    ensure!(
        !f.list()
            .await?
            .iter()
            .any(|i| i.name.starts_with(&fx.name("no")) || i.name.ends_with("badcpu")),
        "bad deploys left functions behind"
    );
    Ok(())
}

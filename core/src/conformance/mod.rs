//! The conformance kit: suites written once against the traits and run by every provider's
//! tests against its real backend. Cases are gated by capability: a case the backend cannot run
//! is reported as skipped with the reason, and unsupported operations are checked to fail with
//! `Unsupported`.
//!
//! Every resource a suite creates is named with the fixture's random run prefix and removed at
//! the end, whether the cases passed or not. A suite panics after cleanup, listing every failed
//! case, so it reads as one failing `#[test]`.
//!
//! ```no_run
//! # async fn run() -> nubes_core::Result<()> {
//! use nubes_core::{conformance, Registry};
//! let mut registry = Registry::new();
//! nubes_core::memory::register(&mut registry);
//! let cloud = registry.connect("memory://?images=busybox").await?;
//! let fixture = conformance::Fixture::new("busybox");
//! let report = conformance::compute(cloud.compute()?.as_ref(), &fixture).await;
//! println!("{report}");
//! # Ok(()) }
//! ```

mod compute;
mod disk;
mod function;
mod storage;

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use compute::compute;
pub use disk::disk;
pub use function::function;
pub use storage::storage;

use crate::{Error, ErrorKind, FunctionSpec, Result};

/// Label every kit instance carries, valued with the run prefix.
pub const KIT_LABEL: &str = "conformance-kit";
/// The line the default instance command prints first.
pub const READY_LINE: &str = "nubes-ready";

/// What the suites need from a backend, and the run's naming prefix.
#[derive(Debug, Clone)]
pub struct Fixture {
    prefix: String,
    /// An image that exists on the backend and has `sh`, `echo`, `cat`, `sleep` and `pwd`.
    pub image: String,
    /// An image that certainly does not exist.
    pub missing_image: String,
    /// A long-running command that prints [`READY_LINE`] and then `tick` lines.
    pub command: Vec<String>,
    /// A function that returns its payload unchanged (its name is replaced by the kit).
    pub echo_function: Option<FunctionSpec>,
    /// A function that writes `boom` to stderr and exits with code 3.
    pub failing_function: Option<FunctionSpec>,
    pub stop_timeout: Duration,
    pub wait_timeout: Duration,
    /// For VM providers: what every instance of the kit boots besides `image`.
    pub vm: Option<crate::VmSpec>,
    /// The largest payload the function suite sends (256 KiB unless a backend under test
    /// takes less).
    pub max_payload: usize,
    /// The cpus every kit instance and function asks for where a case names none (the
    /// provider's default otherwise): a small cluster node fits only a few default-sized ones.
    pub cpus: Option<f64>,
    /// Cases the backend under test cannot show, with the reason (an emulator that runs no
    /// code, say); they are reported as skipped, never as passed.
    pub excused: Vec<(&'static str, String)>,
}

impl Fixture {
    pub fn new(image: impl Into<String>) -> Self {
        let suffix: String = (0..6).map(|_| fastrand::lowercase()).collect();
        Self {
            prefix: format!("nk{suffix}"),
            image: image.into(),
            missing_image: "nubes-conformance/no-such-image:never".to_string(),
            command: vec![
                "sh".into(),
                "-c".into(),
                format!("echo {READY_LINE}; while true; do echo tick; sleep 0.2; done"),
            ],
            echo_function: None,
            failing_function: None,
            stop_timeout: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(30),
            vm: None,
            max_payload: 256 * 1024,
            cpus: None,
            excused: Vec::new(),
        }
    }

    /// Reports `case` as skipped for `why` instead of running it.
    pub fn excuse(mut self, case: &'static str, why: impl Into<String>) -> Self {
        self.excused.push((case, why.into()));
        self
    }

    /// Makes kit instances and functions ask for `cpus` where a case names none.
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.cpus = Some(cpus);
        self
    }

    pub fn with_vm(mut self, vm: crate::VmSpec) -> Self {
        self.vm = Some(vm);
        self
    }

    pub fn with_functions(mut self, echo: FunctionSpec, failing: FunctionSpec) -> Self {
        self.echo_function = Some(echo);
        self.failing_function = Some(failing);
        self
    }

    /// This run's prefix; everything the kit creates starts with it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A resource name unique to this run.
    pub fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }
}

/// What a suite did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub suite: &'static str,
    pub provider: String,
    pub passed: Vec<&'static str>,
    pub skipped: Vec<(&'static str, String)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conformance {} on {}: {} passed, {} skipped",
            self.suite,
            self.provider,
            self.passed.len(),
            self.skipped.len()
        )?;
        for (case, why) in &self.skipped {
            write!(f, "\n  skipped {case}: {why}")?;
        }
        Ok(())
    }
}

/// Why a case failed.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(format!("unexpected error: {e} [{:?}]", e.kind()))
    }
}

pub type CaseResult = std::result::Result<(), Failure>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::conformance::Failure(format!($($arg)+)));
        }
    };
}
pub(crate) use ensure;

/// Checks that `result` is an error of `kind`.
pub(crate) fn expect_kind<T: fmt::Debug>(
    result: Result<T>,
    kind: ErrorKind,
    what: &str,
) -> CaseResult {
    match result {
        Err(e) if e.kind() == kind => Ok(()),
        Err(e) => Err(Failure(format!(
            "{what}: expected {kind}, got {} ({e})",
            e.kind()
        ))),
        Ok(v) => Err(Failure(format!("{what}: expected {kind}, got Ok({v:?})"))),
    }
}

/// Runs cases, collecting failures instead of stopping at the first.
pub(crate) struct Runner {
    report: Report,
    failures: Vec<String>,
    excused: Vec<(&'static str, String)>,
}

impl Runner {
    pub(crate) fn new(suite: &'static str, provider: &str, fx: &Fixture) -> Self {
        Self {
            report: Report {
                suite,
                provider: provider.to_string(),
                ..Report::default()
            },
            failures: Vec::new(),
            excused: fx.excused.clone(),
        }
    }

    pub(crate) async fn case(
        &mut self,
        name: &'static str,
        case: impl Future<Output = CaseResult>,
    ) {
        if let Some((_, why)) = self.excused.iter().find(|(c, _)| *c == name) {
            let why = why.clone();
            return self.skip(name, why);
        }
        match case.await {
            Ok(()) => self.report.passed.push(name),
            Err(Failure(why)) => self.failures.push(format!("{name}: {why}")),
        }
    }

    pub(crate) fn skip(&mut self, name: &'static str, why: impl Into<String>) {
        self.report.skipped.push((name, why.into()));
    }

    /// Ends the suite after cleanup: panics with every failure, or returns the report.
    pub(crate) fn finish(mut self, cleanup: Result<()>) -> Report {
        if let Err(e) = cleanup {
            self.failures.push(format!("cleanup: {e}"));
        }
        if !self.failures.is_empty() {
            panic!(
                "conformance {} on {} failed {} case(s):\n  {}",
                self.report.suite,
                self.report.provider,
                self.failures.len(),
                self.failures.join("\n  ")
            );
        }
        self.report
    }
}

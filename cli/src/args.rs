//! The command line, as clap reads it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use nubes::{PortMapping, Volume};

use crate::output::Format;
use crate::parse;

#[derive(Debug, Parser)]
#[command(
    name = "cloudctl",
    version,
    about = "Create, run and manage instances, storage and functions on any Nubes provider",
    after_help = "Providers: docker:// (instances, functions), local:///path (buckets, objects), memory:// (everything, in memory).\nExit codes: 0 ok, 1 unexpected, 2 usage, 3 not found, 4 already exists, 5 invalid input, 6 unsupported,\n7 permission denied, 8 unauthenticated, 9 quota exceeded, 10 insufficient credits, 11 conflict, 12 rate limited,\n13 timeout, 14 unavailable; `instance exec` and `function invoke` exit with the remote command's code."
)]
pub struct Cli {
    /// Provider URI: docker://, docker:///path/to/docker.sock, local:///path, memory://, or a Nubes
    /// server's https://host (token in NUBES_TOKEN). Default: the current context, else docker://
    #[arg(long, global = true, env = "NUBES_PROVIDER")]
    pub provider: Option<String>,

    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,

    /// On a Nubes server: the organization (its id) that instances, disks, buckets, functions and
    /// clusters are created in. Default: your personal one
    #[arg(long, global = true, env = "NUBES_ORG")]
    pub org: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Instances: containers or VMs
    #[command(subcommand, visible_alias = "vm")]
    Instance(InstanceCmd),
    /// Images on a Docker engine
    #[command(subcommand)]
    Image(ImageCmd),
    /// Disk images: qcow2, raw, vhdx, vmdk, vdi
    #[command(subcommand)]
    Disk(DiskCmd),
    /// Storage buckets
    #[command(subcommand)]
    Bucket(BucketCmd),
    /// Objects in a bucket
    #[command(subcommand)]
    Object(ObjectCmd),
    /// Functions: deploy once, invoke with a payload
    #[command(subcommand)]
    Function(FunctionCmd),
    /// Run the platform server
    #[cfg(feature = "server")]
    Serve(ServeArgs),
    /// Run the whole platform on this machine: the server on embedded SQLite with this machine's
    /// providers, signed in as its first admin
    #[cfg(feature = "server")]
    Up(UpArgs),
    /// Clusters: fleet capacity your organization reserves (on a Nubes fleet server)
    #[command(subcommand)]
    Cluster(ClusterCmd),
    /// Credits: plans, the balance and what moved it (on a Nubes server)
    #[command(subcommand)]
    Billing(BillingCmd),
    /// Live events from a Nubes server: instance states, the queue, agents (one JSON line each)
    Events,
    /// Lease this machine (`cloudctl agent --server URL --token T` runs a lessor agent that dials
    /// a Nubes server and runs what it places here), or manage a fleet's agents as its admin
    Agent(AgentArgs),
    /// Create an account on a Nubes server, then `login`
    Register(AccountArgs),
    /// Sign in to a Nubes server and make it the current context
    Login(LoginArgs),
    /// Organizations: create, join with an invite's code, members and their roles, invites
    #[command(subcommand)]
    Org(OrgCmd),
    /// API tokens for scripts and machines (a token's secret is shown once)
    #[command(subcommand)]
    Token(TokenCmd),
    /// A second factor from an authenticator app: enrol, then confirm with a code
    #[command(subcommand)]
    Totp(TotpCmd),
    /// A second factor by email: a code is mailed at each sign-in
    EmailOtp {
        #[arg(value_enum)]
        state: Switch,
    },
    /// Platform-wide views for platform admins: users, instances, the audit log
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Sign out of the current context, revoking its token
    Logout,
    /// Servers you are signed in to
    #[command(subcommand)]
    Context(ContextCmd),
    /// Print a shell completion script
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum InstanceCmd {
    /// Create and start an instance
    Create(Box<CreateArgs>),
    /// List instances
    #[command(visible_alias = "ls")]
    List {
        /// Only instances with this label (repeatable)
        #[arg(long = "label", short = 'l', value_parser = parse::key_value)]
        labels: Vec<(String, String)>,
    },
    /// Show one instance
    Get { id: String },
    /// Start a stopped instance
    Start { id: String },
    /// Stop an instance: ask it to exit, then kill it after the timeout
    Stop {
        id: String,
        #[arg(long, default_value = "10s", value_parser = parse::duration)]
        timeout: Duration,
    },
    /// Stop and start an instance
    Restart {
        id: String,
        #[arg(long, default_value = "10s", value_parser = parse::duration)]
        timeout: Duration,
    },
    /// Delete an instance
    #[command(visible_alias = "rm")]
    Delete {
        id: String,
        /// Delete even if it is running
        #[arg(long, short)]
        force: bool,
        /// Keep the disks a VM made for itself (its boot disk) as disk images
        #[arg(long)]
        keep_disks: bool,
    },
    /// Run a command in a running instance; cloudctl exits with the command's exit code
    Exec(ExecArgs),
    /// Print an instance's output
    Logs {
        id: String,
        /// Only the last N lines
        #[arg(long)]
        tail: Option<u64>,
        /// Keep printing new output
        #[arg(long, short)]
        follow: bool,
    },
    /// Attach to a VM's serial console (stdin to it, its output to stdout), or serve its screen
    /// to a VNC viewer on a local port
    Console {
        id: String,
        /// `serial` or `vnc`
        #[arg(long, default_value = "serial")]
        kind: nubes::ConsoleKind,
        /// For `vnc`: where a VNC viewer connects (a loopback address: the screen asks no
        /// password of its own)
        #[arg(long, default_value = "127.0.0.1:5900")]
        listen: std::net::SocketAddr,
    },
    /// Show resource usage
    Stats { id: String },
    /// Change an instance's cpus or memory
    Resize {
        id: String,
        #[arg(long, allow_negative_numbers = true)]
        cpus: Option<f64>,
        #[arg(long, value_parser = parse::size)]
        memory: Option<u64>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The instance's name (unique among yours)
    pub name: String,
    #[arg(long)]
    pub image: String,
    /// CPU cores, e.g. 0.5
    #[arg(long, allow_negative_numbers = true)]
    pub cpus: Option<f64>,
    /// Memory limit, e.g. 256Mi or 1Gi
    #[arg(long, value_parser = parse::size)]
    pub memory: Option<u64>,
    /// Disk limit, e.g. 10Gi (where the provider can enforce one)
    #[arg(long, value_parser = parse::size)]
    pub disk: Option<u64>,
    /// Maximum number of processes
    #[arg(long)]
    pub pids: Option<u64>,
    /// Environment variable KEY=VALUE (repeatable)
    #[arg(long = "env", short = 'e', value_parser = parse::key_value)]
    pub env: Vec<(String, String)>,
    /// Label KEY=VALUE (repeatable)
    #[arg(long = "label", short = 'l', value_parser = parse::key_value)]
    pub labels: Vec<(String, String)>,
    /// Publish a port: HOST:CONTAINER or CONTAINER, optionally /udp (repeatable)
    #[arg(long = "port", short = 'p', value_parser = parse::port)]
    pub ports: Vec<PortMapping>,
    /// Mount a disk of the same provider: DISK:PATH, or DISK:PATH:ro read-only (repeatable)
    #[arg(long = "volume", short = 'v', value_parser = parse::volume)]
    pub volumes: Vec<Volume>,
    /// A VM's installation ISO, by file name in the provider's boot directory
    #[arg(long)]
    pub iso: Option<String>,
    /// A VM's kernel to boot directly (file name in the boot directory); the command after
    /// `--` is its command line
    #[arg(long)]
    pub kernel: Option<String>,
    /// The initrd for --kernel
    #[arg(long, requires = "kernel")]
    pub initrd: Option<String>,
    /// A VM's network: user (default), none, or bridge:NAME
    #[arg(long)]
    pub network: Option<String>,
    /// On a fleet: admitted before lower priorities when capacity is short (default 0)
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i32>,
    /// On a fleet: run inside this cluster of your organization (its id)
    #[arg(long)]
    pub cluster: Option<String>,
    /// Wait until the instance runs (a fleet may queue it first)
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits
    #[arg(long, default_value = "5m", value_parser = parse::duration)]
    pub wait_timeout: Duration,
    /// Command to run instead of the image's default, after `--`
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub id: String,
    /// Environment variable KEY=VALUE (repeatable)
    #[arg(long = "env", short = 'e', value_parser = parse::key_value)]
    pub env: Vec<(String, String)>,
    /// Working directory inside the instance
    #[arg(long, short = 'w')]
    pub workdir: Option<String>,
    /// Pass cloudctl's stdin to the command
    #[arg(long, short = 'i')]
    pub stdin: bool,
    /// Kill the command if it runs longer than this
    #[arg(long, value_parser = parse::duration)]
    pub timeout: Option<Duration>,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Pull an image from a registry
    Pull { reference: String },
    /// Create an image from a root filesystem tarball ("-" reads stdin)
    Import {
        file: PathBuf,
        /// Name for the image, e.g. myorg/base:1.0
        #[arg(long)]
        name: String,
        /// Dockerfile instruction to apply, e.g. 'CMD ["/bin/sh"]' (repeatable)
        #[arg(long = "change")]
        changes: Vec<String>,
    },
    /// List images
    #[command(visible_alias = "ls")]
    List,
    /// Delete an image
    #[command(visible_alias = "rm")]
    Delete { reference: String },
}

#[derive(Debug, Subcommand)]
pub enum DiskCmd {
    /// Create an empty disk image, or a copy-on-write overlay on another (--backing)
    Create {
        name: String,
        /// Virtual size: 10G, 512Mi, or bytes
        #[arg(long, value_parser = parse::size)]
        size: u64,
        #[arg(long, default_value = "qcow2", value_parser = parse::disk_format)]
        format: nubes::DiskFormat,
        /// A disk to start from: the new one (qcow2) keeps its content and writes only changes
        #[arg(long)]
        backing: Option<String>,
    },
    #[command(visible_alias = "ls")]
    List,
    /// Show a disk: format, virtual and actual size, the disk it is an overlay on
    #[command(visible_alias = "get")]
    Info {
        name: String,
    },
    /// Grow a disk to SIZE, or by +SIZE; shrinking needs --shrink
    Resize {
        name: String,
        /// 20G (the new size) or +5G (grow by)
        #[arg(allow_hyphen_values = true)]
        size: String,
        /// Allow a smaller size, losing what lies past the new end
        #[arg(long)]
        shrink: bool,
    },
    /// Write a copy in another format as a new disk
    Convert {
        name: String,
        #[arg(long, value_parser = parse::disk_format)]
        format: nubes::DiskFormat,
        /// The new disk's name
        #[arg(long)]
        target: String,
    },
    Rename {
        name: String,
        new_name: String,
    },
    #[command(visible_alias = "rm")]
    Delete {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BillingCmd {
    /// The plans, their monthly credits and limits, and the prices
    Plans,
    /// Your plan
    Plan,
    /// Switch plans now (the rest of the month's credits are prorated)
    Switch { plan: String },
    /// Your credits
    Balance,
    /// What moved your balance, newest first
    #[command(visible_alias = "tx")]
    Transactions,
    /// What your instances used, by day, instance and resource
    Usage {
        /// First day, YYYY-MM-DD (default: the first of this month)
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (default: today)
        #[arg(long)]
        to: Option<String>,
    },
    /// Add credits a user paid for (platform admins)
    TopUp {
        /// The user's id
        user: String,
        /// Credits, like 25 or 12.5
        amount: String,
        #[arg(long)]
        memo: String,
    },
    /// Correct a user's balance either way, saying why (platform admins)
    Adjust {
        user: String,
        /// Credits, like -2.5
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        memo: String,
    },
    /// Add the credits a voucher is worth to your balance (once)
    Redeem {
        /// The voucher's code (nbv_...)
        code: String,
    },
    /// Vouchers worth credits, to sell or give away (platform admins)
    #[command(subcommand)]
    Vouchers(VoucherCmd),
}

#[derive(Debug, Subcommand)]
pub enum VoucherCmd {
    /// Issue vouchers: prints their codes, this once
    Issue {
        /// Credits each is worth, like 25
        amount: String,
        /// How many (at most 100)
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// What they are for; users see it in their transactions
        #[arg(long)]
        memo: String,
        /// Days until they expire (default: never)
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// The newest vouchers and who redeemed them
    #[command(visible_alias = "ls")]
    List,
}

/// A fleet's agents, for platform admins (through the current context).
#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    /// Admit a new agent: prints its token once, for `cloudctl agent --token`
    Issue {
        name: String,
    },
    #[command(visible_alias = "ls")]
    List,
    /// An agent's capacity, what is free, its last heartbeat
    Get {
        id: String,
    },
    /// The tenants' instances an agent runs
    Instances {
        id: String,
    },
    /// Give the agent nothing new; what it runs stays
    Cordon {
        id: String,
    },
    Uncordon {
        id: String,
    },
    /// Cordon the agent and move its instances to others
    Drain {
        id: String,
    },
    /// Revoke the agent's token; it is disconnected at once
    #[command(visible_alias = "rm")]
    Revoke {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Reserve capacity (your organization's admins)
    Create {
        name: String,
        #[arg(long, allow_negative_numbers = true)]
        cpus: f64,
        /// 4G, 512Mi
        #[arg(long, value_parser = parse::size)]
        memory: u64,
        #[arg(long, default_value_t = 0)]
        gpus: u32,
    },
    #[command(visible_alias = "ls")]
    List,
    /// A cluster's use and queue
    Get { id: String },
    /// End an empty cluster
    #[command(visible_alias = "rm")]
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum BucketCmd {
    Create {
        name: String,
    },
    #[command(visible_alias = "ls")]
    List,
    /// Delete an empty bucket
    #[command(visible_alias = "rm")]
    Delete {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ObjectCmd {
    /// Upload a file ("-" reads stdin)
    Put {
        bucket: String,
        key: String,
        file: PathBuf,
        /// Send it as a multipart upload in parts of this size (at least 5Mi); files over 64Mi
        /// go that way anyway where the provider takes multipart uploads
        #[arg(long, value_parser = parse::size)]
        part_size: Option<u64>,
        /// Parts sent at once in a multipart upload
        #[arg(long, default_value_t = 4)]
        parallel: usize,
    },
    /// Download an object to a file, or to stdout without one
    Get {
        bucket: String,
        key: String,
        file: Option<PathBuf>,
        /// Only bytes START-END (end exclusive) or START-
        #[arg(long, value_parser = parse::range)]
        range: Option<nubes::ByteRange>,
    },
    /// Show an object's size and time
    Head { bucket: String, key: String },
    /// List objects
    #[command(visible_alias = "ls")]
    List {
        bucket: String,
        #[arg(long)]
        prefix: Option<String>,
        /// At most this many per page
        #[arg(long)]
        limit: Option<usize>,
        /// Token from a previous page
        #[arg(long)]
        continuation: Option<String>,
    },
    #[command(visible_alias = "rm")]
    Delete { bucket: String, key: String },
    /// Print a URL that reads (or with --put, writes) the object without credentials until it
    /// expires; headers it needs go to stderr (all of it with -o json)
    Presign {
        bucket: String,
        key: String,
        /// A URL to upload with (HTTP PUT) instead of one to download with
        #[arg(long)]
        put: bool,
        /// How long the URL works (at most 7d)
        #[arg(long, default_value = "1h", value_parser = parse::duration)]
        expires: Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum FunctionCmd {
    /// Deploy a function: the handler after `--` reads the payload on stdin and writes the result
    Deploy {
        /// The function's name
        name: String,
        /// The image it runs in; with --code, the runtime that runs the code (provided.al2)
        #[arg(long)]
        image: String,
        /// The code: a zip file, or a directory to zip (for providers that take code, Lambda)
        #[arg(long)]
        code: Option<PathBuf>,
        #[arg(long, allow_negative_numbers = true)]
        cpus: Option<f64>,
        #[arg(long, value_parser = parse::size)]
        memory: Option<u64>,
        /// Longest one invocation may run
        #[arg(long, value_parser = parse::duration)]
        timeout: Option<Duration>,
        #[arg(long = "env", short = 'e', value_parser = parse::key_value)]
        env: Vec<(String, String)>,
        #[arg(last = true, required = true)]
        handler: Vec<String>,
    },
    /// Run a function once; prints its result, exits with its exit code
    Invoke {
        name: String,
        /// The payload; without it (and without --payload-file) stdin is read
        #[arg(long, conflicts_with = "payload_file")]
        payload: Option<String>,
        #[arg(long)]
        payload_file: Option<PathBuf>,
        /// Start it and print the invocation's id, without waiting for its result
        #[arg(long = "async")]
        detach: bool,
    },
    #[command(visible_alias = "ls")]
    List,
    Get {
        name: String,
    },
    #[command(visible_alias = "rm")]
    Delete {
        name: String,
    },
}

#[cfg(feature = "server")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, env = "NUBES_SERVER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Where the embedded database lives
    #[arg(long, env = "NUBES_SERVER_DATA_DIR", default_value = "/var/lib/nubes")]
    pub data_dir: PathBuf,
    /// A database URL instead of the embedded SQLite, e.g. postgres://user@host/nubes
    #[arg(long, env = "NUBES_SERVER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The provider that runs tenants' instances; "none" disables instances
    #[arg(long, env = "NUBES_SERVER_COMPUTE", default_value = "docker://")]
    pub compute: String,
    /// With --compute fleet://: a request that does not fit may evict lower-priority instances
    /// (queued again), only when that admits it
    #[arg(long)]
    pub preemption: bool,
    /// A reverse proxy (address or range, e.g. 10.0.0.0/8) whose X-Forwarded-For names the
    /// client, for per-address limits and the audit log; repeat for more
    #[arg(
        long = "trusted-proxy",
        env = "NUBES_SERVER_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<nubes_server::listen::Cidr>,
    /// Hold creates and resizes to the creator's plan, and have each create paid for (its first
    /// hour and its disk) before it is made
    #[arg(long)]
    pub billing: bool,
    /// A JSON file of plans, prices, the platform's fee and alert levels, each field over its
    /// default: {"prices": {"core_hour": "0.2"}, "plans": {"free": {"monthly": "15", "cpus":
    /// 2}}, "fee_bps": 2000, "alerts": ["5", "1"]}
    #[arg(long, env = "NUBES_SERVER_BILLING_SETTINGS")]
    pub billing_settings: Option<PathBuf>,
    /// The provider that holds tenants' buckets (default: local:// in the data directory); "none"
    /// disables buckets
    #[arg(long, env = "NUBES_SERVER_STORAGE")]
    pub storage: Option<String>,
    /// The provider that holds tenants' disk images (e.g. memory://); "none" disables disks
    #[arg(long, env = "NUBES_SERVER_DISK", default_value = "none")]
    pub disk: String,
    /// The provider that runs tenants' functions; "none" disables functions
    #[arg(long, env = "NUBES_SERVER_FUNCTION", default_value = "docker://")]
    pub function: String,
    /// SMTP relay for emailed sign-in codes: smtp://host:port, smtp://host?tls=required, smtps://host
    #[arg(long, env = "NUBES_SERVER_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender of those mails
    #[arg(long, env = "NUBES_SERVER_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Swagger UI's files for /docs (the swagger-ui-dist npm package's folder); unset, the page
    /// loads them from a CDN
    #[arg(long, env = "NUBES_SWAGGER_UI_DIR")]
    pub swagger_ui_dir: Option<PathBuf>,
    /// The dashboard's built files (web/dist after `npm run build`), served at /; unset, no
    /// dashboard
    #[arg(long, env = "NUBES_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Email of the first admin, created with a generated password on first start
    #[arg(
        long,
        env = "NUBES_SERVER_ADMIN_EMAIL",
        default_value = "admin@nubes.local"
    )]
    pub admin_email: String,
    /// Write the first admin's generated password to this file (created with mode 0600)
    /// instead of showing it on stdout, where a service manager would keep it in its logs
    #[arg(long, env = "NUBES_SERVER_ADMIN_PASSWORD_FILE")]
    pub admin_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, env = "NUBES_UP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Where the database and objects live (default: ~/.local/share/nubes)
    #[arg(long, env = "NUBES_UP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The provider for instances and functions (default: docker:// when an engine answers,
    /// otherwise none)
    #[arg(long)]
    pub compute: Option<String>,
    /// Swagger UI's files for /docs (the swagger-ui-dist npm package's folder); unset, the page
    /// loads them from a CDN
    #[arg(long, env = "NUBES_SWAGGER_UI_DIR")]
    pub swagger_ui_dir: Option<PathBuf>,
    /// The dashboard's built files (web/dist after `npm run build`), served at /; unset, no
    /// dashboard
    #[arg(long, env = "NUBES_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Do not save a signed-in context for the first admin
    #[arg(long)]
    pub no_context: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub admin: Option<AgentCmd>,
    /// The Nubes server, e.g. https://nubes.example.com
    #[arg(long, env = "NUBES_AGENT_SERVER", required = true)]
    pub server: Option<String>,
    /// The agent token a platform admin issued (nbg_...)
    #[arg(
        long,
        env = "NUBES_AGENT_TOKEN",
        hide_env_values = true,
        required = true
    )]
    pub token: Option<String>,
    /// A name for people (default: this machine's hostname)
    #[arg(long)]
    pub name: Option<String>,
    /// CPUs to lease (default: all of this machine's)
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Memory to lease: 8G, 512Mi (default: all of this machine's)
    #[arg(long, value_parser = parse::size)]
    pub memory: Option<u64>,
    /// Disk to lease (default: none is promised)
    #[arg(long, value_parser = parse::size)]
    pub disk: Option<u64>,
    /// Labels instances may ask for (repeatable): zone=eu
    #[arg(long = "label", short = 'l', value_parser = parse::key_value)]
    pub labels: Vec<(String, String)>,
    /// The local provider that runs the instances
    #[arg(long = "runtime", default_value = "docker://")]
    pub runtime: String,
}

/// Who, on which server: what `register` and `login` both take.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// The server, e.g. https://nubes.example.com
    #[arg(long)]
    pub server: String,
    #[arg(long)]
    pub email: String,
    /// Read the password from stdin (otherwise NUBES_PASSWORD, or a prompt)
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// The second factor's code, when the account has one (otherwise a prompt)
    #[arg(long)]
    pub code: Option<String>,
    /// Name for the context (default: the server's host)
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ContextCmd {
    #[command(visible_alias = "ls")]
    List,
    /// Make a context current
    Use { name: String },
    #[command(visible_alias = "rm")]
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// A new organization, with you as its admin
    Create { name: String },
    /// Your organizations and your role in each
    #[command(visible_alias = "ls")]
    List,
    /// Join the organization an invite's code is for (left out, the code is read from stdin, so
    /// it stays out of shell history and the process list)
    Join { code: Option<String> },
    /// Who is in an organization
    Members { org: String },
    /// Change a member's role (organization admins)
    Role {
        org: String,
        /// The member's user id
        user: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// A new invite (organization admins); its code is shown once
    Invite {
        org: String,
        #[arg(long, value_enum, default_value_t = RoleArg::Member)]
        role: RoleArg,
        /// How long it is good for, in hours
        #[arg(long, default_value_t = 72)]
        hours: u64,
        /// How many joins it is good for
        #[arg(long, default_value_t = 1)]
        uses: u64,
    },
    /// An organization's invites
    Invites { org: String },
    /// Revoke an invite
    RevokeInvite { org: String, invite: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Viewer,
    Member,
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// A new API token; its secret is shown once
    Create { name: String },
    /// Your API tokens (without their secrets)
    #[command(visible_alias = "ls")]
    List,
    /// Revoke a token by its id
    #[command(visible_alias = "rm")]
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TotpCmd {
    /// Start enrolment: prints the secret and an otpauth:// URI for an authenticator app
    Enrol,
    /// Turn TOTP on with a code from the app
    Confirm { code: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Every user
    Users,
    /// Every instance, with its owner and, on a fleet, its agent
    Instances,
    /// Every organization's clusters, with use and queue
    Clusters,
    /// Instances waiting for the fleet's capacity, in the order they will start
    Queue,
    /// The audit log, newest first
    Audit {
        /// Only this user's entries
        #[arg(long)]
        user: Option<String>,
        /// Only this organization's entries
        #[arg(long = "in-org")]
        in_org: Option<String>,
        /// Only actions starting with this, like "POST /v1/instances"
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
}

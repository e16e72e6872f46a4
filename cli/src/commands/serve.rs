//! `cloudctl serve` runs the platform server as configured; `cloudctl up` runs it for this
//! machine with defaults and signs its first admin in.

use std::path::{Path, PathBuf};

use nubes::prelude::*;
use nubes::{Error, ErrorKind};

use nubes_server::platform::{self, DataDir};

use crate::args::{ServeArgs, UpArgs};
use crate::context::{ConfigFile, Context};
use crate::Outcome;

pub async fn run(args: ServeArgs) -> Outcome {
    let data = DataDir::lock(&args.data_dir)?;
    let storage = match args.storage {
        Some(uri) => uri,
        None => data.objects()?,
    };
    let enabled = |uri: String| (uri != "none").then_some(uri);
    let billing_settings = match &args.billing_settings {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| nubes::Error::io(e, &path.display().to_string()))?;
            nubes_server::BillingSettings::from_json(&text)?
        }
        None => Default::default(),
    };
    let config = nubes_server::Config {
        database_url: args.database_url.unwrap_or_else(|| data.database_url()),
        jwt_secret: jwt_secret(),
        compute: enabled(args.compute),
        storage: enabled(storage),
        disk: enabled(args.disk),
        function: enabled(args.function),
        smtp_url: args.smtp_url,
        mail_from: args.mail_from,
        swagger_ui_dir: args.swagger_ui_dir,
        web_dir: args.web_dir.clone(),
        billing: args.billing,
        billing_settings,
        // Running instances are charged every ten seconds of server time.
        billing_tick: Some(std::time::Duration::from_secs(10)),
        usage_journal: Some(data.usage_journal()),
        fleet: nubes_agent::FleetConfig {
            preemption: args.preemption,
            ..Default::default()
        },
        bounds: Default::default(),
        trusted_proxies: args.trusted_proxies,
    };
    let (state, _) = start(
        &config,
        &args.admin_email,
        args.admin_password_file.as_deref(),
    )
    .await?;
    let listener = bind(args.listen).await?;
    serve(listener, state).await
}

/// Disk images with qemu-img in the data directory, when qemu-img is there to make them.
async fn disks_in(data_dir: &Path) -> Option<String> {
    let found = tokio::process::Command::new(nubes::qemu::img::program())
        .arg("--version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: disks are off: qemu-img is not installed");
        return None;
    }
    Some(format!(
        "qemu://?pool={}",
        data_dir.join("images").display()
    ))
}

pub async fn up(args: UpArgs) -> Outcome {
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let data = DataDir::lock(&data_dir)?;
    // Instances run on the fleet, with this machine's Docker Engine leased to it by a local
    // agent; functions run on the engine directly.
    let (compute, function) = match args.compute {
        Some(uri) => {
            let on = (uri != "none").then_some(uri);
            (on.clone(), on.filter(|u| !nubes_server::is_fleet(u)))
        }
        None => match Cloud::connect("docker://").await {
            Ok(_) => (Some("fleet://".to_string()), Some("docker://".to_string())),
            Err(e) => {
                eprintln!("note: instances and functions are off: {}", e.message());
                eprintln!("      start Docker Engine, or pass --compute");
                (None, None)
            }
        },
    };
    let fleet = compute.as_deref().is_some_and(nubes_server::is_fleet);
    let config = nubes_server::Config {
        database_url: data.database_url(),
        jwt_secret: jwt_secret(),
        function,
        compute,
        storage: Some(data.objects()?),
        disk: disks_in(&data_dir).await,
        smtp_url: None,
        mail_from: None,
        swagger_ui_dir: args.swagger_ui_dir,
        web_dir: args.web_dir.clone(),
        billing: false,
        billing_settings: Default::default(),
        billing_tick: None,
        usage_journal: Some(data.usage_journal()),
        fleet: Default::default(),
        bounds: Default::default(),
        trusted_proxies: Vec::new(),
    };
    let (state, admin) = start(&config, "admin@nubes.local", None).await?;
    let listener = bind(args.listen).await?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| nubes::Error::io(e, "listener"))?
    );
    println!("listening on {url}");
    let server = tokio::spawn(nubes_server::serve(listener, state.clone()));
    // Instances run on the fleet, with this machine's Docker Engine leased to it.
    let _agent = if fleet {
        let compute = Cloud::connect("docker://").await?.compute()?;
        let wait = std::time::Duration::from_secs(15);
        let agent = platform::local_agent(&state, &data, &url, compute, wait).await?;
        println!(
            "this machine's Docker Engine is leased to the fleet: {} cpus, {} MiB",
            agent.capacity.cpus(),
            agent.capacity.memory >> 20
        );
        if !agent.online {
            eprintln!("note: the local agent has not connected yet; instances wait in the queue until it does");
        }
        Some(agent)
    } else {
        None
    };
    if !args.no_context {
        match admin {
            Some(admin) => sign_in(&url, &admin.email, &admin.password).await?,
            None => follow(&url)?,
        }
    }
    if args.web_dir.is_some() {
        println!("dashboard: {url}/");
    }
    println!("API documentation: {url}/docs");
    println!("data in {}", data_dir.display());
    println!("press Ctrl-C to stop");
    tokio::select! {
        res = server => match res {
            Ok(Ok(())) => Ok(0),
            Ok(Err(e)) => Err(Error::new(ErrorKind::Unavailable, format!("server stopped: {e}"))),
            Err(e) => Err(Error::unexpected(format!("server task failed: {e}"))),
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("stopping");
            Ok(0)
        }
    }
}

/// The context `cloudctl up` saves.
const LOCAL: &str = "local";

/// Saves a context signed in as the first admin, so cloudctl's commands reach this server.
async fn sign_in(url: &str, email: &str, password: &str) -> nubes::Result<()> {
    use nubes::remote::auth::{self, Login};
    let access = match auth::login(url, email, password).await? {
        Login::Done(access) => access,
        Login::Challenge { .. } => {
            return Err(Error::unexpected(
                "the new admin was asked for a second factor",
            ))
        }
    };
    let token = auth::machine_token(url, &access, "cloudctl up").await?;
    let name = LOCAL.to_string();
    let mut config = ConfigFile::load()?;
    config.upsert(Context {
        name: name.clone(),
        server: url.to_string(),
        user: email.to_string(),
        token,
    });
    config.save()?;
    println!("context {name} is now current: try `cloudctl instance list`");
    Ok(())
}

/// Points the saved context at where the server listens now; its token is still good, since the
/// database is the same.
fn follow(url: &str) -> nubes::Result<()> {
    let mut config = ConfigFile::load()?;
    let Some(ctx) = config.contexts.iter_mut().find(|c| c.name == LOCAL) else {
        return Ok(());
    };
    if ctx.server != url {
        ctx.server = url.to_string();
        config.save()?;
    }
    Ok(())
}

fn default_data_dir() -> nubes::Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(d).join("nubes"));
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/share/nubes"))
        .ok_or_else(|| Error::invalid_input("HOME is not set: pass --data-dir"))
}

/// The secret may come from the environment (several replicas share it); otherwise the server
/// generates one and keeps it in its database. It is never printed.
fn jwt_secret() -> Option<Vec<u8>> {
    std::env::var("NUBES_SERVER_JWT_SECRET")
        .ok()
        .map(String::into_bytes)
}

/// Opens the server's state; on first start, makes the first admin and shows its password once
/// (or, with `password_file`, writes it there, readable by the server's user only).
async fn start(
    config: &nubes_server::Config,
    admin_email: &str,
    password_file: Option<&std::path::Path>,
) -> nubes::Result<(
    nubes_server::AppState,
    Option<nubes_server::accounts::Bootstrap>,
)> {
    if let Some(file) = password_file {
        // Refused before anything is made: a password nobody can read would lock the admin out.
        if file.exists() {
            return Err(Error::conflict(format!(
                "{} exists: remove it, or name a new file for the first admin's password",
                file.display()
            )));
        }
    }
    let state = nubes_server::state(config).await?;
    let admin = state.accounts.bootstrap_admin(admin_email).await?;
    if let Some(admin) = &admin {
        println!("first admin: {}", admin.email);
        match password_file {
            Some(file) => {
                platform::write_secret(file, &admin.password)?;
                println!("password:    in {} (mode 0600)", file.display());
            }
            None => {
                // Shown this once, on stdout only: it is in no log and cannot be shown again.
                println!("password:    {}", admin.password);
                println!("(shown once; store it now)");
            }
        }
    }
    Ok((state, admin))
}

async fn bind(addr: std::net::SocketAddr) -> nubes::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot listen on {addr}: {e}"),
        )
    })
}

async fn serve(listener: tokio::net::TcpListener, state: nubes_server::AppState) -> Outcome {
    let addr = listener
        .local_addr()
        .map_err(|e| nubes::Error::io(e, "listener"))?;
    println!("listening on http://{addr}");
    nubes_server::serve(listener, state)
        .await
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("server stopped: {e}")))?;
    Ok(0)
}

//! `cloudctl serve` runs the platform server as configured; `cloudctl up` runs it for this
//! machine with defaults and signs its first admin in.

use std::path::{Path, PathBuf};

use nubes::prelude::*;
use nubes::{Error, ErrorKind};

use crate::args::{ServeArgs, UpArgs};
use crate::context::{ConfigFile, Context};
use crate::Outcome;

pub async fn run(args: ServeArgs) -> Outcome {
    let storage = match args.storage {
        Some(uri) => uri,
        None => objects_in(&args.data_dir)?,
    };
    let enabled = |uri: String| (uri != "none").then_some(uri);
    let config = nubes_server::Config {
        database_url: database_url(args.database_url, &args.data_dir)?,
        jwt_secret: jwt_secret(),
        compute: enabled(args.compute),
        storage: enabled(storage),
        disk: enabled(args.disk),
        function: enabled(args.function),
        smtp_url: args.smtp_url,
        mail_from: args.mail_from,
        swagger_ui_dir: args.swagger_ui_dir,
        fleet: Default::default(),
    };
    let (state, _) = start(&config, &args.admin_email).await?;
    let listener = bind(args.listen).await?;
    serve(listener, state).await
}

pub async fn up(args: UpArgs) -> Outcome {
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let compute = match args.compute {
        Some(uri) => (uri != "none").then_some(uri),
        None => match Cloud::connect("docker://").await {
            Ok(_) => Some("docker://".to_string()),
            Err(e) => {
                eprintln!("note: instances and functions are off: {}", e.message());
                eprintln!("      start Docker Engine, or pass --compute");
                None
            }
        },
    };
    let config = nubes_server::Config {
        database_url: database_url(None, &data_dir)?,
        jwt_secret: jwt_secret(),
        function: compute.clone(),
        compute,
        storage: Some(objects_in(&data_dir)?),
        disk: None,
        smtp_url: None,
        mail_from: None,
        swagger_ui_dir: args.swagger_ui_dir,
        fleet: Default::default(),
    };
    let (state, admin) = start(&config, "admin@nubes.local").await?;
    let listener = bind(args.listen).await?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| super::io_error(e, "listener"))?
    );
    println!("listening on {url}");
    let server = tokio::spawn(nubes_server::serve(listener, state));
    if !args.no_context {
        match admin {
            Some(admin) => sign_in(&url, &admin.email, &admin.password).await?,
            None => follow(&url)?,
        }
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

fn database_url(url: Option<String>, data_dir: &Path) -> nubes::Result<String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| super::io_error(e, &data_dir.display().to_string()))?;
    Ok(url.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("nubes.db").display())))
}

/// `local://` in the data directory's `objects`.
fn objects_in(data_dir: &Path) -> nubes::Result<String> {
    let objects = data_dir.join("objects");
    std::fs::create_dir_all(&objects)
        .map_err(|e| super::io_error(e, &objects.display().to_string()))?;
    Ok(format!("local://{}", objects.display()))
}

/// The secret may come from the environment (several replicas share it); otherwise the server
/// generates one and keeps it in its database. It is never printed.
fn jwt_secret() -> Option<Vec<u8>> {
    std::env::var("NUBES_SERVER_JWT_SECRET")
        .ok()
        .map(String::into_bytes)
}

/// Opens the server's state; on first start, makes the first admin and shows its password once.
async fn start(
    config: &nubes_server::Config,
    admin_email: &str,
) -> nubes::Result<(
    nubes_server::AppState,
    Option<nubes_server::accounts::Bootstrap>,
)> {
    let state = nubes_server::state(config).await?;
    let admin = state.accounts.bootstrap_admin(admin_email).await?;
    if let Some(admin) = &admin {
        // Shown this once, on stdout only: it is in no log and cannot be shown again.
        println!("first admin: {}", admin.email);
        println!("password:    {}", admin.password);
        println!("(shown once; store it now)");
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
        .map_err(|e| super::io_error(e, "listener"))?;
    println!("listening on http://{addr}");
    nubes_server::serve(listener, state)
        .await
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("server stopped: {e}")))?;
    Ok(0)
}

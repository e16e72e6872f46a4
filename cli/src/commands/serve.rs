use nubes::{Error, ErrorKind};

use crate::args::ServeArgs;
use crate::Outcome;

pub async fn run(args: ServeArgs) -> Outcome {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| super::io_error(e, &args.data_dir.display().to_string()))?;
    let database_url = match args.database_url {
        Some(url) => url,
        None => format!("sqlite://{}", args.data_dir.join("nubes.db").display()),
    };
    let storage = match args.storage {
        Some(uri) => uri,
        None => {
            let objects = args.data_dir.join("objects");
            std::fs::create_dir_all(&objects)
                .map_err(|e| super::io_error(e, &objects.display().to_string()))?;
            format!("local://{}", objects.display())
        }
    };
    let enabled = |uri: String| (uri != "none").then_some(uri);
    // The secret may come from the environment (several replicas share it); otherwise the server
    // generates one and keeps it in its database. It is never printed.
    let jwt_secret = std::env::var("NUBES_SERVER_JWT_SECRET")
        .ok()
        .map(String::into_bytes);
    let config = nubes_server::Config {
        database_url,
        jwt_secret,
        compute: enabled(args.compute),
        storage: enabled(storage),
        disk: enabled(args.disk),
        function: enabled(args.function),
        smtp_url: args.smtp_url,
        mail_from: args.mail_from,
    };
    let state = nubes_server::state(&config).await?;
    if let Some(admin) = state.accounts.bootstrap_admin(&args.admin_email).await? {
        // Shown this once, on stdout only: it is in no log and cannot be shown again.
        println!("first admin: {}", admin.email);
        println!("password:    {}", admin.password);
        println!("(shown once; store it now)");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot listen on {}: {e}", args.listen),
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| super::io_error(e, "listener"))?;
    println!("listening on http://{addr}");
    nubes_server::serve(listener, state)
        .await
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("server stopped: {e}")))?;
    Ok(0)
}

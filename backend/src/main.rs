//! Starts the signalling server: configuration, logging, listener, signals. Nothing else.

use anyhow::Context;
use backend::{AppState, config::Config, logging, metrics, router, serve, serve_tls, tls};
use clap::Parser;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env is normal; a broken one is worth knowing about.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        return Err(error).context("reading .env");
    }
    let config = Config::parse();
    logging::init(
        config.observability.log_format,
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    // Each WebSocket holds a file descriptor: lift the soft limit to the hard one.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }

    let state = AppState::new(&config)?;
    if config.listen.ip().is_loopback()
        && !config.limits.trusted_proxies.is_empty()
        && config.limits.public_origin.is_none()
        && config.limits.allowed_origins.is_empty()
    {
        tracing::warn!(
            "listening on loopback behind trusted proxies without PUBLIC_ORIGIN: only the host \
             names localhost, 127.0.0.1 and [::1] will be served; set PUBLIC_ORIGIN to the URL \
             people open"
        );
    }
    let tls = tls::start(&config.tls, config.listen).await?;
    let app = router(state.clone(), &config)?;
    if let Some(address) = config.observability.metrics_listen {
        let listener = metrics::exporter::bind(address).await?;
        tracing::info!(address = %listener.local_addr()?, "metrics served");
        let app = metrics::exporter::router(state.clone());
        tokio::spawn(metrics::exporter::serve(listener, app, state.clone()));
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!(
        address = %listener.local_addr()?,
        ice_provider = state.ice.provider_name(),
        static_dir = ?config.static_dir,
        tls = tls.is_some(),
        "signalling server ready"
    );
    let grace = config.shutdown_grace;
    match tls {
        Some(tls) => serve_tls(listener, tls, app, state, grace, shutdown_signal()).await?,
        None => serve(listener, app, state, grace, shutdown_signal()).await?,
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

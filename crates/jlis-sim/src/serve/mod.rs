//! `jlis-sim serve`: J-LIS's online services over HTTP, on loopback only.
//!
//! | Endpoint | What |
//! |---|---|
//! | `GET /healthz` | 200 `{"status":"ok"}` |
//! | `GET /crl/index.json` | every partition with its URL and current CRL metadata |
//! | `GET /crl/{ca_id}/{municipality}.crl` | the current partition CRL from `D/crl`, read on each request (strong `ETag`, `Last-Modified`, `304` on `If-None-Match` / `If-Modified-Since`) |
//! | `POST /ocsp`, `GET /ocsp/{base64}` | RFC 6960 responder (see [`ocsp`]) |
//! | `POST /4info/v1/consents` | record a 4-info provision consent |
//! | `DELETE /4info/v1/consents/{id}` | withdraw it |
//! | `POST /4info/v1/provisions` | the latest signing certificate serial and 4 info (see [`provision`]) |
//!
//! The server re-reads `state.json` on every OCSP and 4-info request, so `jlis-sim revoke`, `move`
//! and `crl` runs against the same directory take effect at once. Nothing is logged: the 4-info
//! responses carry personal data.
//!
//! [`start`] binds and returns the bound address and the (not yet awaited) actix [`Server`]; await
//! it or `tokio::spawn` it inside a Tokio runtime, and stop it with `server.handle().stop(true)`.

pub mod crl;
pub mod ocsp;
pub mod provision;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

use crate::error::{Result, SimError};
use crate::store::Simulator;

/// Options of the server beyond the directory and the address.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// When set, every `/4info` request needs `Authorization: Bearer <token>`.
    pub pf_token: Option<String>,
    /// Worker threads (default 2).
    pub workers: Option<usize>,
}

/// What every handler sees.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) sim: Arc<Simulator>,
    pub(crate) pf_token: Option<String>,
}

/// Binds `addr` (which must be a loopback address) and returns the bound address and the server,
/// with no bearer token on `/4info`. See [`start_with`].
pub fn start(sim: Arc<Simulator>, addr: SocketAddr) -> Result<(SocketAddr, Server)> {
    start_with(sim, addr, ServeOptions::default())
}

/// Binds `addr` (loopback only) and returns the bound address and the server. Must be called
/// inside a Tokio (or actix) runtime; the server runs once awaited or spawned.
pub fn start_with(sim: Arc<Simulator>, addr: SocketAddr, opts: ServeOptions) -> Result<(SocketAddr, Server)> {
    if !addr.ip().is_loopback() {
        return Err(SimError::arg(
            "listen",
            format!("{addr} is not a loopback address"),
        ));
    }
    let state = web::Data::new(AppState {
        sim,
        pf_token: opts.pf_token.filter(|t| !t.is_empty()),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(2 * jpki::ocsp::MAX_OCSP_LEN))
            .route("/healthz", web::get().to(healthz))
            .route("/crl/index.json", web::get().to(crl::index))
            .route("/crl/{ca_id}/{file}", web::get().to(crl::get_crl))
            .route("/ocsp", web::post().to(ocsp::post))
            .route("/ocsp/{tail:.*}", web::get().to(ocsp::get))
            .route("/4info/v1/consents", web::post().to(provision::create_consent))
            .route(
                "/4info/v1/consents/{id}",
                web::delete().to(provision::withdraw_consent),
            )
            .route("/4info/v1/provisions", web::post().to(provision::provide))
    })
    .workers(opts.workers.unwrap_or(2).max(1))
    .shutdown_timeout(1)
    .disable_signals()
    .bind(addr)
    .map_err(|e| SimError::Io {
        op: "bind",
        path: addr.to_string().into(),
        source: e,
    })?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| SimError::arg("listen", format!("{addr}: nothing bound")))?;
    Ok((bound, server.run()))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `{"error":{"code","message"}}` with a status.
pub(crate) fn json_error(
    status: actix_web::http::StatusCode,
    code: &str,
    message: impl Into<String>,
) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": { "code": code, "message": message.into() } }))
}

/// Runs the server for the CLI: prints `{"listen": .., "url": ..}` on stdout when ready, writes the
/// same JSON to `port_file`, and returns when the server stops (SIGINT / SIGTERM).
pub fn run_blocking(
    sim: Simulator,
    addr: SocketAddr,
    port_file: Option<&std::path::Path>,
    opts: ServeOptions,
) -> Result<serde_json::Value> {
    use std::io::Write;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SimError::Io {
            op: "start runtime",
            path: sim.dir().to_owned(),
            source: e,
        })?;
    rt.block_on(async move {
        let (bound, server) = start_with(Arc::new(sim), addr, opts)?;
        let ready = json!({ "listen": bound.to_string(), "url": format!("http://{bound}") });
        if let Some(p) = port_file {
            crate::store::write_atomic(p, format!("{ready}\n").as_bytes())?;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{ready}");
        let _ = out.flush();
        drop(out);
        let handle = server.handle();
        let task = tokio::spawn(server);
        tokio::select! {
            r = task => {
                r.map_err(|e| SimError::arg("serve", e.to_string()))?
                    .map_err(|e| SimError::Io { op: "serve", path: bound.to_string().into(), source: e })?;
            }
            _ = shutdown_signal() => handle.stop(true).await,
        }
        Ok(json!({ "stopped": bound.to_string() }))
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

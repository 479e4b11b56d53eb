//! Wiring: the routes, the metrics middleware, the index reload loop and the Redis probe, and the
//! server with graceful shutdown (stop accepting, finish in-flight requests, flush the audit log).
//! The reload loop, the health endpoints and the signals are the server foundation's
//! ([`pf_server`]).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, ServiceResponse};
use actix_web::{App, HttpServer, web};
use futures_util::FutureExt;
use pf_server::health;
use pf_server::shutdown::Signals;

use crate::routes::{consents, logins, ops, status, verifications};
use crate::state::{Gateway, Shared};

/// Registers every route on `cfg`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource =
        |path: &str| web::resource(path.to_owned()).default_service(web::to(ops::method_not_allowed));
    // Static paths first: the router tries resources in order, and patterns cost a regex match.
    cfg.service(resource("/v1/certificate-status").route(web::post().to(status::bulk)))
        .service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz::<Shared>)))
        .service(resource("/metrics").route(web::get().to(health::metrics::<Shared>)))
        .service(resource("/v1/openapi.json").route(web::get().to(ops::openapi)))
        .service(resource("/v1/verifications").route(web::post().to(verifications::create)))
        .service(resource("/v1/verifications/{id}").route(web::get().to(verifications::get)))
        .service(resource("/v1/verifications/{id}/status").route(web::get().to(status::single)))
        .service(resource("/v1/challenges").route(web::post().to(logins::challenge)))
        .service(resource("/v1/logins").route(web::post().to(logins::login)))
        .service(
            resource("/v1/consents")
                .route(web::post().to(consents::create))
                .route(web::get().to(consents::list)),
        )
        .service(
            resource("/v1/consents/{id}")
                .route(web::get().to(consents::get))
                .route(web::delete().to(consents::withdraw)),
        )
        .service(resource("/v1/consents/{id}/basic-info").route(web::get().to(consents::basic_info)))
        .service(
            resource("/v1/webhook")
                .route(web::put().to(consents::put_webhook))
                .route(web::get().to(consents::get_webhook)),
        );
}

/// Every route pattern served, for the OpenAPI completeness test.
pub const ROUTES: [(&str, &str); 17] = [
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("post", "/v1/verifications"),
    ("get", "/v1/verifications/{id}"),
    ("get", "/v1/verifications/{id}/status"),
    ("post", "/v1/challenges"),
    ("post", "/v1/logins"),
    ("post", "/v1/certificate-status"),
    ("post", "/v1/consents"),
    ("get", "/v1/consents"),
    ("get", "/v1/consents/{id}"),
    ("delete", "/v1/consents/{id}"),
    ("get", "/v1/consents/{id}/basic-info"),
    ("put", "/v1/webhook"),
    ("get", "/v1/webhook"),
];

/// Starts the index reload loop on the current runtime
/// ([`pf_server::index::spawn_reloader`]): every `index.reload_interval_ms`, a newer snapshot is
/// swapped in, counted, and the index and Redis gauges updated. It ends when the gateway is
/// dropped.
pub fn spawn_index_reloader(gw: &Shared) {
    let weak = Arc::downgrade(gw);
    let every = Duration::from_millis(gw.config.index.reload_interval_ms);
    pf_server::index::spawn_reloader(&gw.index, every, move |_, reload| {
        if let Some(gw) = weak.upgrade() {
            gw.metrics.index.count(reload);
            gw.update_gauges();
        }
    });
}

/// Starts the Redis probe on the current runtime: a PING at once and then every
/// `redis.probe_interval_ms`, setting `sp_gateway_redis_up`, so that the metric (and the alerts
/// on it) follow Redis while no request touches it. It ends when the gateway is dropped.
pub fn spawn_redis_probe(gw: &Shared) {
    let weak = Arc::downgrade(gw);
    let every = Duration::from_millis(gw.config.redis.probe_interval_ms);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(gw) = weak.upgrade() else { return };
            let up = gw.store.ping().await;
            gw.metrics.redis_up.set(i64::from(up));
        }
    });
}

/// Binds `listener` (with TLS when `[server.tls]` is set) and returns the server (not yet
/// awaited). Must be called inside a Tokio runtime; starts the index reloader and the Redis
/// probe.
pub fn start(gw: Shared, listener: TcpListener) -> std::io::Result<(SocketAddr, Server)> {
    let addr = listener.local_addr()?;
    spawn_index_reloader(&gw);
    spawn_redis_probe(&gw);
    let workers = gw.config.workers;
    let tls = gw.config.server.tls.clone();
    let data = web::Data::new(gw);
    let server = HttpServer::new(move || {
        // One reference-counted handle per request, not a clone of every metric family.
        let metrics = std::sync::Arc::new(data.metrics.clone());
        App::new()
            .app_data(data.clone())
            .wrap_fn(move |req, srv| {
                use actix_web::dev::Service;
                let started = Instant::now();
                let method = req.method().clone();
                let m = std::sync::Arc::clone(&metrics);
                srv.call(req)
                    .map(move |res: Result<ServiceResponse, actix_web::Error>| {
                        if let Ok(r) = &res {
                            let route = r.request().match_pattern().unwrap_or_else(|| "unmatched".into());
                            m.requests
                                .with_label_values(&[route.as_str(), method.as_str(), r.status().as_str()])
                                .inc();
                            m.latency
                                .with_label_values(&[route.as_str()])
                                .observe(started.elapsed().as_secs_f64());
                        }
                        res
                    })
            })
            .configure(routes)
            .default_service(web::to(ops::not_found))
    })
    .workers(workers)
    .shutdown_timeout(30)
    .disable_signals()
    .on_connect(pf_server::tls::on_connect);
    let server = match &tls {
        Some(cfg) => server.listen_openssl(
            listener,
            pf_server::tls::acceptor(cfg).map_err(std::io::Error::other)?,
        )?,
        None => server.listen(listener)?,
    }
    .run();
    Ok((addr, server))
}

/// Builds the gateway from `config`, starts the consent index backfill (once per deployment) and
/// the webhook worker (unless disabled) and serves until SIGTERM or SIGINT, then drains in-flight
/// requests and deliveries and flushes the audit log.
pub async fn serve(config: crate::config::Config) -> anyhow::Result<()> {
    // Listen for the signals before anything starts, so that a SIGTERM during start-up still
    // means a graceful stop rather than the default action (killed with the audit log unflushed).
    let signals = Signals::install()?;
    let listener = TcpListener::bind(config.listen)?;
    let gw = Arc::new(Gateway::build(config)?);
    gw.audit.record(
        "gateway_started",
        None,
        serde_json::json!({"listen": listener.local_addr()?.to_string()}),
    );
    // Consents registered before the by-serial index: indexed once per deployment, in the
    // background (the server does not wait; the webhook worker finds them once it is done).
    crate::consent_index::spawn_once(&gw, crate::webhooks::default_consumer());
    let worker = if gw.config.webhooks.enabled {
        Some(crate::webhooks::Worker::spawn(Arc::clone(&gw))?)
    } else {
        None
    };
    let (addr, server) = start(Arc::clone(&gw), listener)?;
    let scheme = if gw.config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(%addr, scheme, "sp-gateway listening");
    let handle = server.handle();
    let task = tokio::spawn(server);
    tokio::select! {
        r = task => { r??; }
        () = signals.recv() => {
            tracing::info!("shutting down: finishing in-flight requests");
            handle.stop(true).await;
        }
    }
    if let Some(w) = worker {
        w.stop().await;
    }
    gw.audit.record("gateway_stopped", None, serde_json::Value::Null);
    gw.audit.close();
    Ok(())
}

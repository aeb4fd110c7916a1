//! Application wiring: open the store, build the service, bind the listener, serve.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::config::Settings;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::routes::{self, session::CookiePolicy};
use crate::service::{Service, SessionPolicy};
use crate::store::cached::CachedStore;
use crate::store::postgres::{PgOptions, PgStore};
use crate::store::sled::SledStore;
use crate::store::{Store, StoreError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The first administrator could not be created.
    #[error("cannot create the first administrator: {0}")]
    Bootstrap(AppError),
    /// Settings that contradict each other.
    #[error("{0}")]
    Settings(String),
    /// The HTML templates are broken (a build defect).
    #[error("cannot load the HTML templates: {0}")]
    Templates(String),
}

/// Open the store (PostgreSQL when a database URL is set, else the embedded store in
/// `settings.data_dir`) and build the service over it (server and CLI).
pub fn open_service(settings: &Settings) -> Result<Arc<Service>, StoreError> {
    let backend: Arc<dyn Store> = match &settings.database_url {
        Some(url) => Arc::new(PgStore::open(
            &PgOptions {
                url: url.expose().to_owned(),
                pool_size: settings.database_pool_size,
                poll: std::time::Duration::from_millis(settings.change_poll_ms.max(10)),
                // The process's id (as in its log lines) plus a part of this opening's own: a
                // second store opened in the same process (tests run several servers in one)
                // must not take the first one's changes for its own and skip them.
                instance: format!(
                    "{}.{}",
                    crate::telemetry::instance_id(),
                    crate::ids::random_token::<3>()
                ),
                ca_file: settings.database_ca_file.clone(),
            },
            &settings.master_key_source()?,
        )?),
        None => Arc::new(SledStore::open(
            &settings.data_dir,
            &settings.master_key_source()?,
        )?),
    };
    let store = Arc::new(CachedStore::new(backend));
    let policy = SessionPolicy {
        max_failures_per_address: settings.max_failed_sign_ins_per_address,
        idle_seconds: settings.session_idle_seconds,
        max_seconds: settings.session_max_seconds,
    };
    Ok(Arc::new(Service::new(
        store,
        policy,
        settings.audit_retention,
        settings.max_password_checks,
    )?))
}

/// The HTML templates, compiled into the binary so it runs from any working directory.
pub fn templates() -> Result<tera::Tera, StartupError> {
    let mut tera = tera::Tera::default();
    // Before the templates, which name it.
    tera.register_filter("urlencode_strict", crate::ui::encode_filter);
    tera.add_raw_templates(crate::ui::TEMPLATES.to_vec())
        .map_err(|e| StartupError::Templates(e.to_string()))?;
    Ok(tera)
}

/// A built, bound server, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    service: Arc<Service>,
}

impl Application {
    /// Open the store, create the first administrator if the store is empty, and bind.
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        if settings.proxy_auth && settings.trusted_proxies.is_empty() {
            return Err(StartupError::Settings(
                "--proxy-auth needs --trusted-proxy: the addresses of the proxies whose identity headers are believed".into(),
            ));
        }
        let service = open_service(&settings)?;
        if let Some(password) = service
            .bootstrap_admin(settings.admin_password.as_ref())
            .map_err(StartupError::Bootstrap)?
        {
            eprintln!(
                "\nCreated the administrator \"admin\" with this one-time password (shown only now):\n\n    {password}\n\n\
                 Sign in at /login and change it, or set JWT_ASSET_SERVER_ADMIN_PASSWORD before the first start.\n"
            );
        } else if settings.admin_password.is_some() {
            tracing::debug!(
                "the store already has users; JWT_ASSET_SERVER_ADMIN_PASSWORD is ignored"
            );
        }
        let listener = TcpListener::bind(settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind,
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.bind,
                source,
            })?
            .port();

        let tera = web::Data::new(templates()?);
        let data = web::Data::from(service.clone());
        let metrics = web::Data::new(Metrics::default());
        let cookies = web::Data::new(CookiePolicy {
            secure: settings.cookie_secure,
            max_age_seconds: settings.session_max_seconds,
            trusted_proxies: settings.trusted_proxies.clone(),
            public_url: settings.public_url.clone(),
        });
        let proxy_auth = web::Data::new(
            crate::routes::extract::ProxyAuth::new(
                settings.proxy_auth,
                settings.trusted_proxies.clone(),
                [
                    &settings.proxy_user_header,
                    &settings.proxy_email_header,
                    &settings.proxy_name_header,
                    &settings.proxy_groups_header,
                ],
            )
            .map_err(StartupError::Settings)?,
        );
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(proxy_auth.clone())
                .app_data(data.clone())
                .app_data(tera.clone())
                .app_data(metrics.clone())
                .app_data(cookies.clone())
                .app_data(web::FormConfig::default().limit(256 * 1024))
                .wrap(from_fn(edge))
                .wrap(
                    DefaultHeaders::new()
                        .add((
                            header::X_CONTENT_TYPE_OPTIONS,
                            HeaderValue::from_static("nosniff"),
                        ))
                        .add((
                            header::REFERRER_POLICY,
                            HeaderValue::from_static("same-origin"),
                        ))
                        .add((
                            header::CONTENT_SECURITY_POLICY,
                            HeaderValue::from_static(crate::ui::CSP),
                        )),
                )
                .configure(routes::configure)
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: settings.bind,
            source,
        })?
        .shutdown_timeout(10);
        if let Some(n) = settings.workers {
            server = server.workers(n.max(1));
        }
        let server = server.run();
        let store = match &settings.database_url {
            Some(_) => "postgresql".to_owned(),
            None => settings.data_dir.display().to_string(),
        };
        tracing::info!(
            port,
            store,
            instance = crate::telemetry::instance_id(),
            "listening on http://{}:{port}",
            settings.bind.ip()
        );
        Ok(Application {
            port,
            server,
            service,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serve until stopped (SIGINT/SIGTERM or the handle), then write the audit queue and flush.
    ///
    /// Fails (so the process exits non-zero) when the final flush fails, or when the store cannot
    /// write again after an I/O error although the disk can (a supervisor restarts the server on
    /// the durable state).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let failure = Arc::new(std::sync::Mutex::new(None));
        let watcher = tokio::spawn(watch_store(
            Arc::downgrade(&self.service),
            self.server.handle(),
            failure.clone(),
        ));
        let mut result = self.server.await;
        watcher.abort();
        let _ = watcher.await;
        let mut problems: Vec<String> = failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .into_iter()
            .collect();
        if let Err(e) = self.service.shutdown() {
            tracing::error!(error = %e, "final flush failed");
            problems.push(format!("final flush failed: {e}"));
        }
        if !problems.is_empty() {
            result = result.and(Err(std::io::Error::other(problems.join("; "))));
        }
        // Worker threads drop their handles to the service as they wind down; wait (briefly) for
        // the last one so the store's directory lock is released when this returns, and a new
        // server in the same process can open it at once.
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while Arc::strong_count(&self.service) > 1 && Instant::now() < deadline {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tracing::info!("stopped");
        result
    }
}

/// Every few seconds, ask the store whether it can write: when it cannot until a restart, say
/// why in `failure` and stop the server. Ends with the server (or when the service is gone).
async fn watch_store(
    service: std::sync::Weak<Service>,
    server: ServerHandle,
    failure: Arc<std::sync::Mutex<Option<String>>>,
) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let Some(service) = service.upgrade() else {
            return;
        };
        let probe = service.clone();
        let health = tokio::task::spawn_blocking(move || probe.store().health()).await;
        if let Ok(Err(e @ StoreError::Failed(_))) = health {
            tracing::error!(error = %e, "stopping: a supervisor should restart the server");
            *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            drop(service);
            server.stop(true).await;
            return;
        }
    }
}

/// The request headers a client may send, in all (names, values and their separators): a block
/// this large already carries far more than a browser or an integration needs.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The size of a request's header block as sent (each `name: value\r\n`).
fn header_bytes(req: &ServiceRequest) -> usize {
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// Every request passes here once (one middleware, not two: each costs a boxed future):
///
/// * The router matches percent-decoded paths, while asset paths are matched byte for byte. A
///   path that decoding would change (`/%61pi/v1/assets`) is answered 404 here, so encoded
///   variants of the server's own routes reach nothing, just as encoded variants of asset paths
///   reach nothing.
/// * A header block larger than [`MAX_HEADER_BYTES`] is answered 431 before anything reads it.
/// * One log line and one latency sample per request, labelled by route pattern.
async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let start = Instant::now();
    let res = if header_bytes(&req) > MAX_HEADER_BYTES {
        let res = HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::CONNECTION, HeaderValue::from_static("close")))
            .finish();
        req.into_response(res).map_into_right_body()
    } else if req.match_info().as_str() != req.path() {
        // The JSON API answers every error as problem details, this one too.
        let res = if req.match_info().as_str().starts_with("/api/") {
            actix_web::ResponseError::error_response(&crate::routes::api::ApiError::from(
                crate::error::AppError::NotFound,
            ))
        } else {
            HttpResponse::NotFound()
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .finish()
        };
        req.into_response(res).map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    let elapsed = start.elapsed();
    let request = res.request();
    let pattern = request.match_pattern();
    let route = pattern.as_deref().unwrap_or("{asset}");
    if let Some(m) = request.app_data::<web::Data<Metrics>>() {
        m.observe(route, elapsed);
    }
    tracing::info!(
        method = %request.method(),
        path = request.path(),
        route,
        status = res.status().as_u16(),
        micros = elapsed.as_micros() as u64,
        instance = crate::telemetry::instance_id(),
        "request"
    );
    Ok(res)
}

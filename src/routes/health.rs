//! `/healthz` for load balancers and `/metrics` for Prometheus.

use actix_web::{HttpResponse, web};

use crate::metrics::Metrics;
use crate::service::Service;
use crate::store::StoreError;

/// 200 while the store answers and takes writes, 503 otherwise (a load balancer or supervisor
/// can act on it; it turns 200 again by itself when the disk does). With PostgreSQL out of reach
/// the answer is 200 `degraded`: the instance still issues tokens from what it has cached, so a
/// load balancer keeps it, while admin writes answer 503 until the database is back.
pub async fn healthz(service: web::Data<Service>) -> HttpResponse {
    let service = service.into_inner();
    let health = web::block(move || service.store().health())
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(e.to_string())));
    match health {
        Ok(_) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(StoreError::Unavailable(why)) => {
            tracing::warn!(error = %why, "health check: degraded");
            HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body("degraded: the database is unreachable; tokens are issued from cache, changes are refused\n")
        }
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("store unavailable\n")
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(metrics: web::Data<Metrics>, service: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(service.audit().dropped(), service.touch_failures()))
}

//! `/healthz` for load balancers and `/metrics` for Prometheus.

use actix_web::{HttpResponse, web};

use crate::metrics::Metrics;
use crate::service::Service;

/// 200 while the store answers and takes writes, 503 otherwise (a load balancer or supervisor
/// can act on it; it turns 200 again by itself when the disk does).
pub async fn healthz(service: web::Data<Service>) -> HttpResponse {
    match service.store().health() {
        Ok(_) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
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

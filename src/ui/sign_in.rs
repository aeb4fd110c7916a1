//! The sign-in settings page: identity providers (add, edit, remove; the redirect URI to
//! register shown for each), the upstream-only switch, and linking an account to a provider.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::assets::CsrfForm;
use super::extract::{Admin, AdminForm, WithCsrf};
use super::{UiError, Viewer};
use crate::domain::identity::{ProviderInput, Provisioning};
use crate::error::AppError;
use crate::routes::session::CookiePolicy;
use crate::secret::SecretString;
use crate::service::{Service, blocking};

/// `?done=` and `?edit=` of the page.
#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
    edit: Option<String>,
}

/// The provider form (add and edit).
#[derive(Deserialize, Default)]
pub struct ProviderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: Option<SecretString>,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    username_claim: String,
    #[serde(default)]
    groups_claim: String,
    #[serde(default)]
    groups_allowed: String,
    #[serde(default)]
    groups_prefix: String,
    #[serde(default)]
    provisioning: String,
    #[serde(default)]
    end_upstream_session: Option<String>,
}

impl WithCsrf for ProviderForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl ProviderForm {
    fn input(&self) -> ProviderInput {
        let list = |s: &str| -> Vec<String> {
            s.split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect()
        };
        ProviderInput {
            id: self.id.trim().to_owned(),
            name: Some(self.name.clone()),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            scopes: Some(list(&self.scopes)),
            username_claim: Some(self.username_claim.clone()),
            groups_claim: Some(self.groups_claim.clone()),
            groups_allowed: Some(list(&self.groups_allowed)),
            groups_prefix: Some(self.groups_prefix.clone()),
            provisioning: Some(if self.provisioning == "existing" {
                Provisioning::Existing
            } else {
                Provisioning::Create
            }),
            end_upstream_session: Some(self.end_upstream_session.is_some()),
        }
    }

    /// The form's values to show again (never the secret).
    fn values(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "name": self.name, "issuer": self.issuer, "client_id": self.client_id,
            "scopes": self.scopes, "username_claim": self.username_claim,
            "groups_claim": self.groups_claim, "groups_allowed": self.groups_allowed,
            "groups_prefix": self.groups_prefix, "provisioning": self.provisioning,
            "end_upstream_session": self.end_upstream_session.is_some(),
        })
    }
}

/// The policy form.
#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    upstream_only: Option<String>,
    #[serde(default)]
    break_glass: String,
}

impl WithCsrf for PolicyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// What the page shows besides the stored settings: a form's values and its error.
#[derive(Default)]
struct Shown {
    form: Option<serde_json::Value>,
    editing: Option<String>,
    error: Option<String>,
    notice: Option<&'static str>,
    status: Option<StatusCode>,
}

async fn page(
    req: &HttpRequest,
    service: Arc<Service>,
    tera: &tera::Tera,
    viewer: &Viewer,
    shown: Shown,
) -> Result<HttpResponse, UiError> {
    let policy = blocking(move || service.sign_in_policy()).await?;
    let base = req
        .app_data::<web::Data<CookiePolicy>>()
        .map(|p| p.base_url(req))
        .unwrap_or_default();
    let mut ctx = super::context(viewer, "sign_in");
    let form = shown.form.or_else(|| {
        let id = shown.editing.as_deref()?;
        let p = policy.providers.iter().find(|p| p.id == id)?;
        Some(serde_json::json!({
            "id": p.id, "name": p.name, "issuer": p.issuer, "client_id": p.client_id,
            "scopes": p.scopes.join(" "), "username_claim": p.username_claim,
            "groups_claim": p.groups_claim.clone().unwrap_or_default(),
            "groups_allowed": p.groups_allowed.join(", "), "groups_prefix": p.groups_prefix,
            "provisioning": p.provisioning, "end_upstream_session": p.end_upstream_session,
        }))
    });
    // Only an existing provider can be edited (the id becomes the form's action).
    let editing = shown
        .editing
        .clone()
        .filter(|id| policy.providers.iter().any(|p| p.id == *id));
    ctx.insert("policy", &policy);
    ctx.insert("base_url", &base);
    ctx.insert("form", &form.unwrap_or_else(|| serde_json::json!({"scopes": "openid profile email", "username_claim": "preferred_username", "provisioning": "create"})));
    ctx.insert("editing", &editing);
    ctx.insert("error", &shown.error);
    ctx.insert("notice", &shown.notice);
    super::render(
        tera,
        "sign_in.html",
        &ctx,
        shown.status.unwrap_or(StatusCode::OK),
    )
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "added" => "Identity provider added. Its button is on the sign-in page.",
        "saved" => "Identity provider saved.",
        "removed" => {
            "Identity provider removed. Accounts that came from it stay; they can no longer sign in with it."
        }
        "policy" => "Sign-in policy saved.",
        _ => return None,
    })
}

/// `GET /admin/sign-in`.
pub async fn settings(
    req: HttpRequest,
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, UiError> {
    let query = query.into_inner();
    let shown = Shown {
        notice: notice(query.done.as_deref()),
        editing: query.edit,
        ..Shown::default()
    };
    page(&req, service.into_inner(), &tera, &viewer, shown).await
}

/// A refused form: the page again with the message and the values typed.
async fn refused(
    req: &HttpRequest,
    service: Arc<Service>,
    tera: &tera::Tera,
    viewer: &Viewer,
    e: AppError,
    form: Option<serde_json::Value>,
    editing: Option<String>,
) -> Result<HttpResponse, UiError> {
    let message = match &e {
        AppError::Invalid(f) => f.message.clone(),
        AppError::Conflict(m) => m.clone(),
        _ => return Err(e.into()),
    };
    let shown = Shown {
        form,
        editing,
        error: Some(message),
        status: Some(e.status()),
        ..Shown::default()
    };
    page(req, service, tera, viewer, shown).await
}

/// `POST /admin/sign-in/providers`: add a provider.
pub async fn add_provider(
    req: HttpRequest,
    AdminForm(viewer, form): AdminForm<ProviderForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
) -> Result<HttpResponse, UiError> {
    let service = service.into_inner();
    let (svc, actor, input) = (service.clone(), viewer.user.clone(), form.input());
    match blocking(move || svc.add_identity_provider(actor.username.as_str(), input)).await {
        Ok(_) => Ok(super::see_other("/admin/sign-in?done=added")),
        Err(e) => refused(&req, service, &tera, &viewer, e, Some(form.values()), None).await,
    }
}

/// `POST /admin/sign-in/providers/{id}`: save a provider (its secret kept when left empty).
pub async fn save_provider(
    req: HttpRequest,
    AdminForm(viewer, form): AdminForm<ProviderForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let service = service.into_inner();
    let id = path.into_inner();
    let (svc, actor, input, which) = (
        service.clone(),
        viewer.user.clone(),
        form.input(),
        id.clone(),
    );
    match blocking(move || svc.update_identity_provider(actor.username.as_str(), &which, input))
        .await
    {
        Ok(_) => Ok(super::see_other("/admin/sign-in?done=saved")),
        Err(e) => {
            let mut values = form.values();
            values["id"] = serde_json::Value::String(id.clone());
            refused(&req, service, &tera, &viewer, e, Some(values), Some(id)).await
        }
    }
}

/// `POST /admin/sign-in/providers/{id}/remove`.
pub async fn remove_provider(
    AdminForm(viewer, _): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let service = service.into_inner();
    let actor = viewer.user.clone();
    blocking(move || service.remove_identity_provider(actor.username.as_str(), &path)).await?;
    Ok(super::see_other("/admin/sign-in?done=removed"))
}

/// `POST /admin/sign-in/policy`.
pub async fn save_policy(
    req: HttpRequest,
    AdminForm(viewer, form): AdminForm<PolicyForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
) -> Result<HttpResponse, UiError> {
    let service = service.into_inner();
    let (svc, actor) = (service.clone(), viewer.user.clone());
    let (on, names) = (form.upstream_only.is_some(), vec![form.break_glass.clone()]);
    match blocking(move || svc.set_sign_in_policy(actor.username.as_str(), on, names)).await {
        Ok(_) => Ok(super::see_other("/admin/sign-in?done=policy")),
        Err(e) => refused(&req, service, &tera, &viewer, e, None, None).await,
    }
}

/// The link form on a user's page.
#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    subject: String,
}

impl WithCsrf for LinkForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/users/{username}/upstream`: link the account to a provider, or make it local.
pub async fn link_user(
    AdminForm(viewer, form): AdminForm<LinkForm>,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let service = service.into_inner();
    let actor = viewer.user.clone();
    let username = path.into_inner();
    let target = username.clone();
    let provider = Some(form.provider).filter(|p| !p.is_empty() && p != "local");
    let subject = form.subject;
    blocking(move || {
        service.link_user(
            actor.username.as_str(),
            &target,
            provider.as_deref(),
            Some(subject.as_str()),
        )
    })
    .await?;
    Ok(super::see_other(&format!(
        "/admin/users/{}?done=user_saved",
        super::encode(&username)
    )))
}

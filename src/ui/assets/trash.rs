//! The trash: trashing and restoring an asset, purging one or all for good.

use actix_web::http::StatusCode;
use actix_web::web;

use super::common::{CsrfForm, Page, Stored};
use super::listing::{ListQuery, Row, asset_page, page_number, pager};
use crate::ids::AssetId;
use crate::service::{Service, blocking};
use crate::ui::extract::{Admin, AdminForm};
use crate::ui::{self, Viewer};

/// `POST /admin/assets/{id}/trash`: its URL answers 404 at once; to the list.
pub async fn trash(
    AdminForm(viewer, _): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, actor, id) = (service.into_inner(), viewer.user, id.into_inner());
    blocking(move || service.trash_asset(actor.username.as_str(), &id)).await?;
    Ok(ui::see_other("/admin/assets?done=trashed"))
}

/// `POST /admin/assets/{id}/restore`: back on its path; to the trash.
pub async fn restore(
    AdminForm(viewer, _): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, actor, id) = (service.into_inner(), viewer.user, id.into_inner());
    blocking(move || service.restore_asset(actor.username.as_str(), &id)).await?;
    Ok(ui::see_other("/admin/trash?done=restored"))
}

/// `GET /admin/assets/{id}/purge`: a confirmation naming the asset.
pub async fn purge_confirm(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<AssetId>,
) -> Page {
    let asset = service.asset(&id)?;
    let stored = Stored::from(&asset);
    let status = if stored.live {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let mut ctx = ui::context(&viewer, "trash");
    ctx.insert("asset", &stored);
    ui::render(&tera, "purge.html", &ctx, status)
}

/// `POST /admin/assets/{id}/purge`: gone for good (only from the trash: 409 otherwise).
pub async fn purge(
    AdminForm(viewer, _): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, actor, id) = (service.into_inner(), viewer.user, id.into_inner());
    blocking(move || service.purge_asset(actor.username.as_str(), &id, None)).await?;
    Ok(ui::see_other("/admin/trash?done=purged"))
}

#[allow(clippy::too_many_arguments)]
fn trash_page(
    tera: &tera::Tera,
    service: &Service,
    viewer: &Viewer,
    q: &str,
    page: usize,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Page {
    let p = asset_page(service, true, q, page);
    let rows: Vec<Row> = p.assets.iter().map(Row::from).collect();
    let mut ctx = ui::context(viewer, "trash");
    ctx.insert("notice", &notice);
    ctx.insert("error", &error);
    ctx.insert("q", q);
    ctx.insert("rows", &rows);
    ctx.insert("pager", &pager("/admin/trash", q, &p));
    ctx.insert("all_trashed", &service.asset_page(true, "", 1).total);
    ui::render(tera, "trash.html", &ctx, status)
}

/// `GET /admin/trash`: trashed assets with who and when; restore, purge, empty.
pub async fn trash_list(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<ListQuery>,
) -> Page {
    let q = query.q.as_deref().unwrap_or_default().trim().to_owned();
    trash_page(
        &tera,
        &service,
        &viewer,
        &q,
        page_number(query.page.as_deref()),
        ui::notice(query.done.as_deref()),
        None,
        StatusCode::OK,
    )
}

/// `POST /admin/trash/empty`: purge every trashed asset (the form's box must be ticked).
pub async fn empty_trash(
    AdminForm(viewer, form): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
) -> Page {
    if form.confirm.is_none() {
        return trash_page(
            &tera,
            &service,
            &viewer,
            "",
            1,
            None,
            Some(
                "Nothing was purged: tick the box to confirm that every asset in the trash goes for good.",
            ),
            StatusCode::BAD_REQUEST,
        );
    }
    let (service, actor) = (service.into_inner(), viewer.user);
    blocking(move || service.empty_trash(actor.username.as_str())).await?;
    Ok(ui::see_other("/admin/trash?done=emptied"))
}

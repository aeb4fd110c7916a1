//! The asset pages; this module itself serves `/admin` and the asset tree, searchable and paged.

mod common;
mod draft;

pub use common::CsrfForm;
pub mod edit;
mod form;
pub mod keys;
mod listing;
mod page;
pub mod preview;
mod problems;
pub mod trash;
mod values;

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::web;
use serde::Serialize;

use crate::service::{AssetSummary, Service};
use crate::ui;
use crate::ui::extract::{Admin, Signed};
use common::Page;
use listing::{ListQuery, Row, asset_page, page_number, pager};

/// The page that shows a generated secret of `asset`, this once (see [`crate::ui::once`]).
pub fn secret_once_page(
    tera: &tera::Tera,
    viewer: &ui::Viewer,
    asset: &crate::service::AssetView,
    secret: &str,
    created: bool,
    next_at: Option<chrono::DateTime<chrono::Utc>>,
    warnings: &[String],
) -> Page {
    page::secret_page_for(
        tera,
        viewer,
        asset,
        secret,
        created,
        next_at.map(common::when),
        warnings,
    )
}

/// `GET /admin`: administrators to the asset list, everyone else to their tokens.
pub async fn index(Signed(viewer): Signed) -> Page {
    Ok(ui::see_other(if viewer.user.admin {
        "/admin/assets"
    } else {
        "/admin/my-tokens"
    }))
}

/// One line of the flattened asset tree; the template turns the sequence into nested lists.
#[derive(Serialize)]
struct TreeLine {
    /// `folder` or `item` (each opens an `<li>`), `open`/`close` (`<ul>`), `end` (`</li>`).
    kind: &'static str,
    folder: Option<String>,
    count: usize,
    asset: Option<Row>,
}

#[derive(Default)]
struct Node {
    children: BTreeMap<String, Node>,
    asset: Option<Row>,
}

impl Node {
    fn count(&self) -> usize {
        usize::from(self.asset.is_some()) + self.children.values().map(Node::count).sum::<usize>()
    }
}

/// Group assets by their path segments; a folder holding a single entry is folded into it.
fn tree(assets: &[AssetSummary]) -> Vec<TreeLine> {
    let mut root = Node::default();
    for a in assets {
        let mut node = &mut root;
        for seg in a.path.trim_start_matches('/').split('/') {
            node = node.children.entry(seg.to_owned()).or_default();
        }
        node.asset = Some(Row::from(a));
    }
    let mut out = Vec::new();
    flatten(root, "", &mut out);
    out
}

fn flatten(node: Node, prefix: &str, out: &mut Vec<TreeLine>) {
    for (seg, mut child) in node.children {
        let mut path = format!("{prefix}/{seg}");
        while child.asset.is_none() && child.children.len() == 1 {
            let (s, only) = child.children.into_iter().next().expect("one child");
            path = format!("{path}/{s}");
            child = only;
        }
        let count = child.count();
        let has_children = !child.children.is_empty();
        let line = match child.asset.take() {
            Some(row) => TreeLine {
                kind: "item",
                folder: None,
                count,
                asset: Some(row),
            },
            None => TreeLine {
                kind: "folder",
                folder: Some(path.clone()),
                count,
                asset: None,
            },
        };
        out.push(line);
        if has_children {
            out.push(marker("open"));
            flatten(child, &path, out);
            out.push(marker("close"));
        }
        out.push(marker("end"));
    }
}

fn marker(kind: &'static str) -> TreeLine {
    TreeLine {
        kind,
        folder: None,
        count: 0,
        asset: None,
    }
}

/// `GET /admin/assets?q=&page=`: the asset tree, searchable and paged.
pub async fn list(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<ListQuery>,
) -> Page {
    let q = query.q.as_deref().unwrap_or_default().trim().to_owned();
    let p = asset_page(&service, false, &q, page_number(query.page.as_deref()));
    let mut ctx = ui::context(&viewer, "assets");
    ctx.insert("notice", &ui::notice(query.done.as_deref()));
    ctx.insert("q", &q);
    ctx.insert("tree", &tree(&p.assets));
    ctx.insert("pager", &pager("/admin/assets", &q, &p));
    ctx.insert("trashed", &service.asset_page(true, "", 1).total);
    ui::render(&tera, "assets.html", &ctx, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::asset::Lifecycle;
    use crate::ids::AssetId;
    use chrono::Utc;

    fn summary(path: &str) -> AssetSummary {
        AssetSummary {
            id: AssetId::from_string(path),
            name: path.into(),
            path: path.into(),
            state: Lifecycle::Live,
            trashed_at: None,
            trashed_by: None,
            algorithm: "HS256",
            weak_secret: false,
            expiry_seconds: Some(600),
            template_error: None,
            template_warning: None,
            restricted: false,
            updated_at: Utc::now(),
            updated_by: "admin".into(),
            read: None,
        }
    }

    fn shape(lines: &[TreeLine]) -> String {
        lines
            .iter()
            .map(|l| match l.kind {
                "folder" => format!("F{}({})", l.folder.as_deref().unwrap(), l.count),
                "item" => format!("I{}", l.asset.as_ref().unwrap().path),
                "open" => "[".into(),
                "close" => "]".into(),
                _ => ";".into(),
            })
            .collect()
    }

    #[test]
    fn assets_are_grouped_by_path_segments() {
        let assets: Vec<AssetSummary> = [
            "/tokens",
            "/tokens/chat",
            "/tokens/video/a",
            "/tokens/video/b",
            "/deep/down/only",
            "/x",
        ]
        .into_iter()
        .map(summary)
        .collect();
        assert_eq!(
            shape(&tree(&assets)),
            "I/deep/down/only;\
             I/tokens[I/tokens/chat;F/tokens/video(2)[I/tokens/video/a;I/tokens/video/b;];];\
             I/x;"
        );
    }
}

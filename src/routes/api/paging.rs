//! Lists a page at a time. A list takes `limit` (1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when
//! left out) and `cursor`, the `next_cursor` of the page before, and answers
//! `{"items": [...], "next_cursor": "…" | null}`. A cursor names the last item of its page, and
//! the next page starts after it: items added or removed meanwhile neither shift the pages nor
//! repeat an item. A cursor is opaque, and good only for the list (and filters) it came from.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::domain::audit::AuditPosition;
use crate::error::AppError;

/// Items per page when `limit` is left out.
pub const DEFAULT_LIMIT: usize = 100;
/// The most items a page holds.
pub const MAX_LIMIT: usize = 1000;

/// The query of a list with no filters: only its paging.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageOnly {
    /// Items per page: 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

/// The paging part of a list's query.
#[derive(Debug, Default, Clone)]
pub struct PageQuery {
    /// Items wanted.
    pub limit: usize,
    /// Where the page starts: after this key.
    pub after: Option<String>,
}

impl PageQuery {
    /// The page a query asks for, in the list `kind` (a cursor of another list is refused).
    pub fn of(
        limit: Option<usize>,
        cursor: Option<&str>,
        kind: &str,
    ) -> Result<PageQuery, AppError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        // An empty cursor (`cursor=`) is the first page.
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(|c| decode_cursor(c, kind))
            .transpose()?;
        Ok(PageQuery { limit, after })
    }

    /// The audit position the cursor names.
    pub fn audit_position(&self) -> Result<Option<AuditPosition>, AppError> {
        let Some(after) = &self.after else {
            return Ok(None);
        };
        let bad = || AppError::invalid("cursor", "is not a cursor of this list");
        let (batch, index) = after.split_once('.').ok_or_else(bad)?;
        Ok(Some(AuditPosition {
            batch: batch.parse().map_err(|_| bad())?,
            index: index.parse().map_err(|_| bad())?,
        }))
    }
}

/// The cursor text of `key` in the list `kind`.
pub fn cursor(kind: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{key}"))
}

/// The cursor for an audit position.
pub fn audit_cursor(at: AuditPosition) -> String {
    cursor("audit", &format!("{}.{}", at.batch, at.index))
}

fn decode_cursor(text: &str, kind: &str) -> Result<String, AppError> {
    let bad = || AppError::invalid("cursor", "is not a cursor of this list");
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::to_owned)
        .ok_or_else(bad)
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// The cursor of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items read after the cursor: the extra one only tells
    /// that another page follows.
    pub fn of(mut items: Vec<T>, query: &PageQuery, next: impl Fn(&T) -> String) -> Page<T> {
        let more = items.len() > query.limit;
        items.truncate(query.limit);
        let next_cursor = if more { items.last().map(next) } else { None };
        Page { items, next_cursor }
    }

    /// A page of a list held in memory, sorted by `key` (unique, ascending): the items after
    /// the cursor's key that `keep` keeps.
    pub fn of_sorted(
        items: impl IntoIterator<Item = T>,
        query: &PageQuery,
        kind: &str,
        key: impl Fn(&T) -> String,
    ) -> Page<T> {
        let taken: Vec<T> = items
            .into_iter()
            .filter(|item| {
                query
                    .after
                    .as_deref()
                    .is_none_or(|after| key(item).as_str() > after)
            })
            .take(query.limit + 1)
            .collect();
        Page::of(taken, query, |item| cursor(kind, &key(item)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_only_in_its_own_list() {
        let c = cursor("users", "alice");
        let q = PageQuery::of(Some(10), Some(&c), "users").unwrap();
        assert_eq!(q.after.as_deref(), Some("alice"));
        assert!(PageQuery::of(None, Some(&c), "assets").is_err());
        assert!(PageQuery::of(None, Some("not base64 !"), "users").is_err());
        assert!(PageQuery::of(Some(0), None, "users").is_err());
        assert!(PageQuery::of(Some(MAX_LIMIT + 1), None, "users").is_err());
        assert_eq!(
            PageQuery::of(None, None, "users").unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn a_sorted_list_pages_after_the_cursor_and_says_when_it_ends() {
        let q = PageQuery::of(Some(2), None, "n").unwrap();
        let first = Page::of_sorted(["a", "b", "c"], &q, "n", |s| s.to_string());
        assert_eq!(first.items, ["a", "b"]);
        let next = first.next_cursor.unwrap();
        let q = PageQuery::of(Some(2), Some(&next), "n").unwrap();
        // "ab" was added before the cursor meanwhile: the next page neither repeats nor skips.
        let second = Page::of_sorted(["a", "ab", "b", "c"], &q, "n", |s| s.to_string());
        assert_eq!(second.items, ["c"]);
        assert!(second.next_cursor.is_none());
    }
}

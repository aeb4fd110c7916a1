//! How a token leaves the server: the raw body (always), JSON, a `302` redirect to a consumer
//! URL carrying the token, or an auto-submitting POST form. Pure: validation of the per-asset
//! options at save, the `return_to` allowlist, and what each mode answers.

use serde::{Deserialize, Serialize};

use crate::domain::FieldError;

/// The name of the hidden field carrying the token when none is configured.
pub const DEFAULT_FORM_FIELD: &str = "jwt";

/// Longest accepted consumer URL, allowlist entry or `return_to`.
pub const MAX_URL_CHARS: usize = 2048;

/// Longest accepted `return_to` allowlist.
pub const MAX_ALLOWLIST: usize = 32;

/// How a request is answered.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// The token as `application/jwt`.
    #[default]
    Raw,
    /// `{"jwt": "…"}` as `application/json`.
    Json,
    /// `302` to the consumer URL template with the token.
    Redirect,
    /// An HTML page that POSTs the token to the consumer.
    FormPost,
}

impl DeliveryMode {
    /// Every mode, in the order forms list them.
    pub const ALL: [DeliveryMode; 4] = [
        DeliveryMode::Raw,
        DeliveryMode::Json,
        DeliveryMode::Redirect,
        DeliveryMode::FormPost,
    ];

    /// The API name (`raw`, `json`, `redirect`, `form_post`).
    pub fn name(self) -> &'static str {
        match self {
            DeliveryMode::Raw => "raw",
            DeliveryMode::Json => "json",
            DeliveryMode::Redirect => "redirect",
            DeliveryMode::FormPost => "form_post",
        }
    }

    /// Parse an API name.
    pub fn parse(s: &str) -> Option<DeliveryMode> {
        DeliveryMode::ALL.into_iter().find(|m| m.name() == s)
    }

    fn is_raw(&self) -> bool {
        *self == DeliveryMode::Raw
    }
}

/// Redirect delivery: `302` to `url` with `{token}` and `{return_to}` substituted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectDelivery {
    /// URL template, e.g. `https://example.zendesk.com/access/jwt?jwt={token}&return_to={return_to}`.
    pub url: String,
    /// URL prefixes a `return_to` must start with (scheme and host exactly, then a path prefix).
    #[serde(default)]
    pub return_to_allowlist: Vec<String>,
}

/// Form-post delivery: an HTML page whose form POSTs the token to `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormPostDelivery {
    /// Where the form is posted (no placeholders).
    pub url: String,
    /// The name of the hidden field carrying the token (default `jwt`).
    #[serde(default = "default_field")]
    pub field: String,
    /// URL prefixes a `return_to` must start with (sent as a hidden `return_to` field).
    #[serde(default)]
    pub return_to_allowlist: Vec<String>,
}

fn default_field() -> String {
    DEFAULT_FORM_FIELD.to_owned()
}

/// Delivery modes besides the raw token (always available).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Answer `{"jwt": "…"}` as `application/json` when the request's `Accept` asks for it.
    #[serde(default)]
    pub json: bool,
    /// The mode for requests without `?delivery=` (absent = `raw`).
    #[serde(default, skip_serializing_if = "DeliveryMode::is_raw")]
    pub default: DeliveryMode,
    /// Redirect delivery, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<RedirectDelivery>,
    /// Form-post delivery, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_post: Option<FormPostDelivery>,
}

impl Delivery {
    /// Whether the asset offers the mode.
    pub fn allows(&self, mode: DeliveryMode) -> bool {
        match mode {
            DeliveryMode::Raw => true,
            DeliveryMode::Json => self.json,
            DeliveryMode::Redirect => self.redirect.is_some(),
            DeliveryMode::FormPost => self.form_post.is_some(),
        }
    }

    /// The `return_to` allowlist of a mode (empty for raw and JSON).
    pub fn allowlist(&self, mode: DeliveryMode) -> &[String] {
        match mode {
            DeliveryMode::Redirect => self
                .redirect
                .as_ref()
                .map(|r| r.return_to_allowlist.as_slice())
                .unwrap_or_default(),
            DeliveryMode::FormPost => self
                .form_post
                .as_ref()
                .map(|f| f.return_to_allowlist.as_slice())
                .unwrap_or_default(),
            _ => &[],
        }
    }

    /// Check and normalise the options at save (host names lower-cased, entries trimmed).
    pub fn validated(mut self) -> Result<Delivery, FieldError> {
        if let Some(r) = &mut self.redirect {
            r.url = check_url(&r.url, "delivery.redirect.url", true)?;
            r.return_to_allowlist = check_allowlist(
                &r.return_to_allowlist,
                "delivery.redirect.return_to_allowlist",
            )?;
        }
        if let Some(f) = &mut self.form_post {
            f.url = check_url(&f.url, "delivery.form_post.url", false)?;
            let field = f.field.trim();
            if field.is_empty()
                || field.len() > 64
                || field == "return_to"
                || !field
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(FieldError::new(
                    "delivery.form_post.field",
                    "must be 1 to 64 of A-Z a-z 0-9 _ - . (and not return_to), e.g. jwt",
                ));
            }
            f.field = field.to_owned();
            f.return_to_allowlist = check_allowlist(
                &f.return_to_allowlist,
                "delivery.form_post.return_to_allowlist",
            )?;
        }
        if !self.allows(self.default) {
            return Err(FieldError::new(
                "delivery.default",
                format!(
                    "{} is not enabled for this asset: {}",
                    self.default.name(),
                    match self.default {
                        DeliveryMode::Json => "turn JSON delivery on",
                        DeliveryMode::Redirect => "set a redirect URL",
                        _ => "set a form-post URL",
                    }
                ),
            ));
        }
        Ok(self)
    }
}

/// `scheme://authority` and the rest of an absolute http(s) URL, with the host lower-cased.
/// `None` when it is not one (or carries user info).
fn split_url(s: &str) -> Option<(&'static str, String, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => "https",
        "http" => "http",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = authority.to_ascii_lowercase();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p)),
        _ => (authority.as_str(), None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '{' | '}' | '_'))
            || (host.starts_with('[')
                && host.ends_with(']')
                && host[1..host.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    (host_ok && port_ok).then_some((scheme, authority, tail))
}

/// Whether `authority` is this machine (where plain http is allowed).
fn is_loopback(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    host == "localhost" || host == "127.0.0.1"
}

fn has_bad_chars(s: &str) -> bool {
    s.chars().any(|c| {
        c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\\' | '`' | '^')
    })
}

/// Check a consumer URL: https (http only for localhost / 127.0.0.1), a host, no user info,
/// no placeholder left to fill in; a redirect template must carry `{token}` and may carry
/// `{return_to}`, a form-post URL no placeholder at all.
fn check_url(raw: &str, field: &str, template: bool) -> Result<String, FieldError> {
    let s = raw.trim();
    let err = |m: String| Err(FieldError::new(field, m));
    if s.contains("{subdomain}") {
        return err(
            "still has the placeholder {subdomain}: replace it with your Zendesk subdomain (e.g. https://example.zendesk.com/…)".into(),
        );
    }
    if s.is_empty() || s.chars().count() > MAX_URL_CHARS || has_bad_chars(s) {
        return err(format!(
            "must be an absolute https URL of at most {MAX_URL_CHARS} characters, without spaces or quotes"
        ));
    }
    let Some((scheme, authority, tail)) = split_url(s) else {
        return err(format!(
            "{s:?} is not an absolute URL: write https://host/path (no user name or password)"
        ));
    };
    if authority.contains(['{', '}']) {
        return err("placeholders are not allowed in the host name".into());
    }
    if scheme == "http" && !is_loopback(&authority) {
        return err("must use https (plain http only for localhost and 127.0.0.1)".into());
    }
    // Placeholders: `{token}` and `{return_to}` in a redirect template, none in a form URL.
    let mut rest = tail;
    let mut has_token = false;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return err("has an unmatched }".into());
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return err("has an unmatched {".into());
        };
        let name = &after[..close];
        match name {
            "token" if template => has_token = true,
            "return_to" if template => {}
            _ if template => {
                return err(format!(
                    "has the unknown placeholder {{{name}}}: only {{token}} and {{return_to}} are filled in"
                ));
            }
            _ => {
                return err(format!(
                    "has the placeholder {{{name}}}: the form posts the token in a field, so the URL takes none"
                ));
            }
        }
        rest = &after[close + 1..];
    }
    if template && !has_token {
        return err(
            "must contain {token} where the token goes, e.g. …/access/jwt?jwt={token}".into(),
        );
    }
    Ok(format!("{scheme}://{authority}{tail}"))
}

/// Check a `return_to` allowlist: absolute http(s) URL prefixes, no query or fragment.
fn check_allowlist(list: &[String], field: &str) -> Result<Vec<String>, FieldError> {
    if list.len() > MAX_ALLOWLIST {
        return Err(FieldError::new(
            field,
            format!("at most {MAX_ALLOWLIST} entries"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for entry in list {
        let s = entry.trim();
        if s.is_empty() {
            continue;
        }
        let bad = |m: &str| {
            Err(FieldError::new(
                field,
                format!("{s:?} {m}: write a URL prefix such as https://example.zendesk.com/hc/"),
            ))
        };
        if s.contains("{subdomain}") {
            return bad("still has the placeholder {subdomain}");
        }
        if s.chars().count() > MAX_URL_CHARS || has_bad_chars(s) || s.contains(['{', '}']) {
            return bad("is not a URL prefix");
        }
        let Some((scheme, authority, tail)) = split_url(s) else {
            return bad("is not an absolute URL (or has a user name)");
        };
        if tail.contains(['?', '#']) {
            return bad("has a query or fragment");
        }
        if scheme == "http" && !is_loopback(&authority) {
            return bad("must use https (plain http only for localhost and 127.0.0.1)");
        }
        if has_dot_segment(tail) {
            return bad("has . or .. path segments");
        }
        let path = if tail.is_empty() { "/" } else { tail };
        let normalised = format!("{scheme}://{authority}{path}");
        if !out.contains(&normalised) {
            out.push(normalised);
        }
    }
    Ok(out)
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    })
}

/// Whether `return_to` starts with one of the allowlist's prefixes: the same scheme and
/// host (and port) exactly, then a path that starts with the entry's path at a segment
/// boundary. Anything unusual (user info, backslashes, spaces, dot segments) is refused.
pub fn return_to_allowed(return_to: &str, allowlist: &[String]) -> bool {
    if return_to.chars().count() > MAX_URL_CHARS || has_bad_chars(return_to) {
        return false;
    }
    let Some((scheme, authority, tail)) = split_url(return_to) else {
        return false;
    };
    if authority.contains(['{', '}']) {
        return false;
    }
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let path = match &tail[..path_end] {
        "" => "/",
        p => p,
    };
    if has_dot_segment(path) {
        return false;
    }
    allowlist.iter().any(|entry| {
        let Some((e_scheme, e_authority, e_path)) = split_url(entry) else {
            return false;
        };
        let e_path = if e_path.is_empty() { "/" } else { e_path };
        e_scheme == scheme
            && e_authority == authority
            && path.starts_with(e_path)
            && (e_path.ends_with('/')
                || path.len() == e_path.len()
                || path[e_path.len()..].starts_with('/'))
    })
}

/// Percent-encode everything but the URI unreserved characters (`A-Z a-z 0-9 - . _ ~`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The redirect target: the template with `{token}` and `{return_to}` percent-encoded (an
/// absent `return_to` becomes empty). One pass, so substituted text is never read again.
pub fn redirect_location(template: &str, token: &str, return_to: Option<&str>) -> String {
    let mut out = String::with_capacity(template.len() + token.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        if let Some(tail) = after.strip_prefix("{token}") {
            out.push_str(&percent_encode(token));
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{return_to}") {
            out.push_str(&percent_encode(return_to.unwrap_or_default()));
            rest = tail;
        } else {
            out.push('{');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// `scheme://authority` of a validated URL (for the form page's CSP `form-action`).
pub fn origin_of(url: &str) -> Option<String> {
    split_url(url).map(|(scheme, authority, _)| format!("{scheme}://{authority}"))
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The auto-submitting page of form-post delivery: the form, a "Continue" button for browsers
/// without JavaScript, and the one script (`/static/autopost.js`) that submits it.
pub fn form_post_page(form: &FormPostDelivery, token: &str, return_to: Option<&str>) -> String {
    let return_field = return_to
        .map(|r| {
            format!(
                "\n<input type=\"hidden\" name=\"return_to\" value=\"{}\">",
                html_escape(r)
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>Signing you in…</title>\n</head>\n<body>\n\
<form id=\"autopost\" method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"{field}\" value=\"{token}\">{return_field}\n\
<noscript><p>JavaScript is off: press Continue to sign in.</p>\
<button type=\"submit\">Continue</button></noscript>\n\
</form>\n<script src=\"/static/autopost.js\"></script>\n</body>\n</html>\n",
        action = html_escape(&form.url),
        field = html_escape(&form.field),
        token = html_escape(token),
    )
}

/// The form page's Content-Security-Policy: its one script, and posting only to the consumer.
pub fn form_post_csp(form: &FormPostDelivery) -> String {
    let origin = origin_of(&form.url).unwrap_or_else(|| "'none'".to_owned());
    format!(
        "default-src 'none'; script-src 'self'; form-action {origin}; base-uri 'none'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(url: &str, allow: &[&str]) -> Delivery {
        Delivery {
            redirect: Some(RedirectDelivery {
                url: url.into(),
                return_to_allowlist: allow.iter().map(|s| s.to_string()).collect(),
            }),
            ..Delivery::default()
        }
    }

    #[test]
    fn old_records_and_the_short_api_shape_still_decode() {
        let d: Delivery = serde_json::from_str(r#"{"json": true}"#).unwrap();
        assert!(d.json && d.default == DeliveryMode::Raw && d.redirect.is_none());
        assert_eq!(serde_json::to_string(&d).unwrap(), r#"{"json":true}"#);
        let f: FormPostDelivery =
            serde_json::from_str(r#"{"url": "https://a.example/x"}"#).unwrap();
        assert_eq!(f.field, "jwt");
    }

    #[test]
    fn consumer_urls_must_be_https_with_a_token_placeholder() {
        let ok = redirect(
            "https://Example.Zendesk.com/access/jwt?jwt={token}&return_to={return_to}",
            &["https://example.zendesk.com/hc"],
        )
        .validated()
        .unwrap();
        assert_eq!(
            ok.redirect.unwrap().url,
            "https://example.zendesk.com/access/jwt?jwt={token}&return_to={return_to}"
        );
        assert!(
            redirect("http://localhost:8080/cb?t={token}", &[])
                .validated()
                .is_ok()
        );
        assert!(
            redirect("http://127.0.0.1/cb?t={token}", &[])
                .validated()
                .is_ok()
        );
        for bad in [
            "http://example.com/cb?t={token}",
            "https://example.com/cb",
            "https://{subdomain}.zendesk.com/access/jwt?jwt={token}",
            "https://example.com/cb?t={token}&x={user}",
            "https://user:pw@example.com/cb?t={token}",
            "javascript:alert(1)//{token}",
            "https://example.com/cb?t={token",
            "https://exa mple.com/{token}",
            "/relative?t={token}",
        ] {
            let e = redirect(bad, &[]).validated().unwrap_err();
            assert_eq!(e.field, "delivery.redirect.url", "{bad}");
        }
        let e = redirect(
            "https://{subdomain}.zendesk.com/access/jwt?jwt={token}",
            &[],
        )
        .validated()
        .unwrap_err();
        assert!(e.message.contains("subdomain"), "{}", e.message);
        let e = redirect("https://a.example/?t={token}", &["https://a.example/x?y"])
            .validated()
            .unwrap_err();
        assert_eq!(e.field, "delivery.redirect.return_to_allowlist");
    }

    #[test]
    fn the_default_mode_must_be_enabled() {
        let d = Delivery {
            default: DeliveryMode::Redirect,
            ..Delivery::default()
        };
        assert_eq!(d.validated().unwrap_err().field, "delivery.default");
        let d = Delivery {
            default: DeliveryMode::Json,
            json: true,
            ..Delivery::default()
        };
        assert!(d.validated().is_ok());
    }

    #[test]
    fn return_to_matches_scheme_host_exactly_and_a_path_prefix() {
        let list = vec![
            "https://example.zendesk.com/hc/".to_owned(),
            "https://help.example/docs".to_owned(),
        ];
        for ok in [
            "https://example.zendesk.com/hc/",
            "https://example.zendesk.com/hc/en-us/articles/1?x=1#y",
            "https://EXAMPLE.zendesk.com/hc/a",
            "https://help.example/docs",
            "https://help.example/docs/a",
            "https://help.example/docs?x",
        ] {
            assert!(return_to_allowed(ok, &list), "{ok}");
        }
        for bad in [
            "http://example.zendesk.com/hc/",
            "https://example.zendesk.com/",
            "https://example.zendesk.com:8443/hc/",
            "https://example.zendesk.com.evil.example/hc/",
            "https://evil.example/https://example.zendesk.com/hc/",
            "https://example.zendesk.com@evil.example/hc/",
            "https://help.example/docsevil",
            "https://help.example/docs/../admin",
            "https://help.example/docs/%2e%2e/admin",
            "https://example.zendesk.com\\@evil.example/hc/",
            "//example.zendesk.com/hc/",
            "/hc/",
            "javascript:alert(1)",
            "https://example.zendesk.com/hc/ x",
        ] {
            assert!(!return_to_allowed(bad, &list), "{bad}");
        }
        assert!(!return_to_allowed("https://example.zendesk.com/hc/", &[]));
    }

    #[test]
    fn substitution_percent_encodes_once() {
        let t = "https://a.example/cb?jwt={token}&return_to={return_to}&x={other}";
        assert_eq!(
            redirect_location(t, "a.b-c_d", Some("https://a.example/x?y=1&z={token}")),
            "https://a.example/cb?jwt=a.b-c_d&return_to=https%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z%3D%7Btoken%7D&x={other}"
        );
        assert_eq!(
            redirect_location(t, "t", None),
            "https://a.example/cb?jwt=t&return_to=&x={other}"
        );
    }

    #[test]
    fn the_form_page_escapes_and_its_csp_names_the_consumer_origin() {
        let f = FormPostDelivery {
            url: "https://sso.example:8443/login?a=1&b=2".into(),
            field: "jwt".into(),
            return_to_allowlist: vec![],
        };
        let page = form_post_page(&f, "h.p.s", Some("https://sso.example/\"><script>"));
        assert!(page.contains(r#"action="https://sso.example:8443/login?a=1&amp;b=2""#));
        assert!(page.contains(r#"<input type="hidden" name="jwt" value="h.p.s">"#));
        assert!(page.contains("&quot;&gt;&lt;script&gt;"));
        assert!(!page.contains("\"><script>"));
        assert_eq!(
            form_post_csp(&f),
            "default-src 'none'; script-src 'self'; form-action https://sso.example:8443; base-uri 'none'; frame-ancestors 'none'"
        );
    }
}

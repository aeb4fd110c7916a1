//! Audit events: what happened, who did it, to what, and how it ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened (stored and shown by these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AuditAction {
    /// `token.issue`: a token issued or refused.
    #[serde(rename = "token.issue")]
    TokenIssue,
    /// `session.login`: a sign-in.
    #[serde(rename = "session.login")]
    SessionLogin,
    /// `session.logout`: a sign-out.
    #[serde(rename = "session.logout")]
    SessionLogout,
    /// `user.create`: a user created.
    #[serde(rename = "user.create")]
    UserCreate,
    /// `user.update`: a user's profile, groups or admin flag changed.
    #[serde(rename = "user.update")]
    UserUpdate,
    /// `user.password`: a user's password set.
    #[serde(rename = "user.password")]
    UserPassword,
    /// `user.disable`: a user disabled.
    #[serde(rename = "user.disable")]
    UserDisable,
    /// `user.enable`: a user enabled.
    #[serde(rename = "user.enable")]
    UserEnable,
    /// `user.end_sessions`: a user's sessions ended.
    #[serde(rename = "user.end_sessions")]
    UserEndSessions,
    /// `user.delete`: a user deleted with their sessions and keys.
    #[serde(rename = "user.delete")]
    UserDelete,
    /// `apikey.create`: an API key created.
    #[serde(rename = "apikey.create")]
    ApiKeyCreate,
    /// `apikey.revoke`: an API key revoked.
    #[serde(rename = "apikey.revoke")]
    ApiKeyRevoke,
    /// `asset.create`: an asset created.
    #[serde(rename = "asset.create")]
    AssetCreate,
    /// `asset.update`: an asset edited.
    #[serde(rename = "asset.update")]
    AssetUpdate,
    /// `asset.trash`: an asset trashed.
    #[serde(rename = "asset.trash")]
    AssetTrash,
    /// `asset.restore`: an asset restored.
    #[serde(rename = "asset.restore")]
    AssetRestore,
    /// `asset.purge`: an asset purged.
    #[serde(rename = "asset.purge")]
    AssetPurge,
    /// `asset.rotate`: an asset's key rotated.
    #[serde(rename = "asset.rotate")]
    AssetRotate,
    /// `asset.next_secret`: an asset's next secret scheduled.
    #[serde(rename = "asset.next_secret")]
    AssetNextSecret,
    /// `asset.next_secret_cancel`: an asset's next secret cancelled.
    #[serde(rename = "asset.next_secret_cancel")]
    AssetNextSecretCancel,
    /// `asset.next_key`: an asset's next key published (not signing yet).
    #[serde(rename = "asset.next_key")]
    AssetNextKey,
    /// `asset.next_key_activate`: an asset's next key activated by an administrator.
    #[serde(rename = "asset.next_key_activate")]
    AssetNextKeyActivate,
    /// `asset.next_key_withdraw`: an asset's waiting next key withdrawn.
    #[serde(rename = "asset.next_key_withdraw")]
    AssetNextKeyWithdraw,
    /// `asset.preview`: a token previewed by an administrator.
    #[serde(rename = "asset.preview")]
    AssetPreview,
    /// `trash.empty`: the trash emptied.
    #[serde(rename = "trash.empty")]
    TrashEmpty,
    /// `store.export`: the whole store exported (a backup).
    #[serde(rename = "store.export")]
    StoreExport,
    /// `settings.sign_in`: identity providers or the sign-in policy changed.
    #[serde(rename = "settings.sign_in")]
    SignInSettings,
    /// An action this version does not know (written by a newer one).
    #[serde(other, rename = "unknown")]
    Unknown,
}

impl AuditAction {
    /// Every action this version records, for pickers.
    pub const ALL: [AuditAction; 27] = [
        AuditAction::TokenIssue,
        AuditAction::SessionLogin,
        AuditAction::SessionLogout,
        AuditAction::UserCreate,
        AuditAction::UserUpdate,
        AuditAction::UserPassword,
        AuditAction::UserDisable,
        AuditAction::UserEnable,
        AuditAction::UserEndSessions,
        AuditAction::UserDelete,
        AuditAction::ApiKeyCreate,
        AuditAction::ApiKeyRevoke,
        AuditAction::AssetCreate,
        AuditAction::AssetUpdate,
        AuditAction::AssetTrash,
        AuditAction::AssetRestore,
        AuditAction::AssetPurge,
        AuditAction::AssetRotate,
        AuditAction::AssetNextSecret,
        AuditAction::AssetNextSecretCancel,
        AuditAction::AssetNextKey,
        AuditAction::AssetNextKeyActivate,
        AuditAction::AssetNextKeyWithdraw,
        AuditAction::AssetPreview,
        AuditAction::TrashEmpty,
        AuditAction::StoreExport,
        AuditAction::SignInSettings,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TokenIssue => "token.issue",
            AuditAction::SessionLogin => "session.login",
            AuditAction::SessionLogout => "session.logout",
            AuditAction::UserCreate => "user.create",
            AuditAction::SignInSettings => "settings.sign_in",
            AuditAction::UserUpdate => "user.update",
            AuditAction::UserPassword => "user.password",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserEnable => "user.enable",
            AuditAction::UserEndSessions => "user.end_sessions",
            AuditAction::UserDelete => "user.delete",
            AuditAction::ApiKeyCreate => "apikey.create",
            AuditAction::ApiKeyRevoke => "apikey.revoke",
            AuditAction::AssetCreate => "asset.create",
            AuditAction::AssetUpdate => "asset.update",
            AuditAction::AssetTrash => "asset.trash",
            AuditAction::AssetRestore => "asset.restore",
            AuditAction::AssetPurge => "asset.purge",
            AuditAction::AssetRotate => "asset.rotate",
            AuditAction::AssetNextSecret => "asset.next_secret",
            AuditAction::AssetNextSecretCancel => "asset.next_secret_cancel",
            AuditAction::AssetNextKey => "asset.next_key",
            AuditAction::AssetNextKeyActivate => "asset.next_key_activate",
            AuditAction::AssetNextKeyWithdraw => "asset.next_key_withdraw",
            AuditAction::AssetPreview => "asset.preview",
            AuditAction::TrashEmpty => "trash.empty",
            AuditAction::StoreExport => "store.export",
            AuditAction::Unknown => "unknown",
        }
    }
}

/// Where an event sits in the trail: the batch (a segment, a row) it was written in and its
/// place there. Later events have greater positions; a position never changes while its event
/// is kept, so a page of the trail can start just before one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditPosition {
    /// The batch.
    pub batch: u64,
    /// The event's place in its batch.
    pub index: u64,
}

/// How a filter matches text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMatch {
    /// The whole text (a username without regard to case; a target exactly).
    Exact(String),
    /// The beginning of the text, without regard to case.
    Prefix(String),
}

/// Which audit events to list. Every part that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Who did it.
    pub actor: Option<TextMatch>,
    /// What it was done to.
    pub target: Option<TextMatch>,
    /// An action's name (`asset.update`) or its family (`asset`: every `asset.*`).
    pub action: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// Whether `text` starts with `prefix`, without regard to (ASCII) case.
fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

impl AuditFilter {
    /// Events by `actor` (exact, without regard to case) about `target` (exact): the JSON
    /// API's filters.
    pub fn exact(actor: Option<&str>, target: Option<&str>) -> AuditFilter {
        AuditFilter {
            actor: actor.map(|a| TextMatch::Exact(a.to_owned())),
            target: target.map(|t| TextMatch::Exact(t.to_owned())),
            ..AuditFilter::default()
        }
    }

    /// Whether the event passes the filter.
    pub fn matches(&self, e: &AuditEvent) -> bool {
        let actor_ok = match &self.actor {
            None => true,
            Some(TextMatch::Exact(a)) => e.actor.eq_ignore_ascii_case(a),
            Some(TextMatch::Prefix(p)) => starts_with_ignoring_case(&e.actor, p),
        };
        let target_ok = match &self.target {
            None => true,
            Some(TextMatch::Exact(t)) => e.target == *t,
            Some(TextMatch::Prefix(p)) => starts_with_ignoring_case(&e.target, p),
        };
        let action_ok = self.action.as_deref().is_none_or(|wanted| {
            let name = e.action.as_str();
            name == wanted
                || name
                    .strip_prefix(wanted)
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        actor_ok
            && target_ok
            && action_ok
            && self.since.is_none_or(|t| e.at >= t)
            && self.until.is_none_or(|t| e.at < t)
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// `ok`: it happened.
    Ok,
    /// `forbidden`: refused: not signed in, not allowed, wrong password.
    Forbidden,
    /// `config_error`: the asset could not make the token.
    ConfigError,
    /// `error`: something else failed.
    Error,
    /// An outcome this version does not know.
    #[serde(other)]
    Unknown,
}

impl AuditOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Forbidden => "forbidden",
            AuditOutcome::ConfigError => "config_error",
            AuditOutcome::Error => "error",
            AuditOutcome::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened: a token issued or refused, an administrative change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuditEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Username of who did it (`-` when unknown).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// What it was done to: an asset path, a username, a key prefix.
    pub target: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The token's `jti`, for issued tokens that have one (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// More about it, e.g. whom a preview was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEvent {
    /// A successful administrative action.
    pub fn admin(actor: &str, action: AuditAction, target: &str) -> Self {
        AuditEvent {
            at: Utc::now(),
            actor: actor.to_owned(),
            action,
            target: target.to_owned(),
            outcome: AuditOutcome::Ok,
            jti: None,
            detail: None,
        }
    }
}

/// Audit events encoded as JSON lines, oldest first: the form in which the audit queue holds
/// them. A request encodes its event as it records it, so that the background writer only moves
/// bytes (it shares a core with the request workers, and its bursts of encoding were the tail of
/// the token latency), and no event's strings are freed by another thread than the one that
/// made them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditLines {
    bytes: Vec<u8>,
    /// Where each line ends (after its `\n`).
    ends: Vec<usize>,
}

impl AuditLines {
    /// The lines of these events.
    pub fn of(events: &[AuditEvent]) -> AuditLines {
        let mut lines = AuditLines::default();
        for e in events {
            lines.push(e);
        }
        lines
    }

    /// Add an event.
    pub fn push(&mut self, event: &AuditEvent) {
        encode_line(&mut self.bytes, event);
        self.ends.push(self.bytes.len());
    }

    /// Add every line of `other`.
    pub fn append(&mut self, other: &AuditLines) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|end| base + end));
    }

    /// Keep the first `n` lines.
    pub fn truncate(&mut self, n: usize) {
        if n < self.ends.len() {
            self.bytes
                .truncate(if n == 0 { 0 } else { self.ends[n - 1] });
            self.ends.truncate(n);
        }
    }

    /// Forget every line, keeping the memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    /// Bytes of memory the buffer holds (its capacity, used or not).
    pub fn bytes_held(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No events.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The lines of events `from..to` (each ending in `\n`).
    pub fn bytes(&self, from: usize, to: usize) -> &[u8] {
        if from >= to {
            return &[];
        }
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        &self.bytes[start..self.ends[to - 1]]
    }

    /// The events again (for a backend that stores them as records).
    pub fn events(&self) -> Result<Vec<AuditEvent>, serde_json::Error> {
        (0..self.len())
            .map(|i| {
                let line = self.bytes(i, i + 1);
                serde_json::from_slice(&line[..line.len() - 1])
            })
            .collect()
    }
}

/// One event as a line of JSON: byte for byte what `serde_json` writes for it (the unit tests
/// hold the two together), without serde's per-character formatting of the time, a third of the
/// cost of encoding an event that way.
fn encode_line(out: &mut Vec<u8>, e: &AuditEvent) {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (e.at.year(), e.at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Years chrono writes with a sign, leap seconds: the general path.
        // An event is strings and a time: encoding it into memory cannot fail.
        let _ = serde_json::to_writer(&mut *out, e);
        out.push(b'\n');
        return;
    }
    out.extend_from_slice(b"{\"at\":\"");
    let digits = |out: &mut Vec<u8>, v: u32, width: u32| {
        for p in (0..width).rev() {
            out.push(b'0' + (v / 10u32.pow(p) % 10) as u8);
        }
    };
    digits(out, year as u32, 4);
    out.push(b'-');
    digits(out, e.at.month(), 2);
    out.push(b'-');
    digits(out, e.at.day(), 2);
    out.push(b'T');
    digits(out, e.at.hour(), 2);
    out.push(b':');
    digits(out, e.at.minute(), 2);
    out.push(b':');
    digits(out, e.at.second(), 2);
    // chrono's `SecondsFormat::AutoSi`: as many fraction digits as the value needs, in threes.
    if nanos != 0 {
        out.push(b'.');
        if nanos % 1_000_000 == 0 {
            digits(out, nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            digits(out, nanos / 1_000, 6);
        } else {
            digits(out, nanos, 9);
        }
    }
    out.extend_from_slice(b"Z\",\"actor\":");
    json_str(out, &e.actor);
    out.extend_from_slice(b",\"action\":");
    json_str(out, e.action.as_str());
    out.extend_from_slice(b",\"target\":");
    json_str(out, &e.target);
    out.extend_from_slice(b",\"outcome\":");
    json_str(out, e.outcome.as_str());
    if let Some(jti) = &e.jti {
        out.extend_from_slice(b",\"jti\":");
        json_str(out, jti);
    }
    if let Some(detail) = &e.detail {
        out.extend_from_slice(b",\"detail\":");
        json_str(out, detail);
    }
    out.extend_from_slice(b"}\n");
}

/// A JSON string; text with nothing to escape (almost all of it) is copied as it is.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(actor: &str, action: AuditAction, target: &str, secs: i64) -> AuditEvent {
        AuditEvent {
            at: DateTime::from_timestamp(secs, 0).unwrap(),
            ..AuditEvent::admin(actor, action, target)
        }
    }

    #[test]
    fn filters_match_by_prefix_action_family_and_time() {
        let e = at("Alice", AuditAction::AssetUpdate, "/chat/token", 1_000);
        let f = |filter: AuditFilter| filter.matches(&e);
        assert!(f(AuditFilter::default()));
        assert!(f(AuditFilter {
            actor: Some(TextMatch::Prefix("ali".into())),
            ..Default::default()
        }));
        assert!(!f(AuditFilter {
            actor: Some(TextMatch::Exact("ali".into())),
            ..Default::default()
        }));
        assert!(f(AuditFilter::exact(Some("alice"), Some("/chat/token"))));
        assert!(!f(AuditFilter::exact(None, Some("/chat"))));
        assert!(f(AuditFilter {
            target: Some(TextMatch::Prefix("/CHAT/".into())),
            ..Default::default()
        }));
        assert!(f(AuditFilter {
            action: Some("asset".into()),
            ..Default::default()
        }));
        assert!(f(AuditFilter {
            action: Some("asset.update".into()),
            ..Default::default()
        }));
        assert!(!f(AuditFilter {
            action: Some("asset.up".into()),
            ..Default::default()
        }));
        assert!(!f(AuditFilter {
            action: Some("token".into()),
            ..Default::default()
        }));
        let t = |s| DateTime::from_timestamp(s, 0);
        assert!(f(AuditFilter {
            since: t(1_000),
            until: t(1_001),
            ..Default::default()
        }));
        assert!(!f(AuditFilter {
            since: t(1_001),
            ..Default::default()
        }));
        assert!(!f(AuditFilter {
            until: t(1_000),
            ..Default::default()
        }));
        // A prefix longer than the text, or cutting a character, matches nothing.
        let odd = at("é", AuditAction::AssetUpdate, "/x", 0);
        assert!(
            !AuditFilter {
                actor: Some(TextMatch::Prefix("\u{e9}x".into())),
                ..Default::default()
            }
            .matches(&odd)
        );
    }

    #[test]
    fn encoded_lines_are_what_serde_json_writes_and_read_back_equal() {
        use chrono::{TimeZone, Utc};
        let actions: Vec<AuditAction> = AuditAction::ALL
            .into_iter()
            .chain([AuditAction::Unknown])
            .collect();
        let outcomes = [
            AuditOutcome::Ok,
            AuditOutcome::Forbidden,
            AuditOutcome::ConfigError,
            AuditOutcome::Error,
            AuditOutcome::Unknown,
        ];
        let base = Utc.with_ymd_and_hms(2026, 12, 3, 8, 5, 9).unwrap();
        let times = [
            base,
            base + chrono::Duration::milliseconds(7),
            base + chrono::Duration::microseconds(123_450),
            base + chrono::Duration::nanoseconds(987_654_321),
            base + chrono::Duration::nanoseconds(1),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            // chrono writes these with a sign: the general path
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        let texts = [
            "",
            "alice",
            "/tokens/ä-ü 😀",
            "quote \" backslash \\ slash /",
            "control \u{1} \n \t \u{1f} del \u{7f}",
            "\u{2028}\u{2029}",
        ];
        let mut events = Vec::new();
        for (i, action) in actions.iter().enumerate() {
            for (j, outcome) in outcomes.iter().enumerate() {
                let n = i * outcomes.len() + j;
                events.push(AuditEvent {
                    at: times[n % times.len()],
                    actor: texts[n % texts.len()].to_owned(),
                    action: *action,
                    target: texts[(n + 1) % texts.len()].to_owned(),
                    outcome: *outcome,
                    jti: (!n.is_multiple_of(3)).then(|| texts[(n + 2) % texts.len()].to_owned()),
                    detail: n
                        .is_multiple_of(2)
                        .then(|| texts[(n + 3) % texts.len()].to_owned()),
                });
            }
        }
        // a leap second (the general path)
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        events.push(AuditEvent {
            at: leap,
            ..AuditEvent::admin("alice", AuditAction::TokenIssue, "/t")
        });
        for e in &events {
            let mut ours = Vec::new();
            encode_line(&mut ours, e);
            let mut theirs = serde_json::to_vec(e).unwrap();
            theirs.push(b'\n');
            assert_eq!(
                String::from_utf8(ours.clone()).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
            let back: AuditEvent = serde_json::from_slice(&ours[..ours.len() - 1]).unwrap();
            assert_eq!(&back, e);
        }

        // The batch form: the same lines, and the events back in order.
        let mut lines = AuditLines::of(&events[..10]);
        lines.append(&AuditLines::of(&events[10..]));
        assert_eq!(lines.len(), events.len());
        assert_eq!(lines.events().unwrap(), events);
        let mut first = lines.clone();
        first.truncate(3);
        assert_eq!(first.events().unwrap(), events[..3]);
        assert_eq!(lines.bytes(3, 5), AuditLines::of(&events[3..5]).bytes(0, 2));
    }
}

//! The compiled form of a template: its top-level members and the pieces each one renders.

use super::render::Keyword;

/// One top-level claim: its decoded name and the pieces that render `"name":value`.
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// The claim name, with its JSON escapes decoded.
    pub(super) name: Box<str>,
    /// The pieces that render `"name":value`, in output order.
    pub(super) parts: Box<[Part]>,
}

/// A piece of a rendered member, in output order.
#[derive(Debug, Clone)]
pub(super) enum Part {
    /// Compact JSON text copied verbatim.
    Literal(Box<str>),
    /// A keyword inside a string literal: its value is escaped as string content.
    InString(Keyword),
    /// A keyword standing for a whole value.
    Value(Keyword),
}

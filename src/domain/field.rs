//! A field-level validation problem: what the administrator sent that is wrong, and where.

use serde::Serialize;

/// A field-level validation problem, shown to the administrator who sent the input.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The request field that is wrong (`path`, `template`, `secret` …).
    pub field: String,
    /// What is wrong with it, in words an administrator understands.
    pub message: String,
    /// 1-based line inside the field's text, for multi-line fields such as the template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column (in characters) inside the field's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The other problems found in the same input, so that all are reported at once.
    #[serde(skip)]
    pub also: Vec<FieldError>,
}

impl FieldError {
    /// A problem with a whole field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            line: None,
            column: None,
            also: Vec::new(),
        }
    }

    /// A problem at a line and column of a field's text.
    pub fn at(
        field: impl Into<String>,
        message: impl Into<String>,
        line: usize,
        column: usize,
    ) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            line: Some(line),
            column: Some(column),
            also: Vec::new(),
        }
    }

    /// All of `errors` as one: the first, carrying the others; `None` when there are none.
    pub fn all(errors: Vec<FieldError>) -> Option<FieldError> {
        let mut flat = Vec::new();
        for mut e in errors {
            let also = std::mem::take(&mut e.also);
            flat.push(e);
            flat.extend(also);
        }
        let mut iter = flat.into_iter();
        let mut first = iter.next()?;
        first.also = iter.collect();
        Some(first)
    }

    /// This problem and the others found with it, in order.
    pub fn each(&self) -> impl Iterator<Item = &FieldError> {
        std::iter::once(self).chain(self.also.iter())
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => {
                write!(f, "{}: line {l}, column {c}: {}", self.field, self.message)
            }
            _ => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

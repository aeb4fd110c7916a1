//! A field-level validation problem: what the administrator sent that is wrong, and where.

use serde::Serialize;

/// A field-level validation problem, shown to the administrator who sent the input.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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
}

impl FieldError {
    /// A problem with a whole field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            line: None,
            column: None,
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
        }
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

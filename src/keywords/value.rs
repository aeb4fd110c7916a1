//! A keyword's value while modifiers transform it: text, or a list.

use std::borrow::Cow;

/// The message of a value that outgrew `MAX_VALUE_BYTES`.
pub(super) const VALUE_TOO_LARGE: &str = "a modifier produced a value larger than 65536 bytes";

/// A keyword's value while modifiers transform it.
#[derive(Debug)]
pub(super) enum Value<'v> {
    /// Text, borrowed from the request or the template where possible.
    Text(Cow<'v, str>),
    /// The user's groups, borrowed so the common case allocates nothing.
    Groups(&'v [String]),
    /// A list made by a modifier such as `explode`.
    List(Vec<Cow<'v, str>>),
    /// An array or object from `json_decode` (its scalars become text).
    Json(serde_json::Value),
}

impl<'v> Value<'v> {
    /// The value as text: a list joins its items with `,`.
    pub(super) fn into_text(self) -> Cow<'v, str> {
        match self {
            Value::Text(text) => text,
            Value::Groups([only]) => Cow::Borrowed(only),
            Value::Groups(groups) => Cow::Owned(groups.join(",")),
            Value::List(mut items) if items.len() == 1 => items.pop().unwrap_or_default(),
            Value::List(items) => Cow::Owned(items.join(",")),
            Value::Json(json) => Cow::Owned(json.to_string()),
        }
    }

    /// The length in bytes of the value as text (a list joined with `,`).
    pub(super) fn text_len(&self) -> usize {
        let joined = |lengths: &mut dyn Iterator<Item = usize>| {
            lengths
                .map(|length| length + 1)
                .sum::<usize>()
                .saturating_sub(1)
        };
        match self {
            Value::Text(text) => text.len(),
            Value::Groups(groups) => joined(&mut groups.iter().map(String::len)),
            Value::List(items) => joined(&mut items.iter().map(|item| item.len())),
            Value::Json(json) => json.to_string().len(),
        }
    }

    /// Whether the value is empty text or an empty list.
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Value::Text(text) => text.is_empty(),
            Value::Groups(groups) => groups.is_empty(),
            Value::List(items) => items.is_empty(),
            Value::Json(serde_json::Value::Array(items)) => items.is_empty(),
            Value::Json(serde_json::Value::Object(members)) => members.is_empty(),
            Value::Json(_) => false,
        }
    }

    /// The items of a list value; `None` for text and decoded JSON.
    pub(super) fn items(&self) -> Option<Items<'_, 'v>> {
        match self {
            Value::Text(_) | Value::Json(_) => None,
            Value::Groups(groups) => Some(Items::Groups(groups.iter())),
            Value::List(items) => Some(Items::List(items.iter())),
        }
    }
}

/// Iterator over the items of a list value.
pub(super) enum Items<'s, 'v> {
    /// Over the user's groups.
    Groups(std::slice::Iter<'s, String>),
    /// Over a list's items.
    List(std::slice::Iter<'s, Cow<'v, str>>),
}

impl<'s> Iterator for Items<'s, '_> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        match self {
            Items::Groups(iter) => iter.next().map(String::as_str),
            Items::List(iter) => iter.next().map(|item| &**item),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Items::Groups(iter) => iter.size_hint(),
            Items::List(iter) => iter.size_hint(),
        }
    }
}

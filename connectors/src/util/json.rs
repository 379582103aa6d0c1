//! JSON values read as the text a page shows them with.

use serde_json::Value;

/// A JSON scalar as the text it shows: strings trimmed (blank is `None`), numbers as written (`2`,
/// `1.5`, `265000`). Objects, arrays, booleans and null are `None`: none of them is one field's text.
pub(crate) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => {
            let trimmed = text.trim();
            (!trimmed.is_empty()).then(|| trimmed.to_owned())
        }
        Value::Number(number) => Some(number.to_string()),
        Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => None,
    }
}

/// [`text_of`] for a value that may be missing (the result of `get`).
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(text_of)
}

/// [`text`], plus booleans as `true` / `false`: for sources (RESO feeds, JSON-LD) whose flags are
/// field values in their own right.
pub(crate) fn text_or_bool(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Bool(flag) => Some(flag.to_string()),
        other => text_of(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_trimmed_and_blank_is_absent() {
        assert_eq!(text_of(&json!("  3 beds \n")), Some("3 beds".to_owned()));
        assert_eq!(text_of(&json!(" \t ")), None);
        assert_eq!(text_of(&json!("")), None);
    }

    #[test]
    fn numbers_keep_how_they_were_written() {
        assert_eq!(text_of(&json!(265000)), Some("265000".to_owned()));
        assert_eq!(text_of(&json!(1.5)), Some("1.5".to_owned()));
        assert_eq!(text_of(&json!(-97.74)), Some("-97.74".to_owned()));
    }

    #[test]
    fn non_scalars_and_flags_have_no_text() {
        for value in [json!(null), json!(true), json!([1]), json!({"text": "x"})] {
            assert_eq!(text_of(&value), None, "{value}");
        }
        assert_eq!(text(None), None);
        assert_eq!(text(Some(&json!(" a "))), Some("a".to_owned()));
    }

    #[test]
    fn text_or_bool_adds_flags_only() {
        assert_eq!(text_or_bool(Some(&json!(false))), Some("false".to_owned()));
        assert_eq!(text_or_bool(Some(&json!(true))), Some("true".to_owned()));
        assert_eq!(text_or_bool(Some(&json!(2))), Some("2".to_owned()));
        assert_eq!(text_or_bool(Some(&json!(" "))), None);
        assert_eq!(text_or_bool(Some(&json!(null))), None);
        assert_eq!(text_or_bool(Some(&json!({"a": 1}))), None);
        assert_eq!(text_or_bool(None), None);
    }
}

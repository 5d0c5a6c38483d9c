//! A JSON document with no form of its own in the console (a sentiment summary, a
//! categorisation result) as labelled values a person can read: the vendors' analytics
//! documents have no published schema, so this follows whatever shape one has instead of
//! expecting one.

use serde_json::Value;

/// At most this many values of one document are shown; the download has them all.
const MAX_FACTS: usize = 60;

/// `{"overall": {"label": "positive", "score": 0.4}}` reads as
/// `Overall › label: positive`, `Overall › score: 0.4`, in the document's own order; the
/// entries of a list are numbered from 1.
pub fn of(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(doc, String::new(), &mut out);
    out.truncate(MAX_FACTS);
    out
}

fn walk(v: &Value, path: String, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_FACTS {
        return;
    }
    let join = |key: &str| {
        if path.is_empty() {
            label(key)
        } else {
            format!("{path} › {}", words(key))
        }
    };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| walk(v, join(k), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(n, v)| walk(v, join(&(n + 1).to_string()), out)),
        Value::Null => {}
        Value::String(s) => out.push((path, s.clone())),
        other => out.push((path, other.to_string())),
    }
}

/// `actionItems` as `action items`.
fn words(key: &str) -> String {
    let mut s = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_uppercase() && !s.is_empty() {
            s.push(' ');
        }
        s.extend(c.to_lowercase());
    }
    s
}

/// The first key of a path, capitalised.
fn label(key: &str) -> String {
    let w = words(key);
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::of;

    #[test]
    fn nested_values_read_as_labelled_paths_in_the_documents_order() {
        let doc = json!({"overall": {"label": "positive", "score": 0.42}, "customerScore": -0.1});
        assert_eq!(
            of(&doc),
            vec![
                ("Overall › label".to_string(), "positive".to_string()),
                ("Overall › score".to_string(), "0.42".to_string()),
                ("Customer score".to_string(), "-0.1".to_string()),
            ]
        );
    }

    #[test]
    fn list_entries_are_numbered_from_one() {
        let doc = json!({"categories": [{"name": "Billing", "confidence": 0.9}]});
        assert_eq!(
            of(&doc),
            vec![
                ("Categories › 1 › name".to_string(), "Billing".to_string()),
                ("Categories › 1 › confidence".to_string(), "0.9".to_string()),
            ]
        );
    }

    #[test]
    fn a_huge_document_is_cut_at_the_limit() {
        let doc = json!({"scores": (0..1000).collect::<Vec<_>>()});
        assert_eq!(of(&doc).len(), super::MAX_FACTS);
    }
}

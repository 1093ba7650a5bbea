//! IPTC ninjs (News in JSON) as input: a story from a ninjs document, and
//! copydesk's answer as ninjs `associations`.
//!
//! Read from 1.x (`headline`, `body_text`, `body_html`, `versioncreated`,
//! `pubstatus`), 2.x (`headlines`, `bodies` with `contenttype`, lowercase
//! names) and 3.x (`headlines`, `bodies` with `contentType`,
//! `versionCreated`, `pubStatus`). The mapping:
//!
//! | ninjs | copydesk |
//! |---|---|
//! | `uri` | story id, with `%` written `%25` and `/` written `%2F` (an id holds no `/`) |
//! | `version` | version order: a version not newer than one already ingested is stale |
//! | `versioncreated` / `versionCreated` (else `firstcreated`) | `published_at` |
//! | `headline`, or `headlines` (role `main`, else the first) | `title` |
//! | `body_text`, or a `text/plain` body; else `body_html` or an HTML body | `body` (HTML is read as text, offsets point into it) |
//! | `language` | `language` |
//! | `by`, else `copyrightholder` | `source` |
//! | `pubstatus` / `pubStatus` `canceled` | remove the story |
//!
//! Compute only: no I/O, no gRPC types.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::story::Story;

/// Where copydesk's `rel` values live: `…/duplicate-of`, `…/canonical`,
/// `…/related`, `…/cluster`.
pub const REL_NAMESPACE: &str = "https://copydesk.dev/ninjs/rel/";

/// Why a ninjs document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NinjsError {
    /// Not JSON, or not an object.
    #[error("not a ninjs object: {0}")]
    NotAnObject(String),
    /// A field has the wrong type or form.
    #[error("{field}: {reason}")]
    Field {
        /// The ninjs field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// A story read from a ninjs document, with what ninjs says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct NinjsItem {
    /// The story (`id` from the `uri`; the body may be empty for a
    /// canceled item).
    pub story: Story,
    /// The document's `uri`.
    pub uri: String,
    /// Its `version`, when it is a number.
    pub version: Option<u64>,
    /// `pubStatus` is `canceled`: the story is to be removed.
    pub canceled: bool,
}

/// The story id of a ninjs `uri`: `%` → `%25`, `/` → `%2F`, so that
/// `stories/{id}` stays one path segment and the id maps back.
pub fn story_id(uri: &str) -> String {
    uri.replace('%', "%25").replace('/', "%2F")
}

/// The ninjs `uri` of a story id made by [`story_id`].
pub fn uri_of(id: &str) -> String {
    id.replace("%2F", "/").replace("%25", "%")
}

fn field<'a>(doc: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| doc.get(*n))
        .filter(|v| !v.is_null())
}

fn string(
    doc: &Map<String, Value>,
    names: &[&str],
    label: &'static str,
) -> Result<Option<String>, NinjsError> {
    match field(doc, names) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(NinjsError::Field {
            field: label,
            reason: format!("must be a string, got {other}"),
        }),
    }
}

fn time(
    doc: &Map<String, Value>,
    names: &[&str],
    label: &'static str,
) -> Result<Option<SystemTime>, NinjsError> {
    let Some(text) = string(doc, names, label)? else {
        return Ok(None);
    };
    let timestamp: prost_types::Timestamp = text.parse().map_err(|e| NinjsError::Field {
        field: label,
        reason: format!("{text:?} is not an RFC 3339 time: {e}"),
    })?;
    SystemTime::try_from(timestamp)
        .ok()
        .filter(|t| *t >= SystemTime::UNIX_EPOCH)
        .map(Some)
        .ok_or_else(|| NinjsError::Field {
            field: label,
            reason: format!("{text:?} must be 1970 or later"),
        })
}

/// The `value` of the entry of a `headlines`/`bodies` array that `pick`
/// prefers (lower is better; `None` never), with its content type.
fn pick_entry(
    doc: &Map<String, Value>,
    name: &'static str,
    pick: impl Fn(&str, &str) -> Option<u8>,
) -> Result<Option<(String, String)>, NinjsError> {
    let Some(list) = field(doc, &[name]) else {
        return Ok(None);
    };
    let Value::Array(entries) = list else {
        return Err(NinjsError::Field {
            field: name,
            reason: "must be an array of objects".into(),
        });
    };
    let mut best: Option<(u8, String, String)> = None;
    for entry in entries {
        let Value::Object(entry) = entry else {
            return Err(NinjsError::Field {
                field: name,
                reason: "must be an array of objects".into(),
            });
        };
        let Some(Value::String(value)) = entry.get("value") else {
            continue;
        };
        let text_of = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or("");
        let content_type = match text_of("contentType") {
            "" => text_of("contenttype"),
            given => given,
        }
        .to_ascii_lowercase();
        let role = text_of("role").to_ascii_lowercase();
        if let Some(rank) = pick(&role, &content_type)
            && best.as_ref().is_none_or(|(b, _, _)| rank < *b)
        {
            best = Some((rank, value.clone(), content_type));
        }
    }
    Ok(best.map(|(_, value, content_type)| (value, content_type)))
}

/// Reads one ninjs document.
pub fn parse_item(json: &[u8]) -> Result<NinjsItem, NinjsError> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| NinjsError::NotAnObject(e.to_string()))?;
    let Value::Object(doc) = value else {
        return Err(NinjsError::NotAnObject(
            "the document is not an object".into(),
        ));
    };
    let uri = string(&doc, &["uri"], "uri")?
        .filter(|u| !u.is_empty())
        .ok_or(NinjsError::Field {
            field: "uri",
            reason: "is required".into(),
        })?;
    let version = match field(&doc, &["version"]) {
        None => None,
        Some(Value::String(v)) => v.trim().parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        Some(other) => {
            return Err(NinjsError::Field {
                field: "version",
                reason: format!("must be a string, got {other}"),
            });
        }
    };
    let canceled = string(&doc, &["pubStatus", "pubstatus"], "pubStatus")?
        .is_some_and(|s| s.eq_ignore_ascii_case("canceled"));
    let published_at = match time(
        &doc,
        &["versionCreated", "versioncreated"],
        "versionCreated",
    )? {
        Some(t) => Some(t),
        None => time(&doc, &["firstCreated", "firstcreated"], "firstCreated")?,
    };
    let title = match string(&doc, &["headline"], "headline")? {
        Some(title) => title,
        None => pick_entry(&doc, "headlines", |role, _| {
            Some(if role == "main" { 0 } else { 1 })
        })?
        .map(|(value, _)| value)
        .unwrap_or_default(),
    };
    let body = match (
        string(&doc, &["body_text"], "body_text")?,
        string(&doc, &["body_html"], "body_html")?,
    ) {
        (Some(text), _) if !text.trim().is_empty() => text,
        (_, Some(html)) if !html.trim().is_empty() => html,
        _ => pick_entry(&doc, "bodies", |role, content_type| {
            let plain = content_type.is_empty() || content_type == "text/plain";
            let markup = content_type.contains("html");
            let main = role.is_empty() || role == "main";
            match (plain, markup, main) {
                (true, _, true) => Some(0),
                (true, _, false) => Some(1),
                (_, true, true) => Some(2),
                (_, true, false) => Some(3),
                _ => None,
            }
        })?
        .map(|(value, _)| value)
        .unwrap_or_default(),
    };
    let source = match string(&doc, &["by"], "by")? {
        Some(by) => by,
        None => string(
            &doc,
            &["copyrightholder", "copyrightHolder"],
            "copyrightHolder",
        )?
        .unwrap_or_default(),
    };
    let story = Story {
        id: story_id(&uri),
        title,
        body,
        published_at,
        source,
        language: string(&doc, &["language"], "language")?.unwrap_or_default(),
    };
    Ok(NinjsItem {
        story,
        uri,
        version,
        canceled,
    })
}

/// What copydesk says of one story, as ninjs `associations`: its cluster,
/// the cluster's canonical story, the version it duplicates, and the
/// related clusters. Story ids are written back as the `uri`s they came
/// from; clusters as `copydesk:clusters/{n}`.
pub fn associations(
    cluster: &str,
    canonical: &str,
    duplicate_of: Option<&str>,
    related: &[String],
) -> Value {
    let rel = |name: &str| format!("{REL_NAMESPACE}{name}");
    let mut list = vec![
        json!({"name": "cluster", "type": "composite", "uri": format!("copydesk:{cluster}"), "rel": rel("cluster")}),
        json!({"name": "canonical", "type": "text", "uri": uri_of(canonical), "rel": rel("canonical")}),
    ];
    if let Some(of) = duplicate_of {
        list.push(
            json!({"name": "duplicate-of", "type": "text", "uri": uri_of(of), "rel": rel("duplicate-of")}),
        );
    }
    for (i, cluster) in related.iter().enumerate() {
        list.push(json!({
            "name": format!("related-{}", i + 1),
            "type": "composite",
            "uri": format!("copydesk:{cluster}"),
            "rel": rel("related"),
        }));
    }
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ninjs_3_document_with_an_html_and_a_text_body() {
        let doc = br#"{
            "uri": "http://ninjs.example.com/newsitems/harbour-1",
            "type": "text", "version": "2",
            "versionCreated": "2026-11-27T10:37:00Z",
            "by": "Jane Doe", "language": "en",
            "headlines": [{"role": "sub", "value": "Sub"}, {"role": "main", "value": "Harbour bridge closes"}],
            "bodies": [
                {"role": "richtext", "contentType": "text/html", "value": "<p>Markup.</p>"},
                {"role": "main", "contentType": "text/plain", "value": "The bridge closed."}
            ]
        }"#;
        let item = parse_item(doc).expect("parses");
        assert_eq!(
            item.story.id,
            "http:%2F%2Fninjs.example.com%2Fnewsitems%2Fharbour-1"
        );
        assert_eq!(uri_of(&item.story.id), item.uri);
        assert_eq!(item.version, Some(2));
        assert_eq!(item.story.title, "Harbour bridge closes");
        assert_eq!(item.story.body, "The bridge closed.");
        assert_eq!(item.story.source, "Jane Doe");
        assert!(item.story.published_at.is_some());
        assert!(!item.canceled);
        crate::story::validate_story_id(&item.story.id).expect("a valid id");
    }

    #[test]
    fn ninjs_1_and_2_spellings_and_a_canceled_item() {
        let v1 = br#"{"uri": "urn:x:1", "headline": "H", "body_html": "<p>One.</p>", "pubstatus": "canceled", "versioncreated": "2026-11-27T10:00:00+01:00"}"#;
        let item = parse_item(v1).expect("parses");
        assert_eq!(
            (item.story.title.as_str(), item.story.body.as_str()),
            ("H", "<p>One.</p>")
        );
        assert!(item.canceled);
        let v2 = br#"{"uri": "urn:x:2", "bodies": [{"contenttype": "text/html", "value": "<p>Two.</p>"}], "pubstatus": "usable", "firstcreated": "2026-11-27T09:00:00Z"}"#;
        let item = parse_item(v2).expect("parses");
        assert_eq!(item.story.body, "<p>Two.</p>");
        assert!(!item.canceled && item.story.published_at.is_some());
    }

    #[test]
    fn bad_documents_name_the_field() {
        for (doc, field) in [
            (&br#"{"headline": "no uri"}"#[..], "uri"),
            (
                br#"{"uri": "u", "versionCreated": "yesterday"}"#,
                "versionCreated",
            ),
            (br#"{"uri": "u", "headlines": "H"}"#, "headlines"),
            (br#"{"uri": 5}"#, "uri"),
        ] {
            match parse_item(doc) {
                Err(NinjsError::Field { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            parse_item(b"[1]"),
            Err(NinjsError::NotAnObject(_))
        ));
    }

    #[test]
    fn ids_map_back_to_their_uris() {
        for uri in ["http://a.b/c%2Fd/e", "urn:newsml:x:1", "%", "/"] {
            assert_eq!(uri_of(&story_id(uri)), uri);
            assert!(!story_id(uri).contains('/'));
        }
    }
}

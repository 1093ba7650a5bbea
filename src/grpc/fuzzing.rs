//! Entry points for the fuzz targets under `fuzz/`, not an API: each runs
//! a request conversion on arbitrary input and asserts what the
//! conversion promises, so that a fuzzer finds any input that breaks it.

use prost::Message;

use super::convert::{self, IdRule, Limits};
use super::proto;
use crate::story::validate_story_id;

/// Limits small enough for a fuzzer to cross them.
const LIMITS: Limits = Limits {
    max_body_bytes: 4096,
};

/// Decodes `bytes` as the three requests that carry a story and validates
/// each: it never panics, and a story it accepts has a valid id (when one
/// is required), a body within the limit, and survives the trip back to
/// the wire unchanged.
pub fn story_requests(bytes: &[u8]) {
    if let Ok(request) = proto::IngestStoryRequest::decode(bytes)
        && let Ok(story) = convert::story(request.story, "story", IdRule::Required, LIMITS)
    {
        assert!(validate_story_id(&story.id).is_ok(), "{:?}", story.id);
        assert!(story.body.len() <= LIMITS.max_body_bytes);
        let again = convert::story(
            Some(convert::story_message(story.clone())),
            "story",
            IdRule::Required,
            LIMITS,
        )
        .expect("an accepted story is accepted again");
        assert_eq!(again, story);
    }
    if let Ok(request) = proto::FindDuplicatesRequest::decode(bytes) {
        if let Ok(story) = convert::story(request.story, "story", IdRule::Optional, LIMITS) {
            assert!(story.id.is_empty() || validate_story_id(&story.id).is_ok());
        }
        let _ = convert::max_matches(request.max_matches);
    }
    if let Ok(request) = proto::SummarizeRequest::decode(bytes) {
        let _ = convert::summarize_request(request, LIMITS);
    }
}

/// Parses `name` as a story and a cluster resource name and a page token:
/// one resource, one name (AIP-122), so whatever parses prints back as
/// the same name.
pub fn resource_names(name: &str) {
    if let Ok(id) = convert::story_name(name, "name") {
        assert_eq!(convert::story_resource(&id), name);
    }
    if let Ok(id) = convert::cluster_name(name, "name") {
        assert_eq!(convert::cluster_resource(id), name);
    }
    if let Ok(Some(before)) = convert::page_token(name) {
        assert_eq!(convert::next_page_token(Some(before)), name);
    }
}

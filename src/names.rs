//! Resource names (AIP-122): `stories/{id}` and `clusters/{number}`,
//! written and read in one place for the API, the CLI's lines and the
//! editor's page.

use crate::dedup::ClusterId;
use crate::story::{StoryIdError, validate_story_id};

/// Why a resource name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not `stories/{id}`.
    #[error("must be of the form stories/{{id}}")]
    NotAStory,
    /// `stories/{id}` with an id that is not valid.
    #[error("story id {0}")]
    StoryId(StoryIdError),
    /// Not `clusters/{number}` as copydesk writes it.
    #[error("must be of the form clusters/{{number}}, the number without sign or leading zeros")]
    NotACluster,
}

/// `stories/{id}`.
pub fn story(id: &str) -> String {
    format!("stories/{id}")
}

/// `clusters/{id}`.
pub fn cluster(id: ClusterId) -> String {
    format!("clusters/{id}")
}

/// `stories/{id}` → id, the id checked.
pub fn parse_story(name: &str) -> Result<&str, NameError> {
    let id = name.strip_prefix("stories/").ok_or(NameError::NotAStory)?;
    validate_story_id(id).map_err(NameError::StoryId)?;
    Ok(id)
}

/// `clusters/{number}` → number. One resource, one name: the number as
/// copydesk writes it, so `clusters/+1` and `clusters/01` are not other
/// names of `clusters/1`.
pub fn parse_cluster(name: &str) -> Result<ClusterId, NameError> {
    name.strip_prefix("clusters/")
        .and_then(|id| id.parse::<ClusterId>().ok().filter(|n| n.to_string() == id))
        .ok_or(NameError::NotACluster)
}

/// The id in a story name the server wrote, or the text as it is (the
/// CLI's lines give ids, not names).
pub fn story_id_of(name: &str) -> &str {
    name.strip_prefix("stories/").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_one_resource_has_one_name() {
        assert_eq!(parse_story(&story("reuters-1")), Ok("reuters-1"));
        assert_eq!(parse_cluster(&cluster(42)), Ok(42));
        for other in [
            "clusters/01",
            "clusters/+1",
            "clusters/",
            "clusters/4 2",
            "42",
        ] {
            assert_eq!(parse_cluster(other), Err(NameError::NotACluster), "{other}");
        }
        assert_eq!(parse_story("story/x"), Err(NameError::NotAStory));
        assert!(matches!(
            parse_story("stories/"),
            Err(NameError::StoryId(_))
        ));
        assert_eq!(story_id_of("stories/a"), "a");
        assert_eq!(story_id_of("a"), "a");
    }
}

//! The real server on 127.0.0.1:0, called through the generated clients.

mod common;

use common::{TestServer, ingest, story, texts, violated_fields};
use copydesk::grpc::ServerConfig;
use copydesk::grpc::proto::{
    self, DeleteStoryRequest, FindDuplicatesRequest, GetClusterRequest, GetStoryRequest,
    IngestOutcome, IngestStoriesRequest, IngestStoryRequest, ListClustersRequest, Relation,
    SummarizeRequest, ingest_stories_response, summarize_request::Budget,
};
use tonic::Code;

#[tokio::test]
async fn summarize_returns_sentences_in_story_order_with_offsets() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.summary().await;
    let body = texts::geneva_full();
    let response = client
        .summarize(SummarizeRequest {
            story: Some(story("", texts::GENEVA_TITLE, &body)),
            budget: None,
        })
        .await
        .expect("summarize")
        .into_inner();
    assert_eq!(response.sentences.len(), 3);
    assert!(response.story_sentences >= 8);
    let mut last_index = None;
    for s in &response.sentences {
        assert_eq!(&body[s.start as usize..s.end as usize], s.text);
        assert!(last_index < Some(s.index));
        last_index = Some(s.index);
        assert!(s.score > 0.0);
        let parts = s.parts.as_ref().expect("score parts");
        assert!(parts.form > 0.0 && parts.form <= 1.0);
        assert!(parts.position > 0.0 && parts.position <= 1.0);
        assert!((0.0..=1.0).contains(&parts.centrality));
    }
    assert_eq!(
        response.sentences[0].parts.as_ref().map(|p| p.position),
        Some(1.0)
    );
    assert!(
        response.sentences[0]
            .parts
            .as_ref()
            .is_some_and(|p| p.title > 0.0),
        "the headline overlaps the lede"
    );
    assert!(response.summary.starts_with(&response.sentences[0].text));

    let by_words = client
        .summarize(SummarizeRequest {
            story: Some(story("", "", &body)),
            budget: Some(Budget::MaxWords(60)),
        })
        .await
        .expect("summarize by words")
        .into_inner();
    assert!(by_words.summary_words <= 60 && by_words.summary_words > 0);
    server.stop().await;
}

/// An HTML body: summarized and matched by its text, each sentence's
/// offsets pointing into the markup as sent.
#[tokio::test]
async fn an_html_body_is_read_as_text_with_offsets_into_the_markup() {
    let server = TestServer::start(ServerConfig::default()).await;
    let plain = texts::geneva_full();
    let paragraphs: Vec<&str> = plain.split("\n\n").collect();
    assert!(paragraphs.len() > 3);
    let html: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", p.replacen(" talks", " <em>talks</em>", 1)))
        .collect();
    let mut summary = server.summary().await;
    let response = summary
        .summarize(SummarizeRequest {
            story: Some(story("", texts::GENEVA_TITLE, &html)),
            budget: None,
        })
        .await
        .expect("summarize")
        .into_inner();
    assert_eq!(response.sentences.len(), 3);
    for s in &response.sentences {
        assert!(!s.text.contains('<'), "{s:?}");
        let source = &html[s.start as usize..s.end as usize];
        assert!(
            !source.starts_with('<') && !source.ends_with('>'),
            "{source}"
        );
        let without_tags = source.replace("<em>", "").replace("</em>", "");
        assert_eq!(without_tags, s.text);
    }
    // The markup version of the story is a version of the plain one.
    let mut dedup = server.dedup().await;
    let first = ingest(&mut dedup, "plain", texts::GENEVA_TITLE, &plain).await;
    let marked = ingest(&mut dedup, "html", texts::GENEVA_TITLE, &html).await;
    assert_eq!(marked.cluster, first.cluster);
    assert_eq!(marked.duplicate_of, "stories/plain");
    server.stop().await;
}

#[tokio::test]
async fn summarize_rejects_bad_input_naming_the_field() {
    let config = ServerConfig {
        max_body_bytes: 1_000,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config).await;
    let mut client = server.summary().await;
    let cases = [
        (
            SummarizeRequest {
                story: None,
                budget: None,
            },
            "story",
        ),
        (
            SummarizeRequest {
                story: Some(story("", "", "   ")),
                budget: None,
            },
            "story.body",
        ),
        (
            SummarizeRequest {
                story: Some(story("", "", &texts::geneva_full())),
                budget: None,
            },
            "story.body",
        ),
        (
            SummarizeRequest {
                story: Some(story("", "", "Text.")),
                budget: Some(Budget::MaxSentences(0)),
            },
            "max_sentences",
        ),
        (
            SummarizeRequest {
                story: Some(story("", "", "Text.")),
                budget: Some(Budget::MaxWords(0)),
            },
            "max_words",
        ),
        (
            SummarizeRequest {
                story: Some(story("", "", "Text.")),
                budget: Some(Budget::Ratio(1.5)),
            },
            "ratio",
        ),
    ];
    for (request, field) in cases {
        let status = client.summarize(request).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert_eq!(violated_fields(&status), [field]);
    }
    server.stop().await;
}

/// The seed case: three versions of the Geneva story fold into one cluster
/// with one canonical story; the unrelated story stays alone.
#[tokio::test]
async fn geneva_versions_fold_into_one_cluster() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;

    let trimmed = ingest(
        &mut client,
        "paper-trimmed",
        texts::GENEVA_TITLE,
        &texts::geneva_trimmed(),
    )
    .await;
    assert!(!trimmed.duplicate);
    assert_eq!(trimmed.outcome, IngestOutcome::Created as i32);
    let full = ingest(
        &mut client,
        "reuters-full",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;
    let restyled = ingest(
        &mut client,
        "ap-restyled",
        &format!("UPDATE 1-{}", texts::GENEVA_TITLE),
        &texts::geneva_restyled(),
    )
    .await;
    let council = ingest(&mut client, "council", texts::COUNCIL_TITLE, texts::COUNCIL).await;

    assert_eq!(full.cluster, trimmed.cluster);
    assert_eq!(restyled.cluster, trimmed.cluster);
    assert!(full.duplicate && restyled.duplicate);
    assert_eq!(full.duplicate_of, "stories/paper-trimmed");
    let similarity = restyled.similarity.expect("similarity of a duplicate");
    assert!(similarity.containment > 0.9, "{similarity:?}");
    assert_eq!(
        restyled.canonical_story, "stories/reuters-full",
        "the most complete version"
    );
    assert_eq!(restyled.cluster_size, 3);

    assert_ne!(council.cluster, trimmed.cluster);
    assert!(!council.duplicate);
    assert_eq!(council.cluster_size, 1);
    assert!(council.related_clusters.is_empty());

    let cluster = get_cluster(&mut client, trimmed.cluster.clone()).await;
    assert_eq!(cluster.canonical_story, "stories/reuters-full");
    assert_eq!(cluster.canonical_reason, "longest");
    assert_eq!(cluster.members.len(), 3);
    assert_eq!(cluster.members[0].story, "stories/reuters-full");
    let canonical = cluster.canonical.expect("canonical story");
    assert_eq!(canonical.body, texts::geneva_full());
    let summary = cluster.summary.expect("summary");
    assert_eq!(summary.sentences.len(), 3);
    for member in &cluster.members[1..] {
        let s = member.similarity_to_canonical.as_ref().expect("similarity");
        assert!(s.containment > 0.9, "{member:?}");
    }
    server.stop().await;
}

/// Scraped copy often carries page furniture where its headline should be
/// and the real headline as its text's first line: the cluster's headline
/// is the one a feed can show.
#[tokio::test]
async fn a_cluster_shows_the_headline_that_belongs_to_its_story() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let scraped = format!(
        "Share this story\n\n{}\n\nPosted 9:58 AM\n\n{}",
        texts::GENEVA_TITLE,
        texts::geneva_full()
    );
    let first = ingest(
        &mut client,
        "scraped",
        "Enter City and State or Zip Code",
        &scraped,
    )
    .await;
    let cluster = get_cluster(&mut client, first.cluster.clone()).await;
    assert_eq!(cluster.canonical_headline, texts::GENEVA_TITLE);
    // A version under its own headline is preferred to the longer page
    // whose title is furniture.
    let titled = ingest(
        &mut client,
        "titled",
        "Geneva talks end without a deal",
        &texts::geneva_trimmed(),
    )
    .await;
    assert_eq!(titled.cluster, first.cluster);
    let cluster = get_cluster(&mut client, first.cluster.clone()).await;
    assert_eq!(cluster.canonical_story, "stories/titled");
    assert_eq!(
        cluster.canonical_headline,
        "Geneva talks end without a deal"
    );
    server.stop().await;
}

/// A widget line the index has learned under several stories is left out
/// of a cluster's summary.
#[tokio::test]
async fn a_cluster_summary_leaves_out_learned_furniture() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let widget = "Your weather is set to Lakeside, and the forecast is ready for you now!";
    let bodies = [
        texts::geneva_full(),
        texts::COUNCIL.to_owned(),
        common::chain::text(1, &[0, 1, 2]),
        common::chain::text(2, &[0, 1, 2]),
    ];
    let mut first = None;
    for (i, body) in bodies.iter().enumerate() {
        let page = format!("{widget}\n\n{body}");
        let answer = ingest(&mut client, &format!("page{i}"), "", &page).await;
        first.get_or_insert(answer.cluster);
    }
    let cluster = get_cluster(&mut client, first.expect("ingested")).await;
    let summary = cluster.summary.expect("summary");
    assert_eq!(summary.sentences.len(), 3);
    assert!(
        summary.sentences.iter().all(|s| s.text != widget),
        "{summary:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn follow_up_is_related_not_same() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    // Both are Reuters copy and share the background: without publication
    // times one agency's copy over a third of an earlier version's text is
    // taken for a re-top of it (tests/versions.rs); Monday's talks and
    // Wednesday's follow-up carry their times.
    let first = ingest_story(&mut client, published("geneva", &texts::geneva_full(), 0)).await;
    let follow_up = ingest_story(
        &mut client,
        proto::Story {
            title: "NATO rejects Russian demands, offers arms talks".into(),
            ..published("brussels", &texts::geneva_follow_up(), 50)
        },
    )
    .await;
    assert_ne!(follow_up.cluster, first.cluster);
    assert!(!follow_up.duplicate);
    assert_eq!(
        follow_up.related_clusters,
        std::slice::from_ref(&first.cluster)
    );
    assert_eq!(follow_up.matches[0].relation, Relation::Related as i32);

    let first_cluster = get_cluster(&mut client, first.cluster.clone()).await;
    assert_eq!(
        first_cluster.related_clusters,
        [follow_up.cluster],
        "links go both ways"
    );
    server.stop().await;
}

/// GetCluster, which must succeed.
async fn get_cluster(
    client: &mut proto::dedup_service_client::DedupServiceClient<tonic::transport::Channel>,
    name: String,
) -> proto::Cluster {
    client
        .get_cluster(GetClusterRequest { name })
        .await
        .expect("get cluster")
        .into_inner()
}

/// A story published at `hours` after a fixed start.
fn published(id: &str, body: &str, hours: i64) -> proto::Story {
    proto::Story {
        published_at: Some(prost_types::Timestamp {
            seconds: 1_790_000_000 + hours * 3600,
            nanos: 0,
        }),
        ..story(id, texts::GENEVA_TITLE, body)
    }
}

async fn ingest_story(
    client: &mut proto::dedup_service_client::DedupServiceClient<tonic::transport::Channel>,
    story: proto::Story,
) -> proto::IngestStoryResponse {
    client
        .ingest_story(proto::IngestStoryRequest { story: Some(story) })
        .await
        .expect("ingest")
        .into_inner()
}

#[tokio::test]
async fn a_version_published_days_later_is_a_second_day_story() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let first = ingest_story(&mut client, published("monday", &texts::geneva_full(), 0)).await;
    // A trimmed version the same afternoon folds in.
    let same_day = ingest_story(
        &mut client,
        published("monday-pm", &texts::geneva_trimmed(), 5),
    )
    .await;
    assert!(same_day.duplicate, "{same_day:?}");
    assert_eq!(same_day.cluster, first.cluster);
    let hours = same_day.similarity.as_ref().and_then(|s| s.hours_apart);
    assert_eq!(hours, Some(5.0));
    // Another outlet's version of the same text three days on is a
    // second-day story: linked, not folded.
    let later = ingest_story(
        &mut client,
        published("thursday", &texts::geneva_restyled(), 72),
    )
    .await;
    assert!(!later.duplicate, "{later:?}");
    assert_ne!(later.cluster, first.cluster);
    assert_eq!(later.related_clusters, std::slice::from_ref(&first.cluster));
    for m in &later.matches {
        assert_eq!(m.relation, Relation::Related as i32, "{m:?}");
        let hours = m.similarity.as_ref().and_then(|s| s.hours_apart);
        assert!(matches!(hours, Some(67.0) | Some(72.0)), "{hours:?}");
    }
    // Without publication times there is no time figure, and text decides.
    let undated = ingest(
        &mut client,
        "undated",
        texts::GENEVA_TITLE,
        &texts::geneva_trimmed(),
    )
    .await;
    assert!(undated.duplicate, "{undated:?}");
    assert_eq!(undated.similarity.and_then(|s| s.hours_apart), None);
    server.stop().await;

    // A desk that keeps versions together for a week sets the window.
    let week = copydesk::store::MemoryStore::new(copydesk::dedup::IndexConfig {
        follow_up_after: std::time::Duration::from_secs(7 * 24 * 3600),
        ..Default::default()
    });
    let server =
        TestServer::start_with_store(ServerConfig::default(), std::sync::Arc::new(week)).await;
    let mut client = server.dedup().await;
    let first = ingest_story(&mut client, published("monday", &texts::geneva_full(), 0)).await;
    let later = ingest_story(
        &mut client,
        published("thursday", &texts::geneva_restyled(), 72),
    )
    .await;
    assert!(later.duplicate, "{later:?}");
    assert_eq!(later.cluster, first.cluster);
    server.stop().await;
}

#[tokio::test]
async fn ingest_is_idempotent_and_a_new_text_replaces() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let first = ingest(
        &mut client,
        "story-1",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;
    let again = ingest(
        &mut client,
        "story-1",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;
    assert_eq!(again.outcome, IngestOutcome::Unchanged as i32);
    assert_eq!(
        (again.cluster.as_str(), again.cluster_size),
        (first.cluster.as_str(), 1)
    );

    let replaced = ingest(&mut client, "story-1", texts::COUNCIL_TITLE, texts::COUNCIL).await;
    assert_eq!(replaced.outcome, IngestOutcome::Replaced as i32);
    let stored = client
        .get_story(GetStoryRequest {
            name: "stories/story-1".into(),
        })
        .await
        .expect("get story")
        .into_inner();
    assert_eq!(stored.body, texts::COUNCIL);
    assert_eq!(stored.cluster, replaced.cluster);
    let clusters = client
        .list_clusters(ListClustersRequest {
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        clusters.clusters.len(),
        1,
        "no second copy, no orphan cluster"
    );
    server.stop().await;
}

#[tokio::test]
async fn get_and_delete_story_reelects_the_canonical() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    ingest(&mut client, "trimmed", "", &texts::geneva_trimmed()).await;
    let full = ingest(&mut client, "full", "", &texts::geneva_full()).await;
    assert_eq!(full.canonical_story, "stories/full");

    let stored = client
        .get_story(GetStoryRequest {
            name: "stories/full".into(),
        })
        .await
        .expect("get story")
        .into_inner();
    assert_eq!(
        (stored.name.as_str(), stored.id.as_str()),
        ("stories/full", "full")
    );
    assert_eq!(stored.cluster, full.cluster);
    assert!(stored.ingest_time.is_some());

    client
        .delete_story(DeleteStoryRequest {
            name: "stories/full".into(),
        })
        .await
        .expect("delete");
    let status = client
        .get_story(GetStoryRequest {
            name: "stories/full".into(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(status.code(), Code::NotFound);
    let cluster = client
        .get_cluster(GetClusterRequest {
            name: full.cluster.clone(),
        })
        .await
        .expect("cluster survives")
        .into_inner();
    assert_eq!(cluster.canonical_story, "stories/trimmed");

    client
        .delete_story(DeleteStoryRequest {
            name: "stories/trimmed".into(),
        })
        .await
        .expect("delete last member");
    let status = client
        .get_cluster(GetClusterRequest { name: full.cluster })
        .await
        .expect_err("empty cluster is gone");
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .delete_story(DeleteStoryRequest {
            name: "stories/trimmed".into(),
        })
        .await
        .expect_err("already deleted");
    assert_eq!(status.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn find_duplicates_matches_without_storing() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let stored = ingest(&mut client, "full", "", &texts::geneva_full()).await;
    let found = client
        .find_duplicates(FindDuplicatesRequest {
            story: Some(story("probe", "", &texts::geneva_restyled())),
            max_matches: 0,
        })
        .await
        .expect("find")
        .into_inner();
    assert!(found.duplicate);
    assert_eq!(found.duplicate_of, "stories/full");
    assert_eq!(found.cluster, stored.cluster);
    assert_eq!(found.matches[0].relation, Relation::Same as i32);

    let unrelated = client
        .find_duplicates(FindDuplicatesRequest {
            story: Some(story("", "", texts::COUNCIL)),
            max_matches: 5,
        })
        .await
        .expect("find unrelated")
        .into_inner();
    assert!(!unrelated.duplicate && unrelated.cluster.is_empty() && unrelated.matches.is_empty());

    let status = client
        .get_story(GetStoryRequest {
            name: "stories/probe".into(),
        })
        .await
        .expect_err("nothing stored");
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .find_duplicates(FindDuplicatesRequest {
            story: Some(story("", "", "x")),
            max_matches: 1000,
        })
        .await
        .expect_err("too many matches asked");
    assert_eq!(violated_fields(&status), ["max_matches"]);
    server.stop().await;
}

#[tokio::test]
async fn list_clusters_pages_newest_first() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let geneva = ingest(&mut client, "geneva", "", &texts::geneva_full()).await;
    let council = ingest(&mut client, "council", "", texts::COUNCIL).await;

    let first = client
        .list_clusters(ListClustersRequest {
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.clusters.len(), 1);
    assert_eq!(first.clusters[0].name, council.cluster);
    assert!(
        first.clusters[0]
            .canonical
            .as_ref()
            .is_some_and(|c| c.body.is_empty())
    );
    assert!(!first.next_page_token.is_empty());

    let second = client
        .list_clusters(ListClustersRequest {
            page_size: 1,
            page_token: first.next_page_token,
        })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.clusters[0].name, geneva.cluster);
    assert!(second.next_page_token.is_empty());

    for (request, field) in [
        (
            ListClustersRequest {
                page_size: -1,
                page_token: String::new(),
            },
            "page_size",
        ),
        (
            ListClustersRequest {
                page_size: 1,
                page_token: "bogus".into(),
            },
            "page_token",
        ),
    ] {
        let status = client.list_clusters(request).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&status), [field]);
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_names_and_stories_are_invalid_arguments() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let status = client
        .ingest_story(IngestStoryRequest {
            story: Some(story("", "", "")),
        })
        .await
        .expect_err("no id, no body");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["story.id", "story.body"]);

    let status = client
        .ingest_story(IngestStoryRequest {
            story: Some(story("a/b", "", "Text.")),
        })
        .await
        .expect_err("slash in id");
    assert_eq!(violated_fields(&status), ["story.id"]);

    let status = client
        .ingest_story(IngestStoryRequest { story: None })
        .await
        .expect_err("no story");
    assert_eq!(violated_fields(&status), ["story"]);

    let status = client
        .get_story(GetStoryRequest {
            name: "full".into(),
        })
        .await
        .expect_err("not a resource name");
    assert_eq!(violated_fields(&status), ["name"]);
    let status = client
        .get_cluster(GetClusterRequest {
            name: "clusters/abc".into(),
        })
        .await
        .expect_err("not a cluster number");
    assert_eq!(violated_fields(&status), ["name"]);
    let status = client
        .get_cluster(GetClusterRequest {
            name: "clusters/999".into(),
        })
        .await
        .expect_err("no such cluster");
    assert_eq!(status.code(), Code::NotFound);

    // One resource, one name: clusters/1 exists, and no other spelling of
    // its number reaches it.
    let cluster = common::ingest(&mut client, "one", "", "Talks opened in Geneva.")
        .await
        .cluster;
    assert_eq!(cluster, "clusters/1");
    for other_name in ["clusters/+1", "clusters/01", "clusters/ 1"] {
        let status = client
            .get_cluster(GetClusterRequest {
                name: other_name.into(),
            })
            .await
            .expect_err(other_name);
        assert_eq!(violated_fields(&status), ["name"], "{other_name}");
    }

    // An id that displays as another id is refused like a control
    // character: a right-to-left override, a zero-width space.
    for id in ["story-\u{202E}1-yrots", "story\u{200B}-1"] {
        let status = client
            .ingest_story(IngestStoryRequest {
                story: Some(story(id, "", "Text.")),
            })
            .await
            .expect_err(id);
        assert_eq!(violated_fields(&status), ["story.id"], "{id:?}");
        let status = client
            .get_story(GetStoryRequest {
                name: format!("stories/{id}"),
            })
            .await
            .expect_err(id);
        assert_eq!(violated_fields(&status), ["name"], "{id:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn ingest_stories_streams_in_order_and_survives_a_bad_item() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let requests = vec![
        IngestStoriesRequest {
            story: Some(story("one", "", &texts::geneva_full())),
        },
        IngestStoriesRequest {
            story: Some(story("two", "", "   ")),
        },
        IngestStoriesRequest {
            story: Some(story("three", "", &texts::geneva_trimmed())),
        },
        IngestStoriesRequest {
            story: Some(story("four", "", texts::COUNCIL)),
        },
    ];
    let mut responses = client
        .ingest_stories(tokio_stream::iter(requests))
        .await
        .expect("stream")
        .into_inner();
    let mut seen = Vec::new();
    while let Some(response) = responses.message().await.expect("response") {
        seen.push(response);
    }
    assert_eq!(seen.len(), 4);
    for (i, r) in seen.iter().enumerate() {
        assert_eq!(r.sequence, i as u64);
    }
    assert_eq!(seen[1].story_id, "two");
    let Some(ingest_stories_response::Result::Error(error)) = &seen[1].result else {
        panic!("the bad item carries an error: {:?}", seen[1]);
    };
    assert_eq!(error.code, Code::InvalidArgument as i32);
    assert!(error.message.contains("story.body"), "{}", error.message);
    assert_eq!(error.details.len(), 1, "BadRequest detail");

    let cluster_of = |r: &proto::IngestStoriesResponse| match &r.result {
        Some(ingest_stories_response::Result::Ingested(i)) => i.cluster.clone(),
        other => panic!("expected an ingested item, got {other:?}"),
    };
    assert_eq!(cluster_of(&seen[0]), cluster_of(&seen[2]));
    assert_ne!(cluster_of(&seen[0]), cluster_of(&seen[3]));
    server.stop().await;
}

#[tokio::test]
async fn ingest_stories_handles_many_items_with_backpressure() {
    let config = ServerConfig {
        stream_buffer: 4,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config).await;
    let mut client = server.dedup().await;
    let total = 300;
    let requests = (0..total).map(|i| IngestStoriesRequest {
        story: Some(story(
            &format!("s{i}"),
            "",
            &format!("{} Item {i}.", texts::COUNCIL),
        )),
    });
    let mut responses = client
        .ingest_stories(tokio_stream::iter(requests))
        .await
        .expect("stream")
        .into_inner();
    let mut count = 0;
    while let Some(response) = responses.message().await.expect("response") {
        assert_eq!(response.sequence, count);
        assert!(matches!(
            response.result,
            Some(ingest_stories_response::Result::Ingested(_))
        ));
        count += 1;
    }
    assert_eq!(count, total);
    server.stop().await;
}

#[tokio::test]
async fn health_reports_each_service() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let server = TestServer::start(ServerConfig::default()).await;
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", "copydesk.v1.SummaryService", "copydesk.v1.DedupService"] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|s| panic!("{service}: {s:?}"))
            .into_inner();
        assert_eq!(response.status, ServingStatus::Serving as i32, "{service}");
    }
    let status = health
        .check(HealthCheckRequest {
            service: "nope.Service".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(status.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn reflection_lists_services_in_v1_and_v1alpha() {
    use tonic_reflection::pb::{v1, v1alpha};
    let server = TestServer::start(ServerConfig::default()).await;
    let expected = [
        "copydesk.v1.DedupService",
        "copydesk.v1.SummaryService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ];

    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(server.channel().await);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("message")
        .expect("a response");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for name in expected {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }

    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(server.channel().await);
    let requests = [
        v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        },
        // grpcurl needs the error-detail types to print BadRequest.
        v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                    "google.rpc.BadRequest".into(),
                ),
            ),
        },
    ];
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("reflection v1alpha")
        .into_inner();
    let first = stream
        .message()
        .await
        .expect("message")
        .expect("list answer");
    assert!(matches!(
        first.message_response,
        Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(_))
    ));
    let second = stream
        .message()
        .await
        .expect("message")
        .expect("symbol answer");
    assert!(
        matches!(
            second.message_response,
            Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
        ),
        "{second:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_returns_and_closes_the_port() {
    let server = TestServer::start(ServerConfig::default()).await;
    let address = server.address;
    let mut client = server.summary().await;
    client
        .summarize(SummarizeRequest {
            story: Some(story("", "", "One sentence.")),
            budget: None,
        })
        .await
        .expect("served before shutdown");
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn the_agency_the_copy_names_comes_back() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let body = "GENEVA (Reuters) - Russian and U.S. diplomats ended talks on European security in Geneva on Monday without a breakthrough.\n\nMoscow wants NATO to rule out further expansion.";
    let answer = ingest(&mut client, "reuters-1", "Talks end", body).await;
    assert_eq!(answer.agency, "Reuters");
    let stored = client
        .get_story(GetStoryRequest {
            name: "stories/reuters-1".into(),
        })
        .await
        .expect("get story")
        .into_inner();
    assert_eq!(stored.agency, "Reuters");
    let plain = ingest(
        &mut client,
        "council-1",
        texts::COUNCIL_TITLE,
        texts::COUNCIL,
    )
    .await;
    assert_eq!(plain.agency, "");
    server.stop().await;
}

/// Sends bytes as they are, as a careless or hostile client would.
#[derive(Debug, Default, Clone)]
struct RawBytesCodec;

#[derive(Debug, Default, Clone)]
struct RawBytesEncoder;

impl tonic::codec::Encoder for RawBytesEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        buf.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Codec for RawBytesCodec {
    type Encode = Vec<u8>;
    type Decode = proto::IngestStoryResponse;
    type Encoder = RawBytesEncoder;
    type Decoder = tonic_prost::ProstDecoder<proto::IngestStoryResponse>;

    fn encoder(&mut self) -> Self::Encoder {
        RawBytesEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

#[tokio::test]
async fn a_request_that_does_not_decode_is_the_clients_fault() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    // IngestStoryRequest { story: Story { id: "a\xff" } }: invalid UTF-8
    // in a string field; then bytes that are no protobuf at all.
    let invalid_utf8 = vec![0x0a, 0x04, 0x12, 0x02, b'a', 0xff];
    let garbage = vec![0xff, 0xff, 0xff, 0xff];
    for bytes in [invalid_utf8, garbage] {
        grpc.ready().await.expect("ready");
        let status = grpc
            .unary(
                tonic::Request::new(bytes.clone()),
                "/copydesk.v1.DedupService/IngestStory"
                    .parse()
                    .expect("path"),
                RawBytesCodec,
            )
            .await
            .expect_err("undecodable");
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{bytes:?}: {status:?}"
        );
        assert!(
            status.message().contains("does not decode"),
            "{}",
            status.message()
        );
    }
    // The server is fine afterwards.
    let mut client = server.dedup().await;
    ingest(&mut client, "after", "", "Talks opened in Geneva.").await;
    server.stop().await;
}

#[tokio::test]
async fn an_ingest_answer_lists_the_strongest_matches_and_counts_them_all() {
    let server = TestServer::start(ServerConfig::default()).await;
    let mut client = server.dedup().await;
    let copies = 14;
    let mut last = None;
    for site in 0..copies {
        last = Some(
            ingest(
                &mut client,
                &format!("site-{site}"),
                "",
                &texts::geneva_full(),
            )
            .await,
        );
    }
    let last = last.expect("ingested");
    assert_eq!(last.match_count, copies - 1);
    assert_eq!(last.matches.len(), 10, "capped at the documented 10");
    assert_eq!(last.cluster_size, copies);
    server.stop().await;
}

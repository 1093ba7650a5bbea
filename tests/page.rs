//! The editor's page on the HTTP listener, read over HTTP: newest
//! clusters first, a cluster's timeline with what each version added,
//! everything a client sent shown as text, a policy that forbids script,
//! and the access tokens of the gRPC port.

mod common;

use base64::Engine;
use common::desk::{self, ADDED, HOSTILE_HEADLINE, get};
use copydesk::grpc::{AccessTokens, AuthConfig};

const WRITE_TOKEN: &str = "write-token-0123456789abcdef";

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_lists_clusters_and_shows_a_timeline() {
    let desk = desk::start(None).await;
    let http = desk.http.clone();
    let index = blocking(move || get(&http, "/", &[])).await;
    assert_eq!(index.status, 200, "{}", index.body);
    assert_eq!(
        index.header("content-security-policy"),
        Some(copydesk::page::CONTENT_SECURITY_POLICY)
    );
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let geneva_number = desk.geneva.trim_start_matches("clusters/");
    let link = format!("href=\"/clusters/{geneva_number}\"");
    assert!(index.body.contains(&link), "{}", index.body);
    // Newest first: the hostile story came last.
    let hostile_at = index
        .body
        .find("&lt;script&gt;")
        .expect("the hostile headline as text");
    assert!(hostile_at < index.body.find(&link).unwrap());
    assert!(!index.body.contains(HOSTILE_HEADLINE));
    assert!(index.body.contains("Reuters"), "the sources");

    let http = desk.http.clone();
    let path = format!("/clusters/{geneva_number}");
    let cluster = blocking(move || get(&http, &path, &[])).await;
    assert_eq!(cluster.status, 200);
    assert!(
        cluster
            .body
            .contains(&format!("<ins class=\"added\">{ADDED}</ins>")),
        "{}",
        cluster.body
    );
    assert!(cluster.body.contains("stories/geneva-2"));

    let http = desk.http.clone();
    let missing = blocking(move || get(&http, "/clusters/999", &[])).await;
    assert_eq!(missing.status, 404);
    let http = desk.http.clone();
    let css = blocking(move || get(&http, "/desk.css", &[])).await;
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    desk.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_needs_a_token_when_the_port_does() {
    let tokens = AccessTokens::parse(&format!("write {WRITE_TOKEN}\n")).expect("tokens");
    let desk = desk::start(Some(AuthConfig::new(tokens, false))).await;
    let http = desk.http.clone();
    let answers = blocking(move || {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("editor:{WRITE_TOKEN}"))
        );
        let wrong = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("editor:not-the-token-at-all")
        );
        [
            get(&http, "/", &[]),
            get(&http, "/", &[("Authorization", &wrong)]),
            get(&http, "/", &[("Authorization", &basic)]),
            get(
                &http,
                "/",
                &[("Authorization", &format!("Bearer {WRITE_TOKEN}"))],
            ),
            get(&http, "/healthz", &[]),
        ]
    })
    .await;
    assert_eq!(answers[0].status, 401);
    assert!(
        answers[0]
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(answers[1].status, 401);
    assert_eq!(answers[2].status, 200, "{}", answers[2].body);
    assert_eq!(answers[3].status, 200);
    assert_eq!(answers[4].status, 200, "the probes stay open");
    desk.server.stop().await;
}

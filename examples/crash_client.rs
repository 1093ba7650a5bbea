//! The client half of `scripts/crash_test.sh`.
//!
//! `stream ADDRESS CORPUS ACKS`: streams the corpus (JSON Lines with `id`
//! and `text`) through IngestStories and appends `id cluster` to ACKS for
//! every answer received, flushed at once, until the stream ends or the
//! server dies.
//!
//! `verify ADDRESS ACKS`: waits for the server, then checks that every
//! acknowledged story is stored in the cluster it was acknowledged in.
//! Exits non-zero on the first difference.
//!
//! `stream-through-outage ADDRESS CORPUS ACKS`: as `stream`, but an item
//! the server refuses (its database restarting) is counted and the stream
//! goes on (`scripts/replica_fault_test.sh`).
//!
//! `expect-unavailable ADDRESS`: a read must be refused with UNAVAILABLE
//! (the store's database is down), not hang or fail otherwise.

use std::io::{BufRead, Write};
use std::time::Duration;

use copydesk::grpc::proto::dedup_service_client::DedupServiceClient;
use copydesk::grpc::proto::{
    GetStoryRequest, IngestStoriesRequest, Story, ingest_stories_response,
};
use tonic::transport::Channel;

type Error = Box<dyn std::error::Error>;

async fn connect(address: &str) -> Result<DedupServiceClient<Channel>, Error> {
    let uri = format!("http://{address}");
    for _ in 0..200 {
        if let Ok(channel) = Channel::from_shared(uri.clone())?.connect().await {
            return Ok(DedupServiceClient::new(channel));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no server at {address} after 20 s").into())
}

async fn stream(address: &str, corpus: &str, acks: &str, refusals_ok: bool) -> Result<(), Error> {
    let mut stories = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(corpus)?).lines() {
        let value: serde_json::Value = serde_json::from_str(&line?)?;
        stories.push(Story {
            id: value["id"].as_str().unwrap_or_default().to_owned(),
            body: value["text"].as_str().unwrap_or_default().to_owned(),
            ..Story::default()
        });
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(acks)?;
    let mut client = connect(address).await?;
    let requests = stories
        .into_iter()
        .map(|story| IngestStoriesRequest { story: Some(story) });
    let mut responses = match client.ingest_stories(tokio_stream::iter(requests)).await {
        Ok(response) => response.into_inner(),
        // Killed before the stream opened: nothing was acknowledged.
        Err(status) => {
            eprintln!("crash-client: stream did not open: {}", status.code());
            return Ok(());
        }
    };
    let mut acknowledged = 0;
    let mut refused = 0;
    loop {
        match responses.message().await {
            Ok(Some(response)) => match response.result {
                Some(ingest_stories_response::Result::Ingested(r)) => {
                    writeln!(out, "{} {}", response.story_id, r.cluster)?;
                    out.flush()?;
                    acknowledged += 1;
                }
                Some(ingest_stories_response::Result::Error(status)) if refusals_ok => {
                    if refused == 0 {
                        eprintln!("crash-client: first refusal: {status:?}");
                    }
                    refused += 1;
                }
                other => return Err(format!("item refused: {other:?}").into()),
            },
            Ok(None) => break,
            // The server was killed: what was acknowledged is on file.
            Err(status) => {
                eprintln!("crash-client: stream ended: {}", status.code());
                break;
            }
        }
    }
    eprintln!("crash-client: {acknowledged} stories acknowledged, {refused} refused");
    Ok(())
}

async fn verify(address: &str, acks: &str) -> Result<(), Error> {
    let mut client = connect(address).await?;
    let mut checked = 0;
    for line in std::io::BufReader::new(std::fs::File::open(acks)?).lines() {
        let line = line?;
        let Some((id, cluster)) = line.split_once(' ') else {
            return Err(format!("bad ack line {line:?}").into());
        };
        let stored = client
            .get_story(GetStoryRequest {
                name: format!("stories/{id}"),
            })
            .await
            .map_err(|s| format!("acknowledged story {id} is missing: {}", s.message()))?
            .into_inner();
        if stored.cluster != cluster {
            return Err(format!(
                "story {id} was acknowledged in {cluster} but is in {}",
                stored.cluster
            )
            .into());
        }
        checked += 1;
    }
    eprintln!("crash-client: all {checked} acknowledged stories present, same clusters");
    Ok(())
}

async fn expect_unavailable(address: &str) -> Result<(), Error> {
    let mut client = connect(address).await?;
    let asked = tokio::time::timeout(
        Duration::from_secs(30),
        client.get_story(GetStoryRequest {
            name: "stories/any".into(),
        }),
    )
    .await
    .map_err(|_| "a read hung for 30 s while the database was down")?;
    match asked {
        Err(status) if status.code() == tonic::Code::Unavailable => {
            eprintln!("crash-client: refused clearly: {}", status.message());
            Ok(())
        }
        other => {
            Err(format!("expected UNAVAILABLE while the database is down, got {other:?}").into())
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[1..] {
        ["stream", address, corpus, acks] => stream(address, corpus, acks, false).await,
        ["stream-through-outage", address, corpus, acks] => {
            stream(address, corpus, acks, true).await
        }
        ["expect-unavailable", address] => expect_unavailable(address).await,
        ["verify", address, acks] => verify(address, acks).await,
        _ => Err(
            "usage: crash_client stream|stream-through-outage ADDRESS CORPUS ACKS | \
                  verify ADDRESS ACKS | expect-unavailable ADDRESS"
                .into(),
        ),
    }
}

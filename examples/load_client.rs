//! The load client of `bench/durable_ingest.sh`: drives a copydesk server
//! on this machine (loopback addresses only) and reports rates.
//!
//! `stream ADDRESS CORPUS`: streams every story of CORPUS (JSON Lines with
//! `id`, `text` and optional `title`) through IngestStories and prints
//! `stories_per_s N` once every answer is in.
//!
//! `unary ADDRESS CORPUS CONCURRENCY CALLS`: makes CALLS IngestStory calls,
//! CONCURRENCY at a time, with the corpus's stories in turn (ids made
//! unique, after `LOAD_ID_PREFIX` when set: several clients into one
//! shared store), and prints `calls_per_s N p50_ms N p99_ms N`.
//!
//! `summarize ADDRESS CORPUS CONCURRENCY CALLS`: the same with Summarize
//! (`bench/tls_auth_overhead.sh`). With `COPYDESK_TLS_CA` set it speaks TLS
//! trusting that CA; with `COPYDESK_TOKEN` it sends the token.

use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use copydesk::grpc::client::{BearerToken, ClientOptions, endpoint};
use copydesk::grpc::proto::dedup_service_client::DedupServiceClient;
use copydesk::grpc::proto::summary_service_client::SummaryServiceClient;
use copydesk::grpc::proto::{
    IngestStoriesRequest, IngestStoryRequest, Story, SummarizeRequest, ingest_stories_response,
};
use tonic::transport::Channel;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Refuses anything but a loopback address: this is a bench, not a tool
/// to load someone else's server.
fn loopback(address: &str) -> Result<String, Error> {
    let parsed: SocketAddr = address
        .parse()
        .map_err(|_| format!("{address}: give IP:PORT on this machine"))?;
    if !parsed.ip().is_loopback() {
        return Err(format!("{address} is not a loopback address").into());
    }
    Ok(format!("http://{parsed}"))
}

async fn connect(address: &str) -> Result<DedupServiceClient<Channel>, Error> {
    let uri = loopback(address)?;
    for _ in 0..300 {
        if let Ok(channel) = Channel::from_shared(uri.clone())?.connect().await {
            return Ok(DedupServiceClient::new(channel)
                .max_decoding_message_size(64 * 1024 * 1024)
                .max_encoding_message_size(64 * 1024 * 1024));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no server at {address} after 30 s").into())
}

/// A Summarize client over TLS and with a token when the environment
/// says so (`COPYDESK_TLS_CA`, `COPYDESK_TOKEN`).
async fn connect_summary(
    address: &str,
) -> Result<
    SummaryServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>,
    Error,
> {
    let plain = loopback(address)?;
    let options = ClientOptions {
        tls_ca: std::env::var_os("COPYDESK_TLS_CA").map(Into::into),
        token: std::env::var("COPYDESK_TOKEN").ok(),
    };
    let url = if options.tls_ca.is_some() {
        plain.replacen("http://", "https://", 1)
    } else {
        plain
    };
    let endpoint = endpoint(&url, &options)?;
    for _ in 0..300 {
        if let Ok(channel) = endpoint.connect().await {
            let token = BearerToken::new(options.token.as_deref())?;
            return Ok(SummaryServiceClient::with_interceptor(channel, token));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no server at {url} after 30 s").into())
}

async fn summarize(
    address: &str,
    corpus: &str,
    concurrency: usize,
    calls: usize,
) -> Result<(), Error> {
    let client = connect_summary(address).await?;
    let (_, seconds) = drive(
        client,
        read_corpus(corpus)?,
        concurrency,
        calls,
        |mut client, mut story, _| async move {
            story.id.clear();
            client
                .summarize(SummarizeRequest {
                    story: Some(story),
                    budget: None,
                })
                .await?;
            Ok(())
        },
    )
    .await?;
    println!("calls_per_s {:.1}", calls as f64 / seconds);
    Ok(())
}

/// Makes `calls` calls, `concurrency` at a time, call `n` with the
/// corpus's story `n` (round the corpus); returns every call's latency and
/// the seconds the whole took.
async fn drive<C, F, Fut>(
    client: C,
    stories: Vec<Story>,
    concurrency: usize,
    calls: usize,
    call: F,
) -> Result<(Vec<Duration>, f64), Error>
where
    C: Clone + Send + 'static,
    F: Fn(C, Story, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send,
{
    if stories.is_empty() || concurrency == 0 {
        return Err("an empty corpus or a concurrency of 0".into());
    }
    let (stories, call) = (Arc::new(stories), Arc::new(call));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, stories, next, call) = (
            client.clone(),
            Arc::clone(&stories),
            Arc::clone(&next),
            Arc::clone(&call),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= calls {
                    return Ok::<_, Error>(latencies);
                }
                let story = stories[n % stories.len()].clone();
                let sent = Instant::now();
                call(client.clone(), story, n).await?;
                latencies.push(sent.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(calls);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok((latencies, started.elapsed().as_secs_f64()))
}

fn read_corpus(path: &str) -> Result<Vec<Story>, Error> {
    let mut stories = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
        let value: serde_json::Value = serde_json::from_str(&line?)?;
        let field = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
        stories.push(Story {
            id: field("id"),
            title: field("title"),
            body: field("text"),
            ..Story::default()
        });
    }
    Ok(stories)
}

async fn stream(address: &str, corpus: &str) -> Result<(), Error> {
    let stories = read_corpus(corpus)?;
    let count = stories.len();
    let mut client = connect(address).await?;
    let started = Instant::now();
    let requests = stories
        .into_iter()
        .map(|story| IngestStoriesRequest { story: Some(story) });
    let mut responses = client
        .ingest_stories(tokio_stream::iter(requests))
        .await?
        .into_inner();
    let mut answered = 0;
    while let Some(response) = responses.message().await? {
        if let Some(ingest_stories_response::Result::Error(status)) = response.result {
            return Err(format!("item {} refused: {}", response.sequence, status.message).into());
        }
        answered += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    if answered != count {
        return Err(format!("{answered} answers for {count} stories").into());
    }
    println!("stories_per_s {:.1}", count as f64 / seconds);
    Ok(())
}

async fn unary(address: &str, corpus: &str, concurrency: usize, calls: usize) -> Result<(), Error> {
    let client = connect(address).await?;
    let prefix = Arc::new(std::env::var("LOAD_ID_PREFIX").unwrap_or_default());
    let (mut latencies, seconds) = drive(
        client,
        read_corpus(corpus)?,
        concurrency,
        calls,
        move |mut client, mut story, n| {
            let prefix = Arc::clone(&prefix);
            async move {
                story.id = format!("{prefix}{}-{n}", story.id);
                client
                    .ingest_story(IngestStoryRequest { story: Some(story) })
                    .await?;
                Ok(())
            }
        },
    )
    .await?;
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies[((latencies.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
    };
    println!(
        "calls_per_s {:.1} p50_ms {:.2} p99_ms {:.2}",
        calls as f64 / seconds,
        at(0.50),
        at(0.99)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["stream", address, corpus] => stream(address, corpus).await,
        ["unary", address, corpus, concurrency, calls] => {
            unary(address, corpus, concurrency.parse()?, calls.parse()?).await
        }
        ["summarize", address, corpus, concurrency, calls] => {
            summarize(address, corpus, concurrency.parse()?, calls.parse()?).await
        }
        _ => Err("usage: load_client stream ADDRESS CORPUS | \
             unary|summarize ADDRESS CORPUS CONCURRENCY CALLS"
            .into()),
    }
}

//! The `copydesk` binary's batch commands on JSON Lines written here.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{TestServer, texts};
use copydesk::grpc::ServerConfig;
use serde_json::{Value, json};

fn copydesk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .args(args)
        .output()
        .expect("run copydesk")
}

fn input_path(dir: &Path) -> std::path::PathBuf {
    dir.join("in.jsonl")
}

fn write_input(dir: &Path, lines: &[String]) -> String {
    let path = input_path(dir);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write input");
    path.to_string_lossy().into_owned()
}

fn read_output(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("output line is JSON"))
        .collect()
}

fn wire_lines() -> Vec<String> {
    vec![
        json!({"id": "full", "title": texts::GENEVA_TITLE, "text": texts::geneva_full()}).to_string(),
        json!({"id": "trimmed", "text": texts::geneva_trimmed(), "published_at": "2026-11-27T10:00:00Z"})
            .to_string(),
        "{not json".to_owned(),
        json!({"id": "restyled", "text": texts::geneva_restyled()}).to_string(),
        json!({"id": "council", "text": texts::COUNCIL}).to_string(),
    ]
}

#[test]
fn summarize_writes_one_line_per_story_and_skips_malformed_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &wire_lines());
    let output = dir.path().join("out.jsonl");
    let run = copydesk(&[
        "summarize",
        "--input",
        &input,
        "--output",
        output.to_str().unwrap(),
        "--sentences",
        "2",
        "--max-errors",
        "1",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("line 3"),
        "malformed line reported: {stderr}"
    );

    let lines = read_output(&output);
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["full", "trimmed", "restyled", "council"]);
    let body = texts::geneva_full();
    let sentences = lines[0]["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 2);
    for s in sentences {
        let (start, end) = (
            s["start"].as_u64().unwrap() as usize,
            s["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&body[start..end], s["text"].as_str().unwrap());
        assert!(s["index"].is_u64() && s["score"].is_f64());
        assert!(
            s["parts"]["form"]
                .as_f64()
                .is_some_and(|f| f > 0.0 && f <= 1.0)
        );
    }
}

/// A widget line a site prints above every story is furniture once it has
/// been seen under three different stories. A file is read through first,
/// so even the first stories' summaries leave it out; stdin, read once, is
/// learned as it goes.
#[test]
fn summarize_learns_page_furniture_from_the_batch() {
    let widget = "Your weather is set to Lakeside, and the forecast is ready for you now!";
    let stories = [
        texts::geneva_full(),
        texts::COUNCIL.to_owned(),
        common::chain::text(1, &[0, 1, 2]),
        common::chain::text(2, &[0, 1, 2]),
    ];
    let lines: Vec<String> = stories
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({"id": format!("s{i}"), "text": format!("{widget}\n\n{body}")}).to_string()
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &lines);
    let output = dir.path().join("out.jsonl");
    let widget_in = |input: &str, learn: &str| -> Vec<bool> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_copydesk"));
        command.args([
            "summarize",
            "-o",
            output.to_str().unwrap(),
            "--learn-furniture",
            learn,
        ]);
        let run = if input == "-" {
            command
                .args(["-i", "-"])
                .stdin(std::fs::File::open(input_path(dir.path())).expect("input"))
                .output()
        } else {
            command.args(["-i", input]).output()
        }
        .expect("run copydesk");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        read_output(&output)
            .iter()
            .map(|line| {
                line["sentences"]
                    .as_array()
                    .expect("sentences")
                    .iter()
                    .any(|s| s["text"] == widget)
            })
            .collect()
    };
    // The widget opens every page and reads like a sentence: position
    // alone puts it in each summary until it is known for furniture (but
    // for the first page, whose lead opens with its dateline: what stands
    // above that is head matter).
    assert_eq!(widget_in(&input, "false"), [false, true, true, true]);
    assert_eq!(widget_in(&input, "true"), [false, false, false, false]);
    assert_eq!(widget_in("-", "true"), [false, true, false, false]);
}

#[test]
fn strict_stops_at_the_first_malformed_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &wire_lines());
    let output = dir.path().join("out.jsonl");
    let run = copydesk(&[
        "dedup",
        "--strict",
        "-i",
        &input,
        "-o",
        output.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("line 3"));
}

#[test]
fn dedup_folds_versions_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &wire_lines());
    let output = dir.path().join("out.jsonl");
    let run = copydesk(&[
        "dedup",
        "--max-errors",
        "1",
        "-i",
        &input,
        "-o",
        output.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines = read_output(&output);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["cluster"], lines[0]["cluster"]);
    assert_eq!(lines[2]["cluster"], lines[0]["cluster"]);
    assert_ne!(lines[3]["cluster"], lines[0]["cluster"]);
    assert_eq!(lines[1]["duplicate_of"], "full");
    assert_eq!(lines[2]["canonical"], "full");
    assert!(lines[2]["similarity"]["containment"].as_f64().unwrap() > 0.9);
    assert!(lines[3]["duplicate_of"].is_null());
    // The canonical story's headline rides on every line of its cluster;
    // a story with no title and no headline line has none of its own.
    assert_eq!(lines[0]["headline"], texts::GENEVA_TITLE);
    assert!(lines[1].get("headline").is_none(), "{}", lines[1]);
    assert_eq!(lines[1]["canonical_headline"], texts::GENEVA_TITLE);
}

/// Each line says what its version changes against the one it follows,
/// offline and in a durable store alike, unless `--no-changes`.
#[test]
fn dedup_lines_say_what_each_version_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &wire_lines());
    let data_dir = dir.path().join("data");
    let output = dir.path().join("out.jsonl");
    let out = output.to_str().unwrap();
    for extra in [vec![], vec!["--data-dir", data_dir.to_str().unwrap()]] {
        let mut args = vec!["dedup", "--max-errors", "1", "-i", &input, "-o", out];
        args.extend(extra.iter().copied());
        let run = copydesk(&args);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let lines = read_output(&output);
        assert!(
            lines[0].get("changes").is_none(),
            "a first version follows none"
        );
        let changes = &lines[1]["changes"];
        assert_eq!(changes["against"], "full", "{extra:?}: {}", lines[1]);
        assert_eq!(changes["trimmed"], true, "{changes}");
        assert_eq!(changes["added"], json!([]), "{changes}");
        let removed = changes["removed"].as_array().expect("removed");
        assert!(!removed.is_empty());
        // Offsets into the earlier version's body.
        let full = texts::geneva_full();
        let first = &removed[0];
        let (start, end) = (
            first["start"].as_u64().unwrap() as usize,
            first["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(full[start..end], *first["text"].as_str().unwrap());
        assert!(
            lines[3].get("changes").is_none(),
            "the council story follows none"
        );
    }
    let run = copydesk(&[
        "dedup",
        "--max-errors",
        "1",
        "--no-changes",
        "-i",
        &input,
        "-o",
        out,
    ]);
    assert!(run.status.success());
    assert!(
        read_output(&output)
            .iter()
            .all(|l| l.get("changes").is_none())
    );
}

/// Versions that arrive out of order first land in clusters of their own
/// and fold later; every line says where its story ended up, offline and
/// in a durable store alike.
#[test]
fn dedup_lines_say_where_each_story_ended_up() {
    let versions = common::chain::chain();
    let lines: Vec<String> = [4, 0, 2, 1, 3]
        .iter()
        .map(|&k| json!({"id": format!("v{k}"), "text": versions[k]}).to_string())
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &lines);
    let data_dir = dir.path().join("data");
    for extra in [vec![], vec!["--data-dir", data_dir.to_str().unwrap()]] {
        let output = dir.path().join("out.jsonl");
        let mut args = vec!["dedup", "-i", &input, "-o", output.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let run = copydesk(&args);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let out = read_output(&output);
        assert_eq!(out.len(), 5);
        // v4 and v0 share two of fourteen paragraphs: each started a
        // cluster, and the versions between folded them into one.
        assert!(out[1]["duplicate_of"].is_null(), "{}", out[1]);
        for line in &out {
            assert_eq!(line["cluster"], out[0]["cluster"], "{line}");
            assert_eq!(line["canonical"], out[0]["canonical"], "{line}");
        }
    }
}

/// With publication times, a version three days on is a second-day story
/// unless `--follow-up-after` says versions stay together that long.
#[test]
fn dedup_applies_the_follow_up_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(
        dir.path(),
        &[
            json!({"id": "monday", "text": texts::geneva_full(), "published_at": "2026-11-23T08:00:00Z"})
                .to_string(),
            json!({"id": "thursday", "text": texts::geneva_restyled(), "published_at": "2026-11-26T08:00:00Z"})
                .to_string(),
        ],
    );
    let output = dir.path().join("out.jsonl");
    let out = output.to_str().unwrap();
    let run = copydesk(&["dedup", "-i", &input, "-o", out]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines = read_output(&output);
    assert_ne!(lines[1]["cluster"], lines[0]["cluster"]);
    assert_eq!(lines[1]["related"], json!([lines[0]["cluster"]]));

    let run = copydesk(&[
        "dedup",
        "--follow-up-after",
        "7days",
        "-i",
        &input,
        "-o",
        out,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines = read_output(&output);
    assert_eq!(lines[1]["cluster"], lines[0]["cluster"]);
    assert_eq!(lines[1]["similarity"]["hours_apart"], 72.0);
}

/// `dedup --data-dir` builds the store that `serve` opens: a second run on
/// the same directory finds every story already there, in its cluster.
#[test]
fn dedup_builds_a_durable_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &wire_lines());
    let data = dir.path().join("data");
    let run_into = |name: &str| {
        let output = dir.path().join(name);
        let run = copydesk(&[
            "dedup",
            "--max-errors",
            "1",
            "--data-dir",
            data.to_str().unwrap(),
            "-i",
            &input,
            "-o",
            output.to_str().unwrap(),
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        read_output(&output)
    };
    let first = run_into("first.jsonl");
    assert_eq!(first.len(), 4);
    assert_eq!(first[1]["cluster"], first[0]["cluster"]);
    let mut second = run_into("second.jsonl");
    // The second run sends the same texts: nothing changes, so no line
    // says what changed; everything else is as the first run wrote it.
    assert!(second.iter().all(|l| l.get("changes").is_none()));
    for (line, earlier) in second.iter_mut().zip(&first) {
        if let (Some(line), Some(changes)) = (line.as_object_mut(), earlier.get("changes")) {
            line.insert("changes".into(), changes.clone());
        }
    }
    assert_eq!(second, first);

    let (_, report) = copydesk::store::DurableStore::open(
        &data,
        copydesk::dedup::IndexConfig::default(),
        copydesk::store::DurableOptions::default(),
    )
    .expect("the server's store opens what the batch job wrote");
    assert_eq!((report.stories, report.clusters), (4, 2));
}

#[test]
fn bad_budget_is_a_usage_error() {
    let run = copydesk(&["summarize", "--words", "0", "-i", "-", "-o", "-"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("budget"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_streams_through_a_running_server() {
    let server = TestServer::start(ServerConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &wire_lines());
    let output = dir.path().join("out.jsonl");
    let address = format!("http://{}", server.address);
    let out = output.clone();
    let run = tokio::task::spawn_blocking(move || {
        copydesk(&[
            "dedup",
            "--max-errors",
            "1",
            "--server",
            &address,
            "-i",
            &input,
            "-o",
            out.to_str().unwrap(),
        ])
    })
    .await
    .expect("join");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines = read_output(&output);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[2]["cluster"], lines[0]["cluster"]);
    assert_eq!(lines[2]["canonical"], "full");
    assert_ne!(lines[3]["cluster"], lines[0]["cluster"]);
    assert_eq!(lines[1]["changes"]["against"], "full", "{}", lines[1]);

    // The stories are now in the live index.
    let mut client = server.dedup().await;
    let stored = client
        .get_story(copydesk::grpc::proto::GetStoryRequest {
            name: "stories/council".into(),
        })
        .await
        .expect("stored by the batch job");
    assert_eq!(stored.into_inner().body, texts::COUNCIL);
    server.stop().await;
}

#[test]
fn serve_finds_a_taken_port_before_it_touches_the_store() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let out = copydesk(&[
        "serve",
        "--listen",
        &address,
        "--data-dir",
        &data_dir.to_string_lossy(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&address), "{stderr}");
    assert!(
        !data_dir.exists(),
        "the store was opened before the port was bound"
    );
}

/// Lines for the accounting tests: two good stories (versions of one), a
/// malformed line, and a story over the body limit.
fn lines_with_faults(big_body: &str) -> Vec<String> {
    vec![
        json!({"id": "full", "text": texts::geneva_full()}).to_string(),
        "{not json".to_owned(),
        json!({"id": "huge", "text": big_body}).to_string(),
        json!({"id": "trimmed", "text": texts::geneva_trimmed()}).to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_loses_stories_says_so_and_exits_non_zero() {
    let server = TestServer::start(ServerConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Larger than the server would decode: the run used to end here with
    // no output at all.
    let big = "Talks went on in Geneva all week. ".repeat(160_000);
    let input = write_input(dir.path(), &lines_with_faults(&big));
    let address = format!("http://{}", server.address);
    let run_with = |args: Vec<String>| {
        let output = dir.path().join("out.jsonl");
        let mut all: Vec<String> = vec!["dedup".into(), "-i".into(), input.clone(), "-o".into()];
        all.push(output.to_string_lossy().into_owned());
        all.extend(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let run = copydesk(&refs);
        (run, read_output(&output))
    };
    for remote in [false, true] {
        let server_args = if remote {
            vec!["--server".to_owned(), address.clone()]
        } else {
            Vec::new()
        };
        let (run, lines) = tokio::task::block_in_place(|| run_with(server_args.clone()));
        let stderr = String::from_utf8_lossy(&run.stderr);
        // The good stories are written, the others reported one by one.
        let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["full", "trimmed"], "remote {remote}: {stderr}");
        assert!(stderr.contains("line 3: text is"), "{stderr}");
        assert!(
            stderr.contains("read 4, written 2, duplicates 1, refused 1, malformed 1"),
            "remote {remote}: {stderr}"
        );
        // Malformed input is exit 65; refused stories alone are 66.
        assert_eq!(run.status.code(), Some(65), "{stderr}");

        let mut tolerant = server_args.clone();
        tolerant.extend(["--max-errors".to_owned(), "2".to_owned()]);
        let (run, _) = tokio::task::block_in_place(|| run_with(tolerant));
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }

    // Only a refused story: exit 66.
    let only_big = write_input(
        dir.path(),
        &[json!({"id": "huge", "text": big}).to_string()],
    );
    let output = dir.path().join("big.jsonl");
    let run = copydesk(&["dedup", "-i", &only_big, "-o", output.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(66));

    // An empty input says so.
    let empty = write_input(dir.path(), &[]);
    let run = copydesk(&["dedup", "-i", &empty, "-o", output.to_str().unwrap()]);
    assert!(run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("holds no story"));
    server.stop().await;
}

#[test]
fn boolean_settings_take_the_usual_spellings() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    for (value, accepted) in [
        ("1", true),
        ("yes", true),
        ("on", true),
        ("0", true),
        ("off", true),
        ("maybe", false),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_copydesk"))
            .args(["serve", "--listen", &address])
            .env("COPYDESK_IN_MEMORY", value)
            .env("COPYDESK_KEEP_EVICTED", value)
            .output()
            .expect("run copydesk");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Past the flags, serve stops at the taken port.
        assert_eq!(
            stderr.contains("cannot listen"),
            accepted,
            "{value}: {stderr}"
        );
    }
}

#[test]
fn a_server_that_is_not_there_is_named_with_what_to_do() {
    // A port nothing listens on: bind one, then free it.
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("address").to_string()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &wire_lines()[..1]);
    // No scheme: plaintext is assumed, and the error says what was tried.
    let out = copydesk(&["dedup", "--server", &address, "-i", &input, "-o", "-"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot connect to http://{address}")),
        "{stderr}"
    );
    assert!(stderr.contains("copydesk serve"), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
}

#[test]
fn matching_flags_beside_server_are_refused_not_ignored() {
    let out = copydesk(&[
        "dedup",
        "--server",
        "127.0.0.1:1",
        "--canonical",
        "latest",
        "-i",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--canonical"), "{stderr}");
}

/// ninjs in: HTML bodies read as text, a stale version skipped, a
/// canceled item removed, and the answer as ninjs associations; the same
/// offline and through a running server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_reads_ninjs_versions_and_cancellations() {
    let uri = "http://wire.example.com/items/geneva-1";
    let paragraphs: Vec<String> = texts::geneva_full()
        .split("\n\n")
        .map(|p| format!("<p>{p}</p>"))
        .collect();
    let all = paragraphs.len();
    // The last paragraph is the credit line (furniture): a version cut
    // short lacks the one before it.
    let html = |n: usize| {
        let mut kept = paragraphs[..n.min(all - 1)].to_vec();
        kept.push(paragraphs[all - 1].clone());
        kept.concat()
    };
    let lines = vec![
        json!({"uri": uri, "version": "1", "versionCreated": "2026-11-27T10:00:00Z",
               "headlines": [{"role": "main", "value": texts::GENEVA_TITLE}],
               "bodies": [{"contentType": "text/html", "value": html(all - 2)}]})
        .to_string(),
        json!({"uri": uri, "version": "2", "versionCreated": "2026-11-27T11:00:00Z",
               "headlines": [{"role": "main", "value": texts::GENEVA_TITLE}],
               "bodies": [{"contentType": "text/html", "value": html(all - 1)}]})
        .to_string(),
        // A late copy of version 1: stale.
        json!({"uri": uri, "version": "1", "body_text": "Old text."}).to_string(),
        json!({"uri": "urn:copy:site-a", "headline": texts::GENEVA_TITLE,
               "body_html": html(all - 1)})
        .to_string(),
        json!({"uri": "urn:copy:gone", "pubstatus": "canceled"}).to_string(),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &lines);
    let output = dir.path().join("out.jsonl");
    let server = TestServer::start(ServerConfig::default()).await;
    let address = format!("http://{}", server.address);
    for remote in [false, true] {
        let (input, out, address) = (input.clone(), output.clone(), address.clone());
        let run = tokio::task::spawn_blocking(move || {
            let mut args = vec!["dedup", "--format", "ninjs", "-i", &input];
            args.extend(["-o", out.to_str().unwrap()]);
            if remote {
                args.extend(["--server", &address]);
            }
            copydesk(&args)
        })
        .await
        .expect("join");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let out = read_output(&output);
        assert_eq!(out.len(), 5, "{remote}: {out:?}");
        let id = "http:%2F%2Fwire.example.com%2Fitems%2Fgeneva-1";
        assert_eq!(out[0]["id"], id);
        assert_eq!(out[1]["uri"], uri);
        // Version 2 adds the last paragraph; offsets point into its HTML.
        let added = &out[1]["changes"]["added"];
        let text = added[0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", out[1]));
        assert!(!text.contains('<'));
        let (start, end) = (
            added[0]["start"].as_u64().unwrap() as usize,
            added[0]["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&html(all - 1)[start..end], text);
        assert!(
            out[2]["skipped"].as_str().unwrap().contains("version 1"),
            "{}",
            out[2]
        );
        // The site's copy is a duplicate of the wire item, said in ninjs.
        let associations = out[3]["associations"].as_array().expect("associations");
        let duplicate = associations
            .iter()
            .find(|a| a["name"] == "duplicate-of")
            .expect("a duplicate-of association");
        assert_eq!(duplicate["uri"], uri);
        assert_eq!(
            duplicate["rel"],
            format!("{}duplicate-of", copydesk::ninjs::REL_NAMESPACE)
        );
        assert_eq!(out[4]["deleted"], false, "nothing was stored under it");
    }
    server.stop().await;
}

/// A batch larger than one round of work (1,024 stories): different
/// stories of words drawn at random, every tenth a trimmed version of the
/// one before, a line every third story carries (learned as furniture),
/// and a malformed line. The work on each story goes across the threads.
fn many_lines() -> Vec<String> {
    const WORDS: [&str; 48] = [
        "council",
        "harbour",
        "budget",
        "ferry",
        "strike",
        "mayor",
        "river",
        "bridge",
        "school",
        "court",
        "tariff",
        "grain",
        "storm",
        "museum",
        "airport",
        "union",
        "station",
        "forest",
        "hospital",
        "railway",
        "election",
        "treaty",
        "market",
        "festival",
        "drought",
        "vaccine",
        "pipeline",
        "orchestra",
        "stadium",
        "glacier",
        "refinery",
        "library",
        "canal",
        "senate",
        "border",
        "harvest",
        "satellite",
        "tunnel",
        "reservoir",
        "garrison",
        "cathedral",
        "brewery",
        "quarry",
        "lighthouse",
        "observatory",
        "vineyard",
        "shipyard",
        "monastery",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut word = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        WORDS[(seed >> 33) as usize % WORDS.len()]
    };
    let mut previous = String::new();
    (0..2_600)
        .map(|i| {
            if i == 1_500 {
                return "{not json".to_owned();
            }
            let mut text = if i % 10 == 9 {
                // A trimmed version of the story before.
                previous[..previous.rfind(". ").map_or(previous.len(), |at| at + 1)].to_owned()
            } else {
                (0..4)
                    .map(|s| {
                        let words: Vec<&str> = (0..12).map(|_| word()).collect();
                        format!("Story {i} part {s}: {}.", words.join(" "))
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            previous = text.clone();
            if i % 3 == 0 {
                text.push_str("\n\nGet the morning briefing in your inbox");
            }
            json!({"id": format!("story-{i}"), "title": format!("Item {i}"), "text": text})
                .to_string()
        })
        .collect()
}

/// Runs `copydesk ARGS` on `input` (a path, or stdin when it is `None`
/// and `stdin` is given), returning the exit code and the output file.
fn run_batch(args: &[&str], input: &str, out: &Path, threads: &str) -> (Option<i32>, Vec<u8>) {
    let run = copydesk(
        &[
            args,
            &[
                "-i",
                input,
                "-o",
                out.to_str().unwrap(),
                "--threads",
                threads,
            ],
        ]
        .concat(),
    );
    (run.status.code(), std::fs::read(out).expect("read output"))
}

#[test]
fn every_core_writes_what_one_thread_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_input(dir.path(), &many_lines());
    let out = |name: &str| dir.path().join(name);
    for command in [
        &["summarize"][..],
        &["dedup"][..],
        &["dedup", "--no-changes"][..],
    ] {
        let one = run_batch(command, &input, &out("one.jsonl"), "1");
        let many = run_batch(command, &input, &out("many.jsonl"), "4");
        assert_eq!(one.0, Some(65), "{command:?}: one malformed line");
        assert!(
            one.1.iter().filter(|&&b| b == b'\n').count() >= 2_599,
            "{command:?}: a line per story"
        );
        assert!(one == many, "{command:?}: 4 threads wrote otherwise");
    }
    // Stdin is learned as read: each summary with what came before it.
    let stdin = |args: &[&str], threads: &str| {
        let run = Command::new(env!("CARGO_BIN_EXE_copydesk"))
            .args(["summarize", "--threads", threads])
            .args(args)
            .stdin(std::fs::File::open(&input).expect("open input"))
            .output()
            .expect("run copydesk");
        (run.status.code(), run.stdout)
    };
    assert!(
        stdin(&[], "1") == stdin(&[], "3"),
        "stdin: 3 threads wrote otherwise"
    );
    // Under --strict, what comes before the malformed line is written
    // first, as one story at a time would.
    let strict = |threads| run_batch(&["summarize", "--strict"], &input, &out("s.jsonl"), threads);
    let (one, many) = (strict("1"), strict("4"));
    assert_eq!(one.1.iter().filter(|&&b| b == b'\n').count(), 1_500);
    assert!(one == many, "--strict: 4 threads wrote otherwise");
    let (one, many) = (stdin(&["--strict"], "1"), stdin(&["--strict"], "3"));
    assert_eq!(
        one.0,
        Some(65),
        "stdin --strict: the malformed line stops it"
    );
    assert_eq!(one.1.iter().filter(|&&b| b == b'\n').count(), 1_500);
    assert!(one == many, "stdin --strict: 3 threads wrote otherwise");
}

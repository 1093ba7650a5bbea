//! The editor's page in a real browser: headless Chromium (Debian's
//! `chromium`, which `.ci/run` installs) opens the list, follows the
//! Geneva cluster's link, and the sentence the update added is on the
//! page, highlighted: the screenshot (saved under `target/` for a person
//! to look at) holds the highlight's colour, so the styles loaded under
//! the page's Content-Security-Policy. A headline that is a script shows
//! as text.
//!
//! Needs Chromium: run with `cargo test --test browser -- --ignored`
//! (`.ci/run` does); `CHROMIUM` names another binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::desk::{self, ADDED, HOSTILE_HEADLINE};
use common::texts;

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Runs headless Chromium with the flags this machine needs (no sandbox
/// as root, no GPU, no network of its own) and `extra`; its stdout.
fn run_chromium(profile: &Path, extra: &[&str]) -> String {
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromium()));
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `href` of the link whose text is `text`, in a serialized DOM.
fn link_to(dom: &str, text: &str) -> String {
    let at = dom
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no link reads {text:?} in {dom}"));
    let open = dom[..at].rfind("<a ").expect("the link's start");
    let tag = &dom[open..at];
    let start = tag.find("href=\"").expect("an href") + 6;
    let end = start + tag[start..].find('"').expect("the href's end");
    tag[start..end].to_owned()
}

/// How many pixels of `png` have the colour `rgb`.
fn pixels_of(png: &Path, rgb: [u8; 3]) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buffer).expect("a frame");
    let channels = info.color_type.samples();
    buffer[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p.len() >= 3 && p[..3] == rgb)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: cargo test --test browser -- --ignored (.ci/run installs it)"]
async fn an_editor_follows_a_cluster_and_sees_what_the_update_added() {
    let desk = desk::start(None).await;
    let base = format!("http://{}", desk.http);
    let profile = tempfile::tempdir().expect("profile dir");
    let screenshot: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/desk-cluster.png");
    let profile_path = profile.path().to_owned();
    let (index, cluster, shot) = tokio::task::spawn_blocking(move || {
        let index = run_chromium(&profile_path, &["--dump-dom", &format!("{base}/")]);
        let href = link_to(&index, texts::GENEVA_TITLE);
        let url = format!("{base}{href}");
        let cluster = run_chromium(&profile_path, &["--dump-dom", &url]);
        let _ = std::fs::remove_file(&screenshot);
        run_chromium(
            &profile_path,
            &[
                &format!("--screenshot={}", screenshot.display()),
                "--window-size=1100,1400",
                "--hide-scrollbars",
                &url,
            ],
        );
        (index, cluster, screenshot)
    })
    .await
    .expect("join");

    // The hostile headline is text on the list, never an element.
    assert!(
        index.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{index}"
    );
    assert!(!index.contains(HOSTILE_HEADLINE));
    // The cluster page marks the added sentence…
    assert!(
        cluster.contains(&format!("<ins class=\"added\">{ADDED}</ins>")),
        "{cluster}"
    );
    // …and the browser painted it in the highlight's colour (#d7f3d2).
    let highlighted = pixels_of(&shot, [0xd7, 0xf3, 0xd2]);
    assert!(
        highlighted > 2_000,
        "{highlighted} highlighted pixels in {}",
        shot.display()
    );
    desk.server.stop().await;
}

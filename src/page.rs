//! The editor's page: server-rendered HTML of the newest clusters and of
//! one cluster's timeline, and the same views as one self-contained file
//! for a batch run (`copydesk dedup --report`).
//!
//! Everything shown comes from clients (headlines, bodies, ids, sources),
//! so every piece of it goes through [`escape`]; the page holds no script,
//! and the server sends a Content-Security-Policy that forbids any.
//! Rendering only: the views are built by the caller from the store.

use std::fmt::Write;
use std::time::SystemTime;

use crate::dedup::ClusterId;
use crate::dedup::changes::{Changes, VersionChanges};
use crate::names;
use crate::store::{ClusterDetail, Store, StoreError, TimelineEntry};
use crate::summarize::{Budget, summarize_learned};

/// The policy the server sends with every page: no script of any kind, no
/// framing, styles only from the server itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The policy of a report file: it carries its styles inline.
const REPORT_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
     form-action 'none'";

/// The page's styles, served as `/desk.css` (a report inlines them).
pub const STYLES: &str = r#"
body { font: 16px/1.45 Georgia, "Times New Roman", serif; margin: 0; color: #1d1d1b; background: #f7f6f2; }
header { background: #1d1d1b; color: #f7f6f2; padding: .6rem 1.5rem; font-family: system-ui, sans-serif; }
header a { color: #f7f6f2; text-decoration: none; font-weight: 600; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin: .8rem 0 .3rem; }
h2 { font-size: 1.2rem; margin: 1.6rem 0 .4rem; font-family: system-ui, sans-serif; }
.card { background: #fff; border: 1px solid #dcd9cf; border-radius: 4px; padding: .8rem 1rem; margin: .8rem 0; }
.card h2 { margin: 0 0 .3rem; font-family: Georgia, serif; font-size: 1.15rem; }
.card h2 a { color: #0b3d6b; text-decoration: none; }
.meta { color: #5f5d57; font: .85rem/1.4 system-ui, sans-serif; }
.summary { margin: .3rem 0; }
.source { display: inline-block; background: #e9e6dc; border-radius: 3px; padding: 0 .35rem; margin-right: .25rem; }
ol.timeline { list-style: none; padding: 0; border-left: 3px solid #c9c4b5; margin-left: .4rem; }
ol.timeline > li { position: relative; padding: .3rem 0 .9rem 1.1rem; }
ol.timeline > li::before { content: ""; position: absolute; left: -.5rem; top: .65rem; width: .7rem; height: .7rem; border-radius: 50%; background: #8a8472; }
.badge { font: .75rem system-ui, sans-serif; background: #0b3d6b; color: #fff; border-radius: 3px; padding: 0 .3rem; margin-left: .3rem; }
ins.added { background: #d7f3d2; text-decoration: none; display: block; padding: .15rem .35rem; margin: .2rem 0; border-left: 3px solid #2e8b3e; }
del.removed { background: #f8d9d6; display: block; padding: .15rem .35rem; margin: .2rem 0; border-left: 3px solid #b3362b; }
.changed { display: block; padding: .15rem .35rem; margin: .2rem 0; border-left: 3px solid #c48a00; background: #fbf0d0; }
ul.thread { padding-left: 1.2rem; }
nav.pages { margin-top: 1.5rem; font-family: system-ui, sans-serif; }
"#;

/// `text` safe inside HTML text and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A cluster as the newest-first list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterCard {
    /// The cluster.
    pub id: ClusterId,
    /// The headline a feed shows (may be empty).
    pub headline: String,
    /// The canonical story's summary sentences.
    pub summary: Vec<String>,
    /// Agencies and sources of its versions, each once.
    pub sources: Vec<String>,
    /// How many stories it holds.
    pub stories: usize,
    /// How many versions its stories have had.
    pub versions: usize,
    /// When it was created and last changed.
    pub created: SystemTime,
    pub updated: SystemTime,
}

/// A cluster with its timeline and its related clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    /// What the list shows of it.
    pub card: ClusterCard,
    /// `stories/{id}` of its canonical story.
    pub canonical: String,
    /// Its stories' versions in time order.
    pub timeline: Vec<TimelineEntry>,
    /// Related clusters (the same event), with their headlines.
    pub related: Vec<(ClusterId, String)>,
}

/// How links between views are written: the server's paths, or anchors
/// inside one report file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// `/clusters/{n}`.
    Server,
    /// `#cluster-{n}`.
    Report,
}

impl Links {
    fn cluster(self, id: ClusterId) -> String {
        match self {
            Links::Server => format!("/clusters/{id}"),
            Links::Report => format!("#cluster-{id}"),
        }
    }
}

fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The agencies and sources of a timeline, each once, in first-seen order.
pub fn sources_of(timeline: &[TimelineEntry]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for entry in timeline {
        let names = [
            entry.version.agency.map(|a| a.as_str().to_owned()),
            (!entry.version.source.is_empty()).then(|| entry.version.source.clone()),
        ];
        for name in names.into_iter().flatten() {
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
    }
    seen
}

fn head(out: &mut String, title: &str, styles: Styles) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    match styles {
        Styles::Linked => out.push_str("<link rel=\"stylesheet\" href=\"/desk.css\">"),
        Styles::Inline => {
            let _ = write!(
                out,
                "<meta http-equiv=\"Content-Security-Policy\" content=\"{REPORT_POLICY}\"><style>{STYLES}</style>"
            );
        }
    }
    let _ = write!(out, "<title>{}</title></head><body>", escape(title));
}

#[derive(Clone, Copy)]
enum Styles {
    Linked,
    Inline,
}

fn card(out: &mut String, card: &ClusterCard, links: Links) {
    let headline = if card.headline.is_empty() {
        format!("Cluster {}", card.id)
    } else {
        card.headline.clone()
    };
    let _ = write!(
        out,
        "<article class=\"card\" id=\"card-{id}\"><h2><a href=\"{href}\">{headline}</a></h2>",
        id = card.id,
        href = links.cluster(card.id),
        headline = escape(&headline),
    );
    if !card.summary.is_empty() {
        let _ = write!(
            out,
            "<p class=\"summary\">{}</p>",
            escape(&card.summary.join(" "))
        );
    }
    out.push_str("<p class=\"meta\">");
    for source in &card.sources {
        let _ = write!(out, "<span class=\"source\">{}</span>", escape(source));
    }
    let _ = write!(
        out,
        "{stories} {s_word}, {versions} {v_word} · updated {updated} · first seen {created}</p></article>",
        stories = card.stories,
        s_word = if card.stories == 1 {
            "story"
        } else {
            "stories"
        },
        versions = card.versions,
        v_word = if card.versions == 1 {
            "version"
        } else {
            "versions"
        },
        updated = time(card.updated),
        created = time(card.created),
    );
}

/// The newest-first list of clusters; `older` links the next page.
pub fn index_page(cards: &[ClusterCard], older: Option<ClusterId>) -> String {
    let mut out = String::new();
    head(&mut out, "copydesk — newest clusters", Styles::Linked);
    out.push_str("<header><a href=\"/\">copydesk</a></header><main><h1>Newest clusters</h1>");
    if cards.is_empty() {
        out.push_str("<p>No stories yet.</p>");
    }
    for c in cards {
        card(&mut out, c, Links::Server);
    }
    if let Some(before) = older {
        let _ = write!(
            out,
            "<nav class=\"pages\"><a href=\"/?before={before}\">Older clusters</a></nav>"
        );
    }
    out.push_str("</main></body></html>\n");
    out
}

fn changes_html(out: &mut String, version: &VersionChanges) {
    let VersionChanges { against, changes } = version;
    let Changes {
        added,
        removed,
        changed,
        top_changed,
        trimmed,
        cut,
        update_summary: _,
    } = changes;
    let _ = write!(
        out,
        "<div class=\"meta\">against <code>{}</code>",
        escape(&names::story(against))
    );
    for (flag, name) in [
        (*top_changed, "new top"),
        (*trimmed, "trimmed"),
        (*cut, "cut"),
    ] {
        if flag {
            let _ = write!(out, "<span class=\"badge\">{name}</span>");
        }
    }
    out.push_str("</div>");
    for passage in added {
        let _ = write!(out, "<ins class=\"added\">{}</ins>", escape(&passage.text));
    }
    for sentence in changed {
        let _ = write!(
            out,
            "<span class=\"changed\">{} <span class=\"meta\">(was: {})</span></span>",
            escape(&sentence.new.text),
            escape(&sentence.old.text)
        );
    }
    for passage in removed {
        let _ = write!(
            out,
            "<del class=\"removed\">{}</del>",
            escape(&passage.text)
        );
    }
    if added.is_empty() && changed.is_empty() && removed.is_empty() && !top_changed {
        out.push_str(
            "<div class=\"meta\">No change but typography, furniture or the dateline.</div>",
        );
    }
}

fn cluster_body(out: &mut String, view: &ClusterView, links: Links) {
    let c = &view.card;
    let headline = if c.headline.is_empty() {
        format!("Cluster {}", c.id)
    } else {
        c.headline.clone()
    };
    let _ = write!(
        out,
        "<section id=\"cluster-{}\"><h1>{}</h1>",
        c.id,
        escape(&headline)
    );
    if !c.summary.is_empty() {
        let _ = write!(
            out,
            "<p class=\"summary\">{}</p>",
            escape(&c.summary.join(" "))
        );
    }
    out.push_str("<p class=\"meta\">");
    for source in &c.sources {
        let _ = write!(out, "<span class=\"source\">{}</span>", escape(source));
    }
    let _ = write!(
        out,
        "canonical <code>{}</code> · {} stories · updated {}</p>",
        escape(&view.canonical),
        c.stories,
        time(c.updated)
    );
    out.push_str("<h2>Timeline</h2><ol class=\"timeline\">");
    for entry in &view.timeline {
        let v = &entry.version;
        let source = [
            v.agency.map(|a| a.as_str().to_owned()),
            (!v.source.is_empty()).then(|| v.source.clone()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
        let _ = write!(
            out,
            "<li class=\"version\"><div class=\"meta\">{when} · <code>{name}</code> version {n}{current}{source}</div><div>{title}</div>",
            when = time(v.time()),
            name = escape(&names::story(&entry.story_id)),
            n = v.number,
            current = if entry.current { "" } else { " (superseded)" },
            source = if source.is_empty() {
                String::new()
            } else {
                format!(" · {}", escape(&source))
            },
            title = escape(&v.title),
        );
        if let Some(changes) = &v.changes {
            changes_html(out, changes);
        }
        out.push_str("</li>");
    }
    out.push_str("</ol>");
    if !view.related.is_empty() {
        out.push_str("<h2>On the same event</h2><ul class=\"thread\">");
        for (id, headline) in &view.related {
            let text = if headline.is_empty() {
                format!("Cluster {id}")
            } else {
                headline.clone()
            };
            let _ = write!(
                out,
                "<li><a href=\"{}\">{}</a></li>",
                links.cluster(*id),
                escape(&text)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

/// One cluster's page.
pub fn cluster_page(view: &ClusterView) -> String {
    let mut out = String::new();
    let title = format!("copydesk — {}", view.card.headline);
    head(&mut out, &title, Styles::Linked);
    out.push_str("<header><a href=\"/\">copydesk</a></header><main>");
    cluster_body(&mut out, view, Links::Server);
    out.push_str("</main></body></html>\n");
    out
}

/// A batch run's report: the list, then every cluster, in one file that
/// needs nothing else.
pub fn report(views: &[ClusterView]) -> String {
    let mut out = String::new();
    head(&mut out, "copydesk report", Styles::Inline);
    let _ = write!(
        out,
        "<header>copydesk report</header><main><h1>{} clusters</h1>",
        views.len()
    );
    for view in views {
        card(&mut out, &view.card, Links::Report);
    }
    for view in views {
        cluster_body(&mut out, view, Links::Report);
    }
    out.push_str("</main></body></html>\n");
    out
}

/// What the page shows of one cluster, read from `store`: its detail,
/// summary, timeline and related clusters' headlines. The summary is CPU
/// work: it runs on the blocking pool.
pub async fn cluster_view(store: &dyn Store, id: ClusterId) -> Result<ClusterView, StoreError> {
    let detail = store.get_cluster(id).await?;
    let mut related = Vec::with_capacity(detail.view.related.len());
    for &other in &detail.view.related {
        match store.get_cluster(other).await {
            Ok(other) => related.push((other.view.id, headline_of(&other))),
            // Gone since (deleted, evicted): not a thread any more.
            Err(StoreError::ClusterNotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let view = tokio::task::spawn_blocking(move || {
        let card = card_of(&detail);
        ClusterView {
            card,
            canonical: names::story(&detail.view.canonical),
            timeline: detail.timeline,
            related,
        }
    })
    .await
    .map_err(StoreError::Task)?;
    Ok(view)
}

/// The cards of up to `limit` clusters older than `before`, newest first,
/// and the `before` of the next page.
pub async fn cluster_cards(
    store: &dyn Store,
    before: Option<ClusterId>,
    limit: usize,
) -> Result<(Vec<ClusterCard>, Option<ClusterId>), StoreError> {
    let page = store.list_clusters(before, limit).await?;
    let mut cards = Vec::with_capacity(page.clusters.len());
    for listed in page.clusters {
        // The list leaves timelines out; a card counts versions and
        // sources.
        let detail = match store.get_cluster(listed.view.id).await {
            Ok(detail) => detail,
            Err(StoreError::ClusterNotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let card = tokio::task::spawn_blocking(move || card_of(&detail))
            .await
            .map_err(StoreError::Task)?;
        cards.push(card);
    }
    Ok((cards, page.next_before))
}

/// The headline a feed shows for the cluster; where the text offers none
/// (a title that reads as page furniture), the title as sent: an editor
/// sees what came in.
fn headline_of(detail: &ClusterDetail) -> String {
    let story = &detail.canonical.story;
    crate::text::headline::story_headline(&story.title, &story.text())
        .unwrap_or(&story.title)
        .to_owned()
}

fn card_of(detail: &ClusterDetail) -> ClusterCard {
    let story = &detail.canonical.story;
    let learned = &detail.learned_furniture;
    let summary = summarize_learned(&story.title, &story.body, Budget::default(), &|line| {
        learned.contains(&line)
    });
    ClusterCard {
        id: detail.view.id,
        headline: headline_of(detail),
        summary: summary.texts().map(str::to_owned).collect(),
        sources: sources_of(&detail.timeline),
        stories: detail.view.members.len(),
        versions: detail.timeline.len(),
        created: detail.view.created,
        updated: detail.view.updated,
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::dedup::changes::Passage;
    use crate::store::VersionRecord;

    fn view(headline: &str, added: &str) -> ClusterView {
        let version = |number: u32, changes: Option<VersionChanges>| VersionRecord {
            number,
            title: headline.to_owned(),
            published_at: None,
            ingested_at: UNIX_EPOCH,
            source: "<b>feed</b>".into(),
            agency: None,
            body_bytes: 10,
            cluster: 1,
            changes,
            superseded_body: None,
        };
        let changes = VersionChanges {
            against: "a".into(),
            changes: Changes {
                added: vec![Passage {
                    range: 0..added.len(),
                    text: added.to_owned(),
                }],
                ..Changes::default()
            },
        };
        ClusterView {
            card: ClusterCard {
                id: 1,
                headline: headline.to_owned(),
                summary: vec!["A summary.".into()],
                sources: vec!["<b>feed</b>".into()],
                stories: 2,
                versions: 2,
                created: UNIX_EPOCH,
                updated: UNIX_EPOCH,
            },
            canonical: "stories/a".into(),
            timeline: vec![
                TimelineEntry {
                    story_id: "a".into(),
                    version: version(1, None),
                    current: true,
                },
                TimelineEntry {
                    story_id: "b\"><script>".into(),
                    version: version(1, Some(changes)),
                    current: true,
                },
            ],
            related: vec![(2, "<img src=x onerror=alert(1)>".into())],
        }
    }

    #[test]
    fn what_clients_sent_is_text_never_markup() {
        let view = view("<script>alert(1)</script>", "Shops said <i>trade</i> fell.");
        for html in [
            cluster_page(&view),
            index_page(std::slice::from_ref(&view.card), Some(1)),
            report(std::slice::from_ref(&view)),
        ] {
            assert!(!html.contains("<script>"), "{html}");
            assert!(!html.contains("<img"), "{html}");
            assert!(!html.contains("<b>feed"), "{html}");
            assert!(!html.contains("<i>trade"), "{html}");
        }
        let page = cluster_page(&view);
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            page.contains("<ins class=\"added\">Shops said &lt;i&gt;trade&lt;/i&gt; fell.</ins>")
        );
        assert!(page.contains("b&quot;&gt;&lt;script&gt;"));
        assert!(page.contains("href=\"/clusters/2\""));
        assert!(report(std::slice::from_ref(&view)).contains("href=\"#cluster-2\""));
    }

    #[test]
    fn escape_covers_text_and_attributes() {
        assert_eq!(escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
    }
}

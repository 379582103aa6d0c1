//! A small Craigslist site assembled from the saved real pages, served by a [`TestServer`].
//!
//! Search pages are the real 2026 Milwaukee results page (`cl_2026_search_apa_milwaukee_wauwatosa`),
//! its absolute `https://milwaukee.craigslist.org` links rewritten to the test server and its 37
//! result rows split over several pages (`/search/apa`, `/search/apa?s=N`, ...), each but the last
//! linking the next with `<link rel=next>`. The `ld_searchpage_results` JSON-LD (which lists all 37)
//! is left out of the split pages so rows and JSON-LD never disagree. Each result row links a
//! posting: 7936415355 is served its own saved page; the others are served the saved 2022 postings in
//! turn (real markup; their listing ids are those of the saved pages). Every page carries an ETag.

use super::{Reply, TestServer};

const SHARED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/html/craigslist/"
);
const SEARCH_PAGE: &str = "cl_2026_search_apa_milwaukee_wauwatosa.html";
const OWN_POSTING: (&str, &str) = ("7936415355", "cl_2026_post_apa_milwaukee_7936415355.html");
const OTHER_POSTINGS: &[&str] = &[
    "cl_2022_post_apa_atlanta_7501755803.html",
    "cl_2022_post_apa_atlanta_7515014866.html",
    "cl_2022_post_apa_atlanta_7515104203.html",
    "cl_2022_post_apa_boston_7514890528.html",
    "cl_2022_post_apa_boston_7514972380.html",
    "cl_2022_post_apa_boston_7514980855.html",
    "cl_2022_post_apa_chicago_7496774171.html",
    "cl_2022_post_apa_chicago_7496897671.html",
    "cl_2022_post_apa_chicago_7498813750.html",
    "cl_2022_post_apa_chicago_7501716924.html",
    "cl_2022_post_apa_chicago_7502236488.html",
    "cl_2022_post_apa_chicago_7511542524.html",
];
const ROW_START: &str = "<li class=\"cl-static-search-result\"";

/// The real Craigslist block page, as served in 2022.
pub fn blocked_page() -> String {
    read("cl_2022_blocked_response.html")
}

pub fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{SHARED}{file}")).expect("saved page")
}

/// What was installed.
pub struct CraigslistSite {
    /// URL of the first results page.
    pub start: String,
    /// Request targets of the results pages, in order.
    pub search_targets: Vec<String>,
    /// Request targets of the postings linked, in page order.
    pub posting_targets: Vec<String>,
}

impl CraigslistSite {
    pub fn all_targets(&self) -> Vec<String> {
        self.search_targets
            .iter()
            .chain(&self.posting_targets)
            .cloned()
            .collect()
    }
}

/// Installs the first `rows` result rows of the Milwaukee page (at most 37), `rows_per_page` per
/// results page, and their postings.
pub fn install(server: &TestServer, rows: usize, rows_per_page: usize) -> CraigslistSite {
    let base = server.base();
    let real = read(SEARCH_PAGE).replace("https://milwaukee.craigslist.org", &base);
    let first_row = real.find(ROW_START).expect("result rows");
    let mut row_texts = Vec::new();
    let mut from = first_row;
    while let Some(start) = real[from..].find(ROW_START).map(|i| from + i) {
        let end = start + real[start..].find("</li>").expect("closed row") + "</li>".len();
        row_texts.push(&real[start..end]);
        from = end;
    }
    let suffix = &real[from..];
    let prefix = without_search_json_ld(&real[..first_row]);
    let rows = &row_texts[..rows.min(row_texts.len())];
    let pages: Vec<&[&str]> = rows.chunks(rows_per_page.max(1)).collect();
    let target_of = |page: usize| {
        if page == 0 {
            "/search/apa".to_owned()
        } else {
            format!("/search/apa?s={}", page * rows_per_page)
        }
    };
    let mut site = CraigslistSite {
        start: server.url("/search/apa"),
        search_targets: Vec::new(),
        posting_targets: Vec::new(),
    };
    let mut other = OTHER_POSTINGS.iter().cycle();
    for (index, page_rows) in pages.iter().enumerate() {
        let mut head = prefix.clone();
        if index + 1 < pages.len() {
            let link = format!(
                "<link rel=\"next\" href=\"{}\">\n</head>",
                target_of(index + 1)
            );
            head = head.replacen("</head>", &link, 1);
        }
        let html = format!("{head}{}{suffix}", page_rows.join("\n"));
        let target = target_of(index);
        server.route(&target, with_etag(Reply::html(html), &target));
        site.search_targets.push(target);
        for row in *page_rows {
            let href = row
                .split("href=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("row link");
            let posting_target = href.strip_prefix(&base).expect("rewritten link").to_owned();
            let file = if posting_target.contains(OWN_POSTING.0) {
                OWN_POSTING.1
            } else {
                other.next().expect("cycle")
            };
            server.route(
                &posting_target,
                with_etag(Reply::html(read(file)), &posting_target),
            );
            site.posting_targets.push(posting_target);
        }
    }
    site
}

fn with_etag(reply: Reply, target: &str) -> Reply {
    let etag = format!("\"{:x}\"", fnv1a(target.as_bytes()));
    reply.header("etag", &etag)
}

/// FNV-1a: enough to give each route its own validator.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3)
    })
}

fn without_search_json_ld(prefix: &str) -> String {
    let Some(start) =
        prefix.find("<script type=\"application/ld+json\" id=\"ld_searchpage_results\"")
    else {
        return prefix.to_owned();
    };
    let end = start + prefix[start..].find("</script>").expect("closed script") + "</script>".len();
    format!("{}{}", &prefix[..start], &prefix[end..])
}

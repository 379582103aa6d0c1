//! Recognising which site a saved page came from, from the page itself, so a page found on disk or in
//! a dead-letter queue can be routed to the right parser.

use aiq_schemas::Source;

/// Sites we recognise, with the host names that identify them in a URL, and the page markers that give
/// them away: a `<title>` ending, an `og:site_name`, an `<html id>`. Order matters only for ties.
struct SiteMarkers {
    source: Source,
    /// Registrable domains; a URL host equal to or ending in `.` + one of these belongs to the site.
    /// They are also counted in the page body (links, asset hosts).
    domains: &'static [&'static str],
    /// Lower-case fragments that only this site's own pages carry.
    strong: &'static [&'static str],
}

const SITES: [SiteMarkers; 8] = [
    SiteMarkers {
        source: Source::Craigslist,
        domains: &["craigslist.org"],
        strong: &[
            "<meta property=\"og:site_name\" content=\"craigslist\"",
            " - craigslist</title>",
            "craigslist.org/contact?step=form&reqtype=help_blocks",
        ],
    },
    SiteMarkers {
        source: Source::Zillow,
        domains: &["zillow.com", "zillowstatic.com"],
        strong: &[
            "| zillow</title>",
            "content=\"zillow\" property=\"og:site_name\"",
            "property=\"og:site_name\" content=\"zillow\"",
        ],
    },
    SiteMarkers {
        source: Source::Trulia,
        domains: &["trulia.com"],
        strong: &["| trulia.com", "property=\"og:site_name\" content=\"trulia"],
    },
    SiteMarkers {
        source: Source::Redfin,
        domains: &["redfin.com"],
        strong: &[
            "| redfin</title>",
            "property=\"og:site_name\" content=\"redfin\"",
            // Redfin's own JSON field names, for search exports that never mention the domain.
            "\"isredfin\":",
            "\"timeonredfin\":",
        ],
    },
    SiteMarkers {
        source: Source::Realtor,
        domains: &["realtor.com", "rdcpix.com"],
        strong: &[
            "| realtor.com",
            "property=\"og:site_name\" content=\"realtor.com",
        ],
    },
    SiteMarkers {
        source: Source::Facebook,
        domains: &["facebook.com", "fbcdn.net"],
        strong: &["<html id=\"facebook\"", "| facebook</title>"],
    },
    SiteMarkers {
        source: Source::Fsbo,
        domains: &["forsalebyowner.com"],
        strong: &["| forsalebyowner.com</title>"],
    },
    SiteMarkers {
        source: Source::Linkedin,
        domains: &["linkedin.com"],
        // The member data export's Shares.csv header and the Posts API's share URNs.
        strong: &[
            "date,sharelink,sharecommentary,sharedurl,mediaurl,visibility",
            "\"id\":\"urn:li:share:",
            "\"id\": \"urn:li:share:",
            "\"id\":\"urn:li:ugcpost:",
            "\"id\": \"urn:li:ugcpost:",
        ],
    },
];

/// Which site `html` (optionally fetched from `url`) belongs to, or `None` when nothing points to a
/// known site.
///
/// The URL host decides when it names a known site. Otherwise the page's own markers decide (a title
/// such as "... | Zillow", `og:site_name`, Facebook's `<html id="facebook">`), and failing those, the
/// site whose domains the page mentions most (Trulia pages link to Zillow a few times, but to Trulia
/// dozens of times).
///
/// ```
/// use aiq_connectors::detect::detect_site;
/// use aiq_schemas::Source;
/// let blocked = r#"<html><head><title>blocked</title></head><body>Your request has been blocked.
///     <a href="https://www.craigslist.org/contact?step=form&reqType=help_blocks">contact us</a></body></html>"#;
/// assert_eq!(detect_site(blocked, None), Some(Source::Craigslist));
/// assert_eq!(detect_site("<p>hello</p>", Some("https://www.zillow.com/homes/")), Some(Source::Zillow));
/// assert_eq!(detect_site("<p>hello</p>", None), None);
/// ```
pub fn detect_site(html: &str, url: Option<&str>) -> Option<Source> {
    if let Some(source) = url.and_then(site_from_url) {
        return Some(source);
    }
    if is_odata_json(html) {
        return Some(Source::Reso);
    }
    let lowered = html.to_ascii_lowercase();
    if let Some(site) = SITES
        .iter()
        .find(|site| site.strong.iter().any(|marker| lowered.contains(marker)))
    {
        return Some(site.source);
    }
    SITES
        .iter()
        .map(|site| {
            let mentions: usize = site
                .domains
                .iter()
                .map(|domain| lowered.matches(domain).count())
                .sum();
            (mentions, site.source)
        })
        .filter(|(mentions, _)| *mentions > 0)
        // `max_by_key` keeps the last maximum; reversing first makes ties go to the earlier site.
        .rev()
        .max_by_key(|(mentions, _)| *mentions)
        .map(|(_, source)| source)
}

/// A RESO Web API (OData JSON) response: a JSON object whose first members carry OData
/// annotations. Only the start is read, so a large page costs nothing here.
fn is_odata_json(body: &str) -> bool {
    let body = body.trim_start_matches('\u{feff}').trim_start();
    if !body.starts_with('{') {
        return false;
    }
    let mut head_end = body.len().min(4096);
    while !body.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let head = &body[..head_end];
    head.contains("\"@odata.context\"") || head.contains("\"@odata.nextLink\"")
}

fn site_from_url(url: &str) -> Option<Source> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    SITES
        .iter()
        .find(|site| {
            site.domains.iter().any(|domain| {
                host == *domain
                    || host
                        .strip_suffix(domain)
                        .is_some_and(|prefix| prefix.ends_with('.'))
            })
        })
        .map(|site| site.source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_dir(site: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/html")
            .join(site)
    }

    /// Every saved HTML page of every site is recognised as its own site, with no URL to help.
    #[test]
    fn every_shared_html_page_is_recognised_from_its_markup() {
        let sites = [
            ("craigslist", Source::Craigslist),
            ("zillow", Source::Zillow),
            ("trulia", Source::Trulia),
            ("redfin", Source::Redfin),
            ("facebook", Source::Facebook),
        ];
        let mut checked = 0;
        for (folder, expected) in sites {
            let entries = std::fs::read_dir(shared_dir(folder)).expect("shared data present");
            for entry in entries {
                let path = entry.expect("readable dir entry").path();
                if path.extension().and_then(|ext| ext.to_str()) != Some("html") {
                    continue;
                }
                let body = std::fs::read(&path).expect("readable page");
                let html = crate::decode::decode_html(&body, None);
                assert_eq!(
                    detect_site(&html, None),
                    Some(expected),
                    "{}",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked >= 30, "only {checked} pages checked");
    }

    #[test]
    fn url_host_decides_when_known() {
        assert_eq!(
            detect_site(
                "",
                Some("https://atlanta.craigslist.org/nat/apa/d/x/7501755803.html")
            ),
            Some(Source::Craigslist)
        );
        assert_eq!(
            detect_site("", Some("https://www.redfin.com/WA/Kenmore/home/282664")),
            Some(Source::Redfin)
        );
        assert_eq!(
            detect_site(
                "",
                Some("https://www.realtor.com/realestateandhomes-detail/x")
            ),
            Some(Source::Realtor)
        );
        assert_eq!(
            detect_site("", Some("https://www.facebook.com/marketplace/item/1")),
            Some(Source::Facebook)
        );
        // A look-alike host is not the site.
        assert_eq!(detect_site("", Some("https://notzillow.com/x")), None);
        // An unknown host falls through to the page markers.
        assert_eq!(
            detect_site(
                "<title>Homes | Trulia.com</title>",
                Some("http://127.0.0.1:8080/page")
            ),
            Some(Source::Trulia)
        );
        assert_eq!(detect_site("", Some("not a url")), None);
    }

    #[test]
    fn domain_mentions_break_the_tie_when_no_strong_marker() {
        let page = "<a href=https://www.zillow.com/a>a</a><img src=https://ap.rdcpix.com/1.jpg><img src=https://ap.rdcpix.com/2.jpg>";
        assert_eq!(detect_site(page, None), Some(Source::Realtor));
    }
}

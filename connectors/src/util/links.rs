//! The page URL every parser is given, and the base its site-relative links resolve against.

use url::Url;

use crate::error::{Error, Result};

/// The absolute URL a page was fetched from (or a `file:` URL for a saved page).
///
/// Errors: [`Error::InvalidUrl`] when `url` does not parse, e.g. because it is relative: without
/// the page's own URL no link on it can be resolved.
pub(crate) fn parse_page_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|error| Error::InvalidUrl {
        url: url.to_owned(),
        detail: error.to_string(),
    })
}

/// Whether `url` is on the web (`http` or `https`), not a saved file or another scheme.
pub(crate) fn is_web_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// The base for a site's relative links: the page itself when it came from a web server (so a
/// mirror or a test server keeps its own links), else `site_origin` (a saved file opened from
/// disk, whose links meant the site). Falls back to the page when `site_origin` does not parse.
pub(crate) fn link_base(page_url: &Url, site_origin: &str) -> Url {
    if is_web_url(page_url) {
        page_url.clone()
    } else {
        Url::parse(site_origin).unwrap_or_else(|_| page_url.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://www.example-homes.com";

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL parses")
    }

    #[test]
    fn relative_and_garbage_page_urls_are_invalid() {
        for bad in ["/homes/1", "", "not a url"] {
            let error = parse_page_url(bad).expect_err(bad);
            assert_eq!(error.code(), "invalid_url");
            assert!(error.to_string().contains(bad), "{error}");
        }
        assert_eq!(
            parse_page_url("file:///tmp/page.html")
                .ok()
                .map(|u| u.scheme().to_owned()),
            Some("file".to_owned())
        );
    }

    #[test]
    fn web_pages_are_their_own_base() {
        let mirror = url("http://127.0.0.1:8080/homes/search?page=2");
        assert_eq!(link_base(&mirror, ORIGIN), mirror);
        let live = url("https://www.example-homes.com/a/b");
        assert_eq!(link_base(&live, ORIGIN), live);
        assert_eq!(
            link_base(&mirror, ORIGIN).join("/home/7").map(String::from),
            Ok("http://127.0.0.1:8080/home/7".to_owned())
        );
    }

    #[test]
    fn saved_files_resolve_against_the_site() {
        let saved = url("file:///data/html/site/page.html");
        assert_eq!(link_base(&saved, ORIGIN), url(ORIGIN));
        assert_eq!(
            link_base(&saved, ORIGIN).join("/home/7").map(String::from),
            Ok("https://www.example-homes.com/home/7".to_owned())
        );
        // A broken origin never panics: the page itself is the base.
        assert_eq!(link_base(&saved, "no origin"), saved);
    }

    #[test]
    fn only_http_and_https_are_web() {
        assert!(is_web_url(&url("http://a.example/")));
        assert!(is_web_url(&url("https://a.example/")));
        assert!(!is_web_url(&url("file:///a")));
        assert!(!is_web_url(&url("ftp://a.example/")));
        assert!(!is_web_url(&url("data:text/html,x")));
    }
}

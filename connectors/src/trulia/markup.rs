//! The visible facts of a 2016-2017 Trulia property page, found by substring search: each fact sits
//! in a small, well-marked piece of the page, so only those pieces (a few hundred bytes each) go
//! through the HTML parser, for correct entity and tag handling, never the whole 150-190 KB page.

use std::sync::LazyLock;

use regex::Regex;
use scraper::Html;

/// What the page shows; `None` where it does not show the fact.
#[derive(Default, Debug)]
pub(super) struct Facts {
    pub(super) title: Option<String>,
    pub(super) canonical_url: Option<String>,
    pub(super) status: Option<String>,
    pub(super) price: Option<String>,
    pub(super) street: Option<String>,
    pub(super) city: Option<String>,
    pub(super) state: Option<String>,
    pub(super) postal_code: Option<String>,
    /// The total in the fact box ("3.5"): Trulia's own count of full plus half baths.
    pub(super) bathrooms: Option<String>,
    pub(super) description: Option<String>,
    /// "<1", "2", "180+" from "N Days on Trulia".
    pub(super) days_on_site: Option<String>,
    pub(super) updated_at: Option<String>,
    pub(super) year_built: Option<String>,
    pub(super) lot_size: Option<String>,
    pub(super) broker_name: Option<String>,
    pub(super) broker_phone: Option<String>,
    pub(super) agent_phone: Option<String>,
}

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\(?\b\d{3}\)?[ .-]?\d{3}[ .-]\d{4}\b").expect("static regex is valid")
});

impl Facts {
    pub(super) fn read(html: &str) -> Facts {
        let mut facts = Facts {
            title: element_after(html, "<title", "</title>"),
            canonical_url: tag_attribute(html, "rel=\"canonical\"", "href")
                .or_else(|| tag_attribute(html, "property=\"og:url\"", "content")),
            status: element_after(html, "data-role=\"top_third_details_module\"", "</div>")
                .and_then(|module| {
                    // The module opens with `<div class="typeHighlight ...">For Sale</div>`.
                    let text = module.trim();
                    (!text.is_empty() && text.len() < 40).then(|| text.to_owned())
                }),
            price: element_after(html, "itemprop=\"price\"", "</"),
            street: element_after(html, "itemprop=\"streetAddress\"", "</"),
            city: element_after(html, "itemprop=\"addressLocality\"", "</"),
            state: element_after(html, "itemprop=\"addressRegion\"", "</"),
            postal_code: element_after(html, "itemprop=\"postalCode\"", "</"),
            bathrooms: fact_box_value(html, "Baths:"),
            description: element_after(html, "id=\"corepropertydescription\"", "</span>"),
            updated_at: text_after(html, "Information last updated on")
                .map(|text| text.trim_end_matches(':').trim().to_owned()),
            ..Facts::default()
        };
        for item in detail_items(html) {
            if let Some(days) = item.strip_suffix(" Days on Trulia") {
                facts.days_on_site = Some(days.trim().to_owned());
            } else if let Some(year) = item.strip_prefix("Built in ") {
                facts.year_built = Some(year.trim().to_owned());
            } else if let Some(lot) = item.strip_prefix("Lot size: ") {
                facts.lot_size = Some(lot.trim().to_owned());
            }
        }
        facts.read_contact(html);
        facts
    }

    /// The "Listing Provided by" box: agent name, broker (linked), the broker's phone, and
    /// "Agent Phone: ...".
    fn read_contact(&mut self, html: &str) {
        let Some(at) = html.find("Listing Provided by</h2>") else {
            return;
        };
        let rest = &html[at..];
        let end = rest.find("MLS Disclaimer").unwrap_or(rest.len()).min(3000);
        let end = floor_char_boundary(rest, end);
        let block = text_of_fragment(&rest[..end]);
        self.broker_name = tag_attribute(&rest[..end], "<a href=\"/transfer", "title");
        let (before_agent, agent) = match block.split_once("Agent Phone:") {
            Some((before, agent)) => (before, Some(agent)),
            None => (block.as_str(), None),
        };
        self.broker_phone = PHONE.find(before_agent).map(|m| m.as_str().to_owned());
        self.agent_phone = agent
            .and_then(|agent| PHONE.find(agent))
            .map(|m| m.as_str().to_owned());
    }
}

/// The `<li>` texts of the fact list under the address (`ul.listingDetails`).
fn detail_items(html: &str) -> Vec<String> {
    let Some(at) = html.find("listBulleted listingDetails") else {
        return Vec::new();
    };
    let rest = &html[at..];
    let end = rest.find("</ul>").unwrap_or(rest.len().min(4000));
    rest[..end]
        .split("<li>")
        .skip(1)
        .filter_map(|item| item.split("</li>").next())
        .map(text_of_fragment)
        .filter(|text| !text.is_empty())
        .collect()
}

/// The "current" value of a row of the Report Listing Error fact box (`Baths:` -> "3.5"); "n/a"
/// is none.
fn fact_box_value(html: &str, label: &str) -> Option<String> {
    let marker = format!("property_info_row_label\">{label}</div>");
    let at = html.find(&marker)? + marker.len();
    let value = element_after(&html[at..], "property_info_row_org_val", "</div>")?;
    (!value.eq_ignore_ascii_case("n/a") && value != "--").then_some(value)
}

/// The text from the end of the tag that contains `marker` to the next `close`, tags stripped and
/// entities decoded, as one line. `None` when blank.
fn element_after(html: &str, marker: &str, close: &str) -> Option<String> {
    let at = html.find(marker)?;
    let open_end = at + html[at..].find('>')? + 1;
    let end = open_end + html[open_end..].find(close)?;
    let text = text_of_fragment(&html[open_end..end]);
    (!text.is_empty()).then_some(text)
}

/// The text that follows `marker` (itself page text, not a tag) up to the next tag, as one line.
fn text_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = start + html[start..].find('<')?;
    let text = text_of_fragment(&html[start..end]);
    (!text.is_empty()).then_some(text)
}

/// `attribute="..."` of the tag that contains `marker`.
fn tag_attribute(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!("{attribute}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    let value = tag[start..end].trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// A markup fragment's text as one line (whitespace collapsed). `<wbr />` and other inline tags
/// join the words they split ("lo<wbr />cated" is "located").
fn text_of_fragment(fragment: &str) -> String {
    let parsed = Html::parse_fragment(fragment);
    let raw: String = parsed.root_element().text().collect();
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_join_split_words_and_decode_entities() {
        assert_eq!(
            text_of_fragment("Home lo<wbr />cated &amp; 3 &frac12; baths\n  here"),
            "Home located & 3 ½ baths here"
        );
        assert_eq!(text_of_fragment("<1 Days on Trulia"), "<1 Days on Trulia");
    }

    #[test]
    fn contact_box_gives_broker_and_agent_phones() {
        let html = r#"<h2 class="typeEmphasize">Listing Provided by</h2><div><p><span>Jill W,</span>
            <a href="/transfer.php?s_id=1" title="Berkshire Hathaway">Berkshire Hathaway</a>
            <span>, (203) 426-8426</span></p><p>Agent Phone: (203) 733-2198</p></div>
            <p>MLS Disclaimer: x</p>"#;
        let facts = Facts::read(html);
        assert_eq!(facts.broker_name.as_deref(), Some("Berkshire Hathaway"));
        assert_eq!(facts.broker_phone.as_deref(), Some("(203) 426-8426"));
        assert_eq!(facts.agent_phone.as_deref(), Some("(203) 733-2198"));
    }

    #[test]
    fn fact_box_skips_unknown_values() {
        let html = r#"<div class="property_info_row_label">Beds:</div>
            <div class="property_info_row_org_val">n/a</div>
            <div class="property_info_row_label">Baths:</div>
            <div class="property_info_row_org_val">3.5</div>"#;
        assert_eq!(fact_box_value(html, "Beds:"), None);
        assert_eq!(fact_box_value(html, "Baths:").as_deref(), Some("3.5"));
        assert_eq!(fact_box_value(html, "Sqft:"), None);
    }
}

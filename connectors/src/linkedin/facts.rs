//! Whether a post's text announces a property (or a seller's intent), and the facts it states:
//! price, rooms, area, address, contact. Plain rules over the text, each written to keep a false
//! positive out rather than to catch every phrasing.

use std::sync::LazyLock;

use regex::Regex;

/// What a post says, for the listing it becomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PostFacts {
    /// The phrase that made it a property post ("just listed", "selling my home"...).
    pub(crate) signal: &'static str,
    /// `"sale"` or `"rent"` when the text says which.
    pub(crate) kind: Option<&'static str>,
    /// A seller telling of their own plan to sell, not an agent announcing a listing.
    pub(crate) seller_intent: bool,
    pub(crate) price: Option<String>,
    pub(crate) bedrooms: Option<String>,
    pub(crate) bathrooms: Option<String>,
    pub(crate) area: Option<String>,
    pub(crate) street: Option<String>,
    pub(crate) city: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) postal_code: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
}

/// Announcement phrases, with the kind each implies. Lower-case; matched on word boundaries.
const ANNOUNCEMENTS: &[(&str, Option<&str>)] = &[
    ("just listed", Some("sale")),
    ("new listing", None),
    ("newly listed", None),
    ("for sale", Some("sale")),
    ("for rent", Some("rent")),
    ("for lease", Some("rent")),
    ("now leasing", Some("rent")),
    ("available for rent", Some("rent")),
    ("open house", Some("sale")),
    ("price reduced", Some("sale")),
    ("price improvement", Some("sale")),
    ("coming soon", Some("sale")),
    ("back on the market", Some("sale")),
    ("listed at", Some("sale")),
    ("offered at", Some("sale")),
];

/// A seller speaking of their own home; the kind is always a sale.
static SELLER_INTENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:selling|sell|list|listing)\s+(?:my|our)\s+(?:home|house|condo|townhome|townhouse|property|place|duplex|land|lot|ranch|farm)\b|\b(?:thinking (?:about|of)|planning (?:to|on)|looking to|ready to|decided to|want to|need to)\s+(?:sell|selling|list|listing)\s+(?:my|our|the)\s+(?:home|house|condo|townhome|townhouse|property|place|duplex)\b|\bfor sale by owner\b|\bfsbo\b",
    )
    .expect("valid regex")
});

/// Words that make a "for sale" about real estate rather than a car or a ticket.
static PROPERTY_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:home|homes|house|condo|condominium|townhome|townhouse|apartment|property|duplex|triplex|fourplex|bungalow|cottage|cabin|ranch|acres?|lot|land|bedrooms?|beds?|bd|br|baths?|bathrooms?|ba|sq\.?\s?ft|sqft|square feet|real estate|mls|listing)\b",
    )
    .expect("valid regex")
});

/// Posts about a deal already done: congratulations, not a lead.
static CLOSED_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:just sold|sold!|closed on|we closed|congrat(?:s|ulations)|under contract|off the market)\b")
        .expect("valid regex")
});

static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\$\s?\d{1,3}(?:,\d{3})+(?:\.\d{2})?(?:\s?(?:/\s?mo(?:nth)?|per month|/\s?month))?|\$\s?\d+(?:\.\d+)?\s?[km]\b|\$\s?\d+(?:\s?(?:/\s?mo(?:nth)?|per month))?",
    )
    .expect("valid regex")
});
static BEDROOMS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b\d+(?:\.\d+)?\s?(?:-\s?)?(?:bedrooms?|beds?|bds?|br)\b|\bstudio\b")
        .expect("valid regex")
});
static BATHROOMS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b\d+(?:\.\d+)?\s?(?:-\s?)?(?:bathrooms?|baths?|bths?|ba)\b")
        .expect("valid regex")
});
static AREA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b\d{1,3}(?:,\d{3})+\s?(?:sq\.?\s?ft\.?|sqft|square feet|sf)|\b\d{3,6}\s?(?:sq\.?\s?ft\.?|sqft|square feet|sf)\b")
        .expect("valid regex")
});
/// A US street line: number, up to five words, a street suffix, an optional unit.
static STREET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z0-9][A-Za-z0-9'.-]*\s+){1,5}(?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Lane|Ln|Court|Ct|Boulevard|Blvd|Way|Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Trail|Trl|Loop|Square|Sq)\b\.?(?:\s*(?:#|Unit|Apt\.?|Suite)\s*[A-Za-z0-9-]+)?",
    )
    .expect("valid regex")
});
/// ", City, ST 12345" right after the street line (the ZIP optional).
static CITY_STATE_ZIP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^,?\s*([A-Z][A-Za-z.'-]*(?:\s+[A-Z][A-Za-z.'-]*){0,3}),\s*([A-Z]{2})\b(?:\s+(\d{5}(?:-\d{4})?))?")
        .expect("valid regex")
});
/// "in City, ST" anywhere, when no street line names the place.
static IN_CITY_STATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bin\s+([A-Z][A-Za-z.'-]*(?:\s+[A-Z][A-Za-z.'-]*){0,3}),\s*([A-Z]{2})\b(?:\s+(\d{5}(?:-\d{4})?))?")
        .expect("valid regex")
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+1[\s.-]?)?\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b").expect("valid regex")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b").expect("valid regex")
});

/// The two-letter codes accepted as a state, so "in Reno, NV" counts and "in Q3, OK?" would too
/// only where OK is Oklahoma.
const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR",
];

/// Why a post is not a property post.
pub(crate) fn judge(text: &str) -> Result<PostFacts, &'static str> {
    let lower = text.to_lowercase();
    let mut announcements = ANNOUNCEMENTS
        .iter()
        .filter(|(phrase, _)| contains_phrase(&lower, phrase))
        .peekable();
    // The first phrase found names the signal; the kind comes from any phrase that states one
    // ("New listing ... listed at $1.2M" is a sale).
    let announcement = announcements
        .peek()
        .map(|(phrase, _)| *phrase)
        .map(|phrase| {
            let kind = announcements.find_map(|(_, kind)| *kind);
            (phrase, kind)
        });
    let seller_intent = SELLER_INTENT.find(text).is_some();
    let has_property_word = PROPERTY_WORD.is_match(text);
    let (signal, kind) = match (announcement, seller_intent) {
        (_, true) => ("seller intent", Some("sale")),
        (Some((phrase, kind)), false) => {
            if !has_property_word {
                return Err("a sale or rent phrase, but nothing says it is real estate");
            }
            (phrase, kind)
        }
        (None, false) => {
            return Err(if CLOSED_ONLY.is_match(text) {
                "announces a closed deal, not an available property"
            } else {
                "no property announcement or seller intent"
            });
        }
    };
    let mut facts = PostFacts {
        signal,
        kind,
        seller_intent,
        ..PostFacts::default()
    };
    facts.price = first(&PRICE, text);
    if facts.kind.is_none()
        && facts
            .price
            .as_deref()
            .is_some_and(|price| price.contains('/') || price.contains("month"))
    {
        facts.kind = Some("rent");
    }
    facts.bedrooms = first(&BEDROOMS, text);
    facts.bathrooms = first(&BATHROOMS, text);
    facts.area = first(&AREA, text);
    if let Some(street) = STREET.find(text) {
        facts.street = Some(street.as_str().trim_end_matches('.').to_owned());
        if let Some(place) = CITY_STATE_ZIP.captures(&text[street.end()..]) {
            read_place(&mut facts, &place);
        }
    }
    if facts.state.is_none()
        && let Some(place) = IN_CITY_STATE.captures(text)
    {
        read_place(&mut facts, &place);
    }
    facts.phone = first(&PHONE, text);
    facts.email = first(&EMAIL, text);
    Ok(facts)
}

fn read_place(facts: &mut PostFacts, place: &regex::Captures<'_>) {
    let Some(state) = place.get(2).map(|state| state.as_str()) else {
        return;
    };
    if !STATES.contains(&state) {
        return;
    }
    facts.city = place.get(1).map(|city| city.as_str().to_owned());
    facts.state = Some(state.to_owned());
    facts.postal_code = place.get(3).map(|zip| zip.as_str().to_owned());
}

fn first(pattern: &Regex, text: &str) -> Option<String> {
    pattern
        .find(text)
        .map(|found| found.as_str().trim().to_owned())
}

/// `phrase` in `lower` with word boundaries on both sides.
fn contains_phrase(lower: &str, phrase: &str) -> bool {
    lower.match_indices(phrase).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_announcement_yields_its_facts() {
        let facts = judge(
            "JUST LISTED! 4 bed, 2.5 bath colonial, 2,350 sq ft at 118 Maple Ridge Dr, Naperville, IL 60540. Offered at $649,900. Call 630-555-0142.",
        )
        .expect("a listing post");
        assert_eq!(facts.signal, "just listed");
        assert_eq!(facts.kind, Some("sale"));
        assert_eq!(facts.price.as_deref(), Some("$649,900"));
        assert_eq!(facts.bedrooms.as_deref(), Some("4 bed"));
        assert_eq!(facts.bathrooms.as_deref(), Some("2.5 bath"));
        assert_eq!(facts.area.as_deref(), Some("2,350 sq ft"));
        assert_eq!(facts.street.as_deref(), Some("118 Maple Ridge Dr"));
        assert_eq!(facts.city.as_deref(), Some("Naperville"));
        assert_eq!(facts.state.as_deref(), Some("IL"));
        assert_eq!(facts.postal_code.as_deref(), Some("60540"));
        assert_eq!(facts.phone.as_deref(), Some("630-555-0142"));
    }

    #[test]
    fn seller_intent_counts_without_a_listing_phrase() {
        let facts = judge("We're thinking about selling our home in Boise, ID this spring.")
            .expect("seller intent");
        assert!(facts.seller_intent);
        assert_eq!(facts.kind, Some("sale"));
        assert_eq!(facts.city.as_deref(), Some("Boise"));
        assert_eq!(facts.state.as_deref(), Some("ID"));
    }

    #[test]
    fn other_posts_are_refused_with_a_reason() {
        assert_eq!(
            judge("Tickets for sale for Saturday's game, DM me."),
            Err("a sale or rent phrase, but nothing says it is real estate")
        );
        assert_eq!(
            judge("Just sold! Congratulations to the Nguyen family."),
            Err("announces a closed deal, not an available property")
        );
        assert_eq!(
            judge("We're hiring a backend engineer in Austin, TX."),
            Err("no property announcement or seller intent")
        );
        // "for salesforce" is not "for sale".
        assert!(judge("Great tips for salesforce admins, home office edition").is_err());
    }

    #[test]
    fn a_monthly_price_makes_a_rental() {
        let facts = judge("New listing: 2 bd / 1 ba apartment, $1,850/mo, near downtown.")
            .expect("a listing post");
        assert_eq!(facts.kind, Some("rent"));
        assert_eq!(facts.price.as_deref(), Some("$1,850/mo"));
        assert_eq!(facts.bedrooms.as_deref(), Some("2 bd"));
        assert_eq!(facts.bathrooms.as_deref(), Some("1 ba"));
    }
}

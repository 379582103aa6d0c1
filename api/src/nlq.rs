//! Natural-language search (`q`): "3-bedroom house under $300k within 5 miles of downtown Austin"
//! becomes filters, returned with the results so the agent sees how the words were understood.
//!
//! The parser is a set of patterns for the phrasings agents use (bedrooms, baths, price bounds and
//! ranges with `k`/`m` suffixes, property types, rent or sale, "within N miles/km of PLACE", "near
//! PLACE", "in CITY", ZIP codes, freshness, "with a pool"). Places come from a small built-in
//! gazetteer of US city centres (about 55 of the largest cities and state capitals; coordinates
//! of their downtowns): an unknown place is reported in `unparsed`, never guessed.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::search::Filters;

/// What a natural-language query was understood to mean.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ParsedQuery {
    pub filters: Filters,
    /// Phrases that were recognised, in the order of the text.
    pub understood: Vec<String>,
    /// Words left over that no rule used (shown so the agent can rephrase).
    pub unparsed: Vec<String>,
}

/// (name, state, latitude, longitude) of downtowns.
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("new york", "NY", 40.7128, -74.0060),
    ("manhattan", "NY", 40.7831, -73.9712),
    ("brooklyn", "NY", 40.6782, -73.9442),
    ("los angeles", "CA", 34.0522, -118.2437),
    ("chicago", "IL", 41.8781, -87.6298),
    ("houston", "TX", 29.7604, -95.3698),
    ("phoenix", "AZ", 33.4484, -112.0740),
    ("philadelphia", "PA", 39.9526, -75.1652),
    ("san antonio", "TX", 29.4241, -98.4936),
    ("san diego", "CA", 32.7157, -117.1611),
    ("dallas", "TX", 32.7767, -96.7970),
    ("san jose", "CA", 37.3382, -121.8863),
    ("austin", "TX", 30.2672, -97.7431),
    ("jacksonville", "FL", 30.3322, -81.6557),
    ("fort worth", "TX", 32.7555, -97.3308),
    ("columbus", "OH", 39.9612, -82.9988),
    ("charlotte", "NC", 35.2271, -80.8431),
    ("san francisco", "CA", 37.7749, -122.4194),
    ("indianapolis", "IN", 39.7684, -86.1581),
    ("seattle", "WA", 47.6062, -122.3321),
    ("denver", "CO", 39.7392, -104.9903),
    ("washington", "DC", 38.9072, -77.0369),
    ("boston", "MA", 42.3601, -71.0589),
    ("el paso", "TX", 31.7619, -106.4850),
    ("nashville", "TN", 36.1627, -86.7816),
    ("detroit", "MI", 42.3314, -83.0458),
    ("oklahoma city", "OK", 35.4676, -97.5164),
    ("portland", "OR", 45.5152, -122.6784),
    ("las vegas", "NV", 36.1699, -115.1398),
    ("memphis", "TN", 35.1495, -90.0490),
    ("louisville", "KY", 38.2527, -85.7585),
    ("baltimore", "MD", 39.2904, -76.6122),
    ("milwaukee", "WI", 43.0389, -87.9065),
    ("albuquerque", "NM", 35.0844, -106.6504),
    ("tucson", "AZ", 32.2226, -110.9747),
    ("fresno", "CA", 36.7378, -119.7871),
    ("sacramento", "CA", 38.5816, -121.4944),
    ("kansas city", "MO", 39.0997, -94.5786),
    ("atlanta", "GA", 33.7490, -84.3880),
    ("miami", "FL", 25.7617, -80.1918),
    ("raleigh", "NC", 35.7796, -78.6382),
    ("omaha", "NE", 41.2565, -95.9345),
    ("minneapolis", "MN", 44.9778, -93.2650),
    ("tampa", "FL", 27.9506, -82.4572),
    ("new orleans", "LA", 29.9511, -90.0715),
    ("cleveland", "OH", 41.4993, -81.6944),
    ("pittsburgh", "PA", 40.4406, -79.9959),
    ("st louis", "MO", 38.6270, -90.1994),
    ("orlando", "FL", 28.5383, -81.3792),
    ("salt lake city", "UT", 40.7608, -111.8910),
    ("cincinnati", "OH", 39.1031, -84.5120),
    ("honolulu", "HI", 21.3069, -157.8583),
    ("buffalo", "NY", 42.8864, -78.8784),
    ("richmond", "VA", 37.5407, -77.4360),
    ("boise", "ID", 43.6150, -116.2023),
    ("spokane", "WA", 47.6588, -117.4260),
];

const STATES: &[(&str, &str)] = &[
    ("alabama", "AL"),
    ("alaska", "AK"),
    ("arizona", "AZ"),
    ("arkansas", "AR"),
    ("california", "CA"),
    ("colorado", "CO"),
    ("connecticut", "CT"),
    ("delaware", "DE"),
    ("florida", "FL"),
    ("georgia", "GA"),
    ("hawaii", "HI"),
    ("idaho", "ID"),
    ("illinois", "IL"),
    ("indiana", "IN"),
    ("iowa", "IA"),
    ("kansas", "KS"),
    ("kentucky", "KY"),
    ("louisiana", "LA"),
    ("maine", "ME"),
    ("maryland", "MD"),
    ("massachusetts", "MA"),
    ("michigan", "MI"),
    ("minnesota", "MN"),
    ("mississippi", "MS"),
    ("missouri", "MO"),
    ("montana", "MT"),
    ("nebraska", "NE"),
    ("nevada", "NV"),
    ("new hampshire", "NH"),
    ("new jersey", "NJ"),
    ("new mexico", "NM"),
    ("new york", "NY"),
    ("north carolina", "NC"),
    ("north dakota", "ND"),
    ("ohio", "OH"),
    ("oklahoma", "OK"),
    ("oregon", "OR"),
    ("pennsylvania", "PA"),
    ("rhode island", "RI"),
    ("south carolina", "SC"),
    ("south dakota", "SD"),
    ("tennessee", "TN"),
    ("texas", "TX"),
    ("utah", "UT"),
    ("vermont", "VT"),
    ("virginia", "VA"),
    ("washington", "WA"),
    ("west virginia", "WV"),
    ("wisconsin", "WI"),
    ("wyoming", "WY"),
];

/// Radius used for "near PLACE" without a distance.
const NEAR_MILES: f64 = 10.0;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

const MONEY: &str = r"\$\s?(\d[\d,]*(?:\.\d+)?)\s*(k|m|thousand|million)?\b|\b(\d[\d,]*(?:\.\d+)?)\s*(k|m|thousand|million)\b|\b(\d{1,3}(?:,\d{3})+|\d{4,})\b";

static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?:between\s+)?(?P<a>{MONEY})\s*(?:-|–|to|and)\s*(?P<b>{MONEY})"
    ))
});
static MAX_PRICE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?:under|below|less than|max(?:imum)?|up to|no more than|at most|cheaper than|<)\s*(?P<a>{MONEY})"
    ))
});
static MIN_PRICE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?:over|above|more than|at least|min(?:imum)?|from|starting at|>)\s*(?P<a>{MONEY})"
    ))
});
static BEDS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:at least\s+|min(?:imum)?\s+)?(\d{1,2}|one|two|three|four|five|six|seven|eight)\s*\+?\s*-?\s*(?:bed(?:room)?s?|br|bd|bdrm?s?)\b",
    )
});
static BATHS: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(\d{1,2}(?:\.5)?|one|two|three|four)\s*\+?\s*-?\s*(?:bath(?:room)?s?|ba)\b")
});
static RADIUS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bwithin\s+(?:a\s+)?(\d+(?:\.\d+)?)\s*-?\s*(miles?|mi|km|kilometers?|kilometres?)\s+(?:of|from|around)\s+(?P<place>[a-z .,']+?)\s*(?:$|\b(?:with|under|below|over|above|for|posted|listed|between|that|and)\b)",
    )
});
static NEAR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:near|close to|around)\s+(?P<place>[a-z .,']+?)\s*(?:$|\b(?:with|under|below|over|above|for|posted|listed|between|that|and)\b)",
    )
});
static IN_PLACE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bin\s+(?P<place>[a-z .,']+?)\s*(?:$|\b(?:with|under|below|over|above|for|posted|listed|between|that|and|within|near)\b)",
    )
});
static ZIP: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?:zip(?:\s*code)?\s*|in\s+|near\s+)?(\d{5})\b"));
static FRESH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:(?:posted|listed|added|new)\s+)?(?:(today|this week|this month)|(?:in\s+)?the\s+(?:last|past)\s+(\d{1,3})\s+days?|(?:in\s+)?the\s+(?:last|past)\s+(week|month))\b",
    )
});
static WITH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bwith\s+(?:a\s+|an\s+)?(pool|garage|yard|backyard|fireplace|basement|balcony|patio|view|parking|washer|dryer|garden|deck|porch|elevator|gym|waterfront)\b",
    )
});
static RENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(for rent|to rent|rentals?|renting|for lease|lease|per month|a month|monthly|/mo)\b|/mo\b",
    )
});
static SALE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(for sale|to buy|buy|purchase|on the market)\b"));
static TYPE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(single[- ]family(?: homes?| houses?)?|houses?|homes?|apartments?|apts?|flats?|condos?|condominiums?|town ?houses?|town ?homes?|duplex(?:es)?|triplex(?:es)?|multi[- ]family|land|lots?|rooms?|mobile homes?|manufactured homes?)\b",
    )
});
static LOW_FRAUD: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(verified|no scams?|low fraud|trusted|legit(?:imate)?)\b"));

fn number_word(word: &str) -> Option<f64> {
    Some(match word {
        "one" => 1.0,
        "two" => 2.0,
        "three" => 3.0,
        "four" => 4.0,
        "five" => 5.0,
        "six" => 6.0,
        "seven" => 7.0,
        "eight" => 8.0,
        other => return other.parse().ok(),
    })
}

/// Dollars from a MONEY match: `$300k`, `300,000`, `1.2m`, `$2,500`.
fn money(text: &str) -> Option<f64> {
    let t = text.trim().trim_start_matches('$').trim();
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(|c| *c != ',')
        .collect();
    let value: f64 = digits.parse().ok()?;
    let suffix = t[t
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == ',' || *c == '.'))
        .map_or(t.len(), |(i, _)| i)..]
        .trim();
    let multiplier = match suffix {
        "k" | "thousand" => 1e3,
        "m" | "million" => 1e6,
        _ => 1.0,
    };
    Some(value * multiplier)
}

fn property_type(word: &str) -> &'static str {
    let w = word.replace('-', " ");
    if w.starts_with("single family") || w.starts_with("house") || w.starts_with("home") {
        "house"
    } else if w.starts_with("apartment") || w.starts_with("apt") || w.starts_with("flat") {
        "apartment"
    } else if w.starts_with("condo") {
        "condo"
    } else if w.starts_with("town") {
        "townhouse"
    } else if w.starts_with("duplex") || w.starts_with("triplex") || w.starts_with("multi") {
        "multi_family"
    } else if w.starts_with("land") || w.starts_with("lot") {
        "land"
    } else if w.starts_with("room") {
        "room"
    } else {
        "manufactured"
    }
}

/// A gazetteer place: "downtown Austin", "Austin, TX", "austin texas".
fn place(text: &str) -> Option<(&'static str, &'static str, f64, f64)> {
    let mut t = text
        .trim()
        .trim_end_matches(['.', ','])
        .replace(['.', '\''], "")
        .replace(',', " ");
    for prefix in ["the ", "downtown ", "central ", "center of ", "centre of "] {
        if let Some(rest) = t.strip_prefix(prefix) {
            t = rest.to_owned();
        }
    }
    let t = t.replace("saint ", "st ");
    let words: Vec<&str> = t.split_whitespace().collect();
    let joined = words.join(" ");
    CITIES.iter().copied().find(|(name, state, _, _)| {
        let Some(rest) = joined.strip_prefix(name) else {
            return false;
        };
        let rest = rest.trim();
        rest.is_empty()
            || rest.eq_ignore_ascii_case(state)
            || rest == "downtown"
            || STATES.iter().any(|(n, code)| code == state && *n == rest)
    })
}

/// Parses a natural-language query into filters.
pub fn parse(q: &str) -> ParsedQuery {
    let mut text = q.to_lowercase().replace('’', "'");
    let mut out = ParsedQuery::default();
    let f = &mut out.filters;
    // Each rule blanks what it used, so later rules and the leftover words do not see it again.
    let mut understood = Vec::new();

    if let Some((phrase, caps)) = take(&mut text, &RADIUS) {
        let distance: f64 = caps[1].parse().unwrap_or(0.0);
        let miles = if caps[2].starts_with('k') {
            distance / crate::search::KM_PER_MILE
        } else {
            distance
        };
        if let Some((name, state, lat, lon)) = place(&caps["place"]) {
            f.lat = Some(lat);
            f.lon = Some(lon);
            f.radius_miles = Some(miles);
            f.place = Some(format!("{}, {state}", title_case(name)));
            understood.push(phrase);
        } else {
            out.unparsed.push(caps["place"].trim().to_owned());
        }
    } else if let Some((phrase, caps)) = take(&mut text, &NEAR) {
        if let Some((name, state, lat, lon)) = place(&caps["place"]) {
            f.lat = Some(lat);
            f.lon = Some(lon);
            f.radius_miles = Some(NEAR_MILES);
            f.place = Some(format!("{}, {state}", title_case(name)));
            understood.push(phrase);
        } else if let Some(zip) = ZIP.captures(&caps["place"]) {
            f.postal_code = Some(zip[1].to_owned());
            understood.push(phrase);
        } else {
            out.unparsed.push(caps["place"].trim().to_owned());
        }
    }
    if let Some((phrase, caps)) = take(&mut text, &RANGE) {
        let a = money(&caps["a"]);
        let b = money(&caps["b"]);
        if let (Some(a), Some(b)) = (a, b) {
            f.min_price = Some(a.min(b));
            f.max_price = Some(a.max(b));
            understood.push(phrase);
        }
    }
    if f.max_price.is_none()
        && let Some((phrase, caps)) = take(&mut text, &MAX_PRICE)
    {
        f.max_price = money(&caps["a"]);
        understood.push(phrase);
    }
    if f.min_price.is_none()
        && let Some((phrase, caps)) = take(&mut text, &MIN_PRICE)
    {
        f.min_price = money(&caps["a"]);
        understood.push(phrase);
    }
    if let Some((phrase, caps)) = take(&mut text, &BEDS) {
        f.min_beds = number_word(&caps[1]).map(|v| v as u8);
        understood.push(phrase);
    }
    if let Some((phrase, caps)) = take(&mut text, &BATHS) {
        f.min_baths = number_word(&caps[1]).map(|v| v as f32);
        understood.push(phrase);
    }
    if let Some((phrase, caps)) = take(&mut text, &TYPE) {
        f.property_type = Some(property_type(&caps[1]).to_owned());
        understood.push(phrase);
    }
    if let Some((phrase, _)) = take(&mut text, &RENT) {
        f.kind = Some("rent".into());
        understood.push(phrase);
    } else if let Some((phrase, _)) = take(&mut text, &SALE) {
        f.kind = Some("sale".into());
        understood.push(phrase);
    } else if f.max_price.or(f.min_price).is_some_and(|p| p >= 20_000.0) {
        // Nobody rents for $20,000 a month: a price that high means a sale.
        f.kind = Some("sale".into());
    }
    if let Some((phrase, caps)) = take(&mut text, &FRESH) {
        f.max_age_days = Some(match (caps.get(1), caps.get(2), caps.get(3)) {
            (Some(m), _, _) => match m {
                "today" => 1,
                "this week" => 7,
                _ => 31,
            },
            (_, Some(days), _) => days.parse().unwrap_or(7),
            (_, _, Some(unit)) => {
                if unit == "week" {
                    7
                } else {
                    31
                }
            }
            _ => 7,
        });
        understood.push(phrase);
    }
    if f.lat.is_none()
        && f.postal_code.is_none()
        && let Some((phrase, caps)) = take(&mut text, &ZIP)
    {
        f.postal_code = Some(caps[1].to_owned());
        understood.push(phrase);
    }
    if f.lat.is_none()
        && let Some((phrase, caps)) = take(&mut text, &IN_PLACE)
    {
        if let Some((name, state, _, _)) = place(&caps["place"]) {
            f.city = Some(title_case(name));
            f.state = Some(state.to_owned());
            understood.push(phrase);
        } else if let Some((_, code)) = STATES.iter().find(|(n, _)| *n == caps["place"].trim()) {
            f.state = Some((*code).to_owned());
            understood.push(phrase);
        } else {
            out.unparsed.push(caps["place"].trim().to_owned());
        }
    }
    let mut words = Vec::new();
    while let Some((phrase, caps)) = take(&mut text, &WITH) {
        words.push(caps[1].to_owned());
        understood.push(phrase);
    }
    if !words.is_empty() {
        f.text = Some(words.join(" "));
    }
    if let Some((phrase, _)) = take(&mut text, &LOW_FRAUD) {
        f.max_fraud_score = Some(0.3);
        understood.push(phrase);
    }
    const FILLER: [&str; 22] = [
        "a", "an", "the", "i", "want", "need", "looking", "for", "me", "show", "find", "with",
        "and", "or", "of", "in", "to", "that", "is", "are", "leads", "listings",
    ];
    out.unparsed.extend(
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && !FILLER.contains(w))
            .map(str::to_owned),
    );
    out.understood = understood;
    out
}

/// What a rule matched, owned (the text it came from is then blanked).
struct Taken {
    groups: Vec<Option<String>>,
    named: Vec<(String, String)>,
}

impl Taken {
    fn get(&self, index: usize) -> Option<&str> {
        self.groups.get(index).and_then(|g| g.as_deref())
    }
}

impl std::ops::Index<usize> for Taken {
    type Output = str;
    fn index(&self, index: usize) -> &str {
        self.get(index).unwrap_or("")
    }
}

impl std::ops::Index<&str> for Taken {
    type Output = str;
    fn index(&self, name: &str) -> &str {
        self.named
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Finds `re` in `text`, blanks the match, and returns the phrase and its groups.
fn take(text: &mut String, re: &Regex) -> Option<(String, Taken)> {
    let (range, taken) = {
        let caps = re.captures(text)?;
        let whole = caps.get(0)?;
        let groups = (0..caps.len())
            .map(|i| caps.get(i).map(|m| m.as_str().to_owned()))
            .collect();
        let named = re
            .capture_names()
            .flatten()
            .filter_map(|n| caps.name(n).map(|m| (n.to_owned(), m.as_str().to_owned())))
            .collect();
        // Place patterns end at the next keyword ("with", "under"...), which belongs to the next
        // rule: only blank up to the end of the place.
        let end = caps.name("place").map_or(whole.end(), |p| p.end());
        (whole.start()..end, Taken { groups, named })
    };
    let phrase = text[range.clone()].trim().to_owned();
    text.replace_range(range.clone(), &" ".repeat(range.len()));
    Some((phrase, taken))
}

fn title_case(name: &str) -> String {
    name.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

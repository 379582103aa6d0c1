//! The compact per-listing record dedupe compares: fixed-size numbers and one short inline string,
//! so that a million active listings fit in about a hundred megabytes.

use aiq_schemas::{Listing, ListingKind};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::geo;

/// Stable 64-bit key of a listing: xxh3 of `source \x1f source_listing_id`. The property id of a
/// cluster is the smallest key among its members.
pub(crate) fn listing_key(listing: &Listing) -> u64 {
    let source = listing.source.as_str().as_bytes();
    let id = listing.source_listing_id.trim().as_bytes();
    let total = source.len() + 1 + id.len();
    // Ids are short; hash from the stack and only allocate for unusually long ones.
    let mut stack = [0u8; 96];
    let mut heap = Vec::new();
    let bytes: &mut [u8] = if total <= stack.len() {
        &mut stack[..total]
    } else {
        heap.resize(total, 0);
        &mut heap
    };
    bytes[..source.len()].copy_from_slice(source);
    bytes[source.len()] = 0x1f;
    bytes[source.len() + 1..].copy_from_slice(id);
    xxh3_64(bytes)
}

/// How a listing is located, which decides where dedupe looks for its duplicates.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationClass {
    /// Street number and ZIP code: blocked on (ZIP, number).
    Addressed,
    /// No (ZIP, number) pair but coordinates: blocked on neighbouring H3 cells.
    Geo,
    /// Street number and city but neither ZIP code nor coordinates: blocked on (city, state, number).
    Town,
    /// Neither address nor coordinates: matches only an identical title, price and bedrooms in the same
    /// city.
    Unlocated,
}

/// Street name kept inline: lower-case words, standard suffixes abbreviated, at most 22 bytes. Longer
/// names are cut on a character boundary (both sides of a comparison are cut the same way).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct InlineName {
    len: u8,
    full: bool,
    bytes: [u8; 22],
}

impl InlineName {
    const CAPACITY: usize = 22;

    /// Appends a word (space-separated). A word that does not fit ends the name: the first word is cut
    /// on a character boundary, later ones are dropped whole.
    fn push_word(&mut self, word: &str) {
        if self.is_full() {
            return;
        }
        let len = usize::from(self.len);
        let separator = usize::from(len > 0);
        let room = Self::CAPACITY.saturating_sub(len + separator);
        if word.len() > room {
            if len == 0 {
                let mut cut = room;
                while !word.is_char_boundary(cut) {
                    cut -= 1;
                }
                self.push(&word[..cut]);
            }
            // Mark the name complete so later words are not appended after a gap.
            self.full = true;
            return;
        }
        if separator == 1 {
            self.push(" ");
        }
        self.push(word);
    }

    fn is_full(&self) -> bool {
        self.full
    }

    fn push(&mut self, text: &str) {
        let start = usize::from(self.len);
        self.bytes[start..start + text.len()].copy_from_slice(text.as_bytes());
        self.len += text.len() as u8;
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn from_stored(text: &str) -> Self {
        let mut name = InlineName::default();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            name.push_word(word);
        }
        name
    }
}

impl std::fmt::Debug for InlineName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Everything dedupe compares about one listing. `0` / `NaN` / `u8::MAX` mean "not given".
#[derive(Clone, Copy, Debug)]
pub(crate) struct Features {
    pub(crate) key: u64,
    pub(crate) class: LocationClass,
    /// (ZIP, number), (city, state, number) or the identity hash, tagged by class; 0 for none.
    pub(crate) block: u64,
    /// Resolution-9 H3 cell, 0 for none.
    pub(crate) cell: u64,
    /// 64-bit word-set sketch of the title (see [`title_sketch`]).
    pub(crate) title_sketch: u64,
    pub(crate) lat: f32,
    pub(crate) lon: f32,
    pub(crate) price: f32,
    /// Living area in square feet, 0 for none.
    pub(crate) area_sqft: u32,
    pub(crate) unit: u32,
    pub(crate) number: u32,
    pub(crate) street: InlineName,
    pub(crate) beds: u8,
    /// Bathrooms times two (1.5 baths = 3).
    pub(crate) baths_halves: u8,
    /// 0 unknown, 1 rent, 2 sale.
    pub(crate) kind: u8,
    /// Pre-directional code, 0 for none.
    pub(crate) predir: u8,
}

pub(crate) const NO_U8: u8 = u8::MAX;

impl Features {
    pub(crate) fn from_listing(listing: &Listing) -> Self {
        let street = listing
            .street_address
            .as_deref()
            .map(parse_street)
            .unwrap_or_default();
        let unit = listing
            .unit_number
            .as_deref()
            .map(unit_hash)
            .filter(|&u| u != 0)
            .unwrap_or(street.unit);
        let zip = geo::zip5(listing.postal_code.as_deref());
        let cell = geo::cell_of(listing).map(u64::from).unwrap_or(0);
        let coords = geo::coordinates(listing);
        let city = listing
            .city
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let state = listing
            .state_or_province
            .as_deref()
            .map(str::trim)
            .unwrap_or("");

        let (class, block) = if let (Some(number), Some(zip)) = (street.number_text, zip) {
            (LocationClass::Addressed, tagged_hash(b'a', &[zip, number]))
        } else if cell != 0 {
            (LocationClass::Geo, 0)
        } else if let (Some(number), Some(city)) = (street.number_text, city) {
            let city = city.to_lowercase();
            let state = state.to_ascii_lowercase();
            (
                LocationClass::Town,
                tagged_hash(b't', &[&city, &state, number]),
            )
        } else {
            (
                LocationClass::Unlocated,
                identity_hash(listing, city, state),
            )
        };

        Features {
            key: listing_key(listing),
            class,
            block,
            cell,
            title_sketch: listing.title.as_deref().map(title_sketch).unwrap_or(0),
            lat: coords.map_or(f32::NAN, |(lat, _)| lat as f32),
            lon: coords.map_or(f32::NAN, |(_, lon)| lon as f32),
            price: listing
                .list_price
                .filter(|p| p.is_finite() && *p > 0.0)
                .map_or(f32::NAN, |p| p as f32),
            area_sqft: listing.living_area_sqft.unwrap_or(0),
            unit,
            number: street.number,
            street: street.name,
            beds: listing
                .bedrooms_total
                .filter(|&b| b != NO_U8)
                .unwrap_or(NO_U8),
            baths_halves: listing
                .bathrooms_total
                .filter(|b| b.is_finite() && *b >= 0.0 && *b < 100.0)
                .map_or(NO_U8, |b| (b * 2.0).round() as u8),
            kind: match listing.listing_kind {
                None => 0,
                Some(ListingKind::Rent) => 1,
                Some(ListingKind::Sale) => 2,
            },
            predir: street.predir,
        }
    }

    pub(crate) fn has_coords(&self) -> bool {
        !self.lat.is_nan() && !self.lon.is_nan()
    }
}

fn tagged_hash(tag: u8, parts: &[&str]) -> u64 {
    let total = 1 + parts.iter().map(|p| p.len() + 1).sum::<usize>();
    // Block keys are short; hash from the stack and only allocate for unusually long parts.
    let mut stack = [0u8; 128];
    let mut heap = Vec::new();
    let bytes: &mut [u8] = if total <= stack.len() {
        &mut stack[..total]
    } else {
        heap.resize(total, 0);
        &mut heap
    };
    bytes[0] = tag;
    let mut at = 1;
    for part in parts {
        bytes[at] = 0x1f;
        bytes[at + 1..at + 1 + part.len()].copy_from_slice(part.as_bytes());
        at += part.len() + 1;
    }
    // 0 means "no block"; an xxh3 of exactly 0 is remapped rather than lost.
    xxh3_64(bytes).max(1)
}

/// Identity of a listing that has neither address nor coordinates: normalised title, whole-dollar price,
/// bedrooms, city and state. 0 (matches nothing) when title, price or city is missing.
fn identity_hash(listing: &Listing, city: Option<&str>, state: &str) -> u64 {
    let (Some(title), Some(price), Some(city)) = (
        listing.title.as_deref(),
        listing.list_price.filter(|p| p.is_finite() && *p > 0.0),
        city,
    ) else {
        return 0;
    };
    let words: Vec<String> = words(title).map(|w| w.to_lowercase()).collect();
    if words.is_empty() {
        return 0;
    }
    let price = format!("{}", price.round() as u64);
    let beds = listing
        .bedrooms_total
        .map(|b| b.to_string())
        .unwrap_or_default();
    tagged_hash(
        b'u',
        &[
            &words.join(" "),
            &price,
            &beds,
            &city.to_lowercase(),
            &state.to_ascii_lowercase(),
        ],
    )
}

/// Alphanumeric runs of a text.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// A 64-bit set sketch of the title's words: each word of two or more bytes sets one bit (so a single
/// non-ASCII letter still counts as a word). The Jaccard index of two sketches approximates that of the word sets, for the price of a popcount.
pub(crate) fn title_sketch(title: &str) -> u64 {
    let mut sketch = 0u64;
    let mut buffer = [0u8; 64];
    for word in words(title) {
        if word.len() < 2 {
            continue;
        }
        // Lower-case ASCII in a stack buffer; other scripts hash as written (titles rarely mix case there).
        let bytes = word.as_bytes();
        let len = bytes.len().min(buffer.len());
        for (dst, src) in buffer.iter_mut().zip(&bytes[..len]) {
            *dst = src.to_ascii_lowercase();
        }
        sketch |= 1u64 << (xxh3_64(&buffer[..len]) % 64);
    }
    sketch
}

/// Jaccard index of two title sketches.
pub(crate) fn sketch_similarity(a: u64, b: u64) -> f32 {
    let union = (a | b).count_ones();
    if union == 0 {
        return 0.0;
    }
    (a & b).count_ones() as f32 / union as f32
}

#[derive(Default)]
struct ParsedStreet<'a> {
    number_text: Option<&'a str>,
    number: u32,
    predir: u8,
    name: InlineName,
    unit: u32,
}

/// Splits `123 N Main St Apt 4B` into number, pre-directional, street name and unit. Tolerates
/// un-normalised forms (`Street`, `North`, trailing dots) so that a missed abbreviation upstream does
/// not split a property.
fn parse_street(address: &str) -> ParsedStreet<'_> {
    let mut tokens = address.split_whitespace().peekable();
    let mut parsed = ParsedStreet::default();
    if let Some(first) = tokens.peek()
        && first.starts_with(|c: char| c.is_ascii_digit())
    {
        let number = first.trim_end_matches([',', '.']);
        parsed.number_text = Some(number);
        parsed.number = small_hash(number.as_bytes());
        tokens.next();
    }
    let mut name = InlineName::default();
    let mut buffer = [0u8; 32];
    while let Some(token) = tokens.next() {
        if let Some(unit) = token.strip_prefix('#') {
            let unit = if unit.is_empty() {
                tokens.next().unwrap_or("")
            } else {
                unit
            };
            parsed.unit = unit_hash(unit);
            break;
        }
        let word = lower_alphanumeric(token, &mut buffer);
        if word.is_empty() {
            continue;
        }
        let has_more = tokens.peek().is_some();
        if is_unit_designator(word) && !(name.is_empty() && parsed.predir == 0) {
            parsed.unit = unit_hash(tokens.next().unwrap_or(token));
            break;
        }
        if name.is_empty() && parsed.predir == 0 && has_more {
            let code = directional_code(word);
            if code != 0 {
                parsed.predir = code;
                continue;
            }
        }
        if name.is_full() {
            // Keep scanning only for the unit.
            continue;
        }
        name.push_word(abbreviate(word).unwrap_or(word));
    }
    parsed.name = name;
    parsed
}

/// Lower-cased alphanumeric characters of a token, in `buffer` (cut at its size on a char boundary).
fn lower_alphanumeric<'b>(token: &str, buffer: &'b mut [u8; 32]) -> &'b str {
    let mut len = 0;
    for c in token
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
    {
        let width = c.len_utf8();
        if len + width > buffer.len() {
            break;
        }
        c.encode_utf8(&mut buffer[len..len + width]);
        len += width;
    }
    std::str::from_utf8(&buffer[..len]).unwrap_or("")
}

fn directional_code(word: &str) -> u8 {
    match word {
        "n" | "north" => 1,
        "s" | "south" => 2,
        "e" | "east" => 3,
        "w" | "west" => 4,
        "ne" | "northeast" => 5,
        "nw" | "northwest" => 6,
        "se" | "southeast" => 7,
        "sw" | "southwest" => 8,
        _ => 0,
    }
}

fn is_unit_designator(word: &str) -> bool {
    matches!(
        word,
        "apt"
            | "apartment"
            | "unit"
            | "ste"
            | "suite"
            | "fl"
            | "floor"
            | "rm"
            | "room"
            | "bldg"
            | "building"
            | "lot"
            | "spc"
            | "space"
            | "trlr"
            | "ph"
            | "penthouse"
            | "lowr"
            | "uppr"
            | "frnt"
            | "rear"
            | "bsmt"
    )
}

/// USPS Publication 28 abbreviations for the suffixes and words most often left spelled out.
fn abbreviate(word: &str) -> Option<&'static str> {
    Some(match word {
        "street" => "st",
        "avenue" | "av" => "ave",
        "road" => "rd",
        "drive" => "dr",
        "boulevard" => "blvd",
        "lane" => "ln",
        "court" => "ct",
        "place" => "pl",
        "terrace" => "ter",
        "circle" => "cir",
        "highway" => "hwy",
        "parkway" => "pkwy",
        "square" => "sq",
        "trail" => "trl",
        "way" => "way",
        "north" => "n",
        "south" => "s",
        "east" => "e",
        "west" => "w",
        "mount" => "mt",
        "saint" => "st",
        _ => return None,
    })
}

/// Unit designators compare as upper-case alphanumerics without leading zeros (`#04b` = `4B`).
fn unit_hash(unit: &str) -> u32 {
    let mut buffer = [0u8; 32];
    let lowered = lower_alphanumeric(unit, &mut buffer);
    let trimmed = lowered.trim_start_matches('0');
    let text = if trimmed.is_empty() { lowered } else { trimmed };
    if text.is_empty() {
        0
    } else {
        small_hash(text.as_bytes())
    }
}

/// A non-zero 32-bit hash (0 is reserved for "not given").
fn small_hash(bytes: &[u8]) -> u32 {
    (xxh3_64(bytes) as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn street_parsing_splits_number_direction_name_and_unit() {
        let parsed = parse_street("123 N Main St Apt 4B");
        assert_eq!(parsed.number_text, Some("123"));
        assert_eq!(parsed.predir, 1);
        assert_eq!(parsed.name.as_str(), "main st");
        assert_eq!(parsed.unit, unit_hash("4b"));

        let spelled = parse_street("123 North Main Street, #04B");
        assert_eq!(spelled.name.as_str(), "main st");
        assert_eq!(spelled.predir, 1);
        assert_eq!(spelled.unit, parsed.unit);

        let dotted = parse_street("123 Main St.");
        assert_eq!(dotted.name.as_str(), "main st");
        assert_eq!(dotted.predir, 0);
        assert_eq!(dotted.unit, 0);
    }

    #[test]
    fn street_without_number_keeps_its_name() {
        let parsed = parse_street("Morris Avenue");
        assert_eq!(parsed.number_text, None);
        assert_eq!(parsed.name.as_str(), "morris ave");
        // A lone directional word is the street's name, not a prefix.
        assert_eq!(parse_street("12 West").name.as_str(), "w");
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let parsed = parse_street("1 Martin Luther King Junior Boulevard");
        assert!(parsed.name.as_str().len() <= 22);
        assert_eq!(parsed.name.as_str(), "martin luther king");
        // A first word filling the name exactly, then more words: no overflow, the rest is dropped.
        let exact = parse_street("7 Abcdefghijklmnopqrstuv Road Rear");
        assert_eq!(exact.name.as_str(), "abcdefghijklmnopqrstuv");
        assert_ne!(exact.unit, 0);
        let accented = parse_street("5 Éééééééééééééééééééééééééééé");
        assert!(accented.name.as_str().starts_with('é'));
    }

    #[test]
    fn title_sketch_is_case_insensitive_and_word_based() {
        let a = title_sketch("Sunny 2BR near the park, laundry");
        let b = title_sketch("SUNNY 2br near the PARK laundry!!");
        assert_eq!(a, b);
        let c = title_sketch("Luxury studio downtown with gym");
        assert!(sketch_similarity(a, c) < 0.3, "{}", sketch_similarity(a, c));
        assert_eq!(sketch_similarity(a, b), 1.0);
    }
}

//! State codes, ZIP codes, and splitting a one-line address into street, city, state and ZIP.

use super::street::unit_designator;
use super::tables::STATES;
use crate::normalise::text::fold_key;

/// Two-letter USPS code for a state, DC, territory or military "state", or a Canadian province:
/// `"Massachusetts"`, `"mass."`, `"MA"`, `"ma"`, `"District of Columbia"`, `"Puerto Rico"`, `"W. Va."`.
/// Anything else is `None`.
pub fn state_code(text: &str) -> Option<&'static str> {
    let mut buf = [0u8; 40];
    STATES.get(fold_key(text, &mut buf, false)?)
}

/// Five-digit ZIP code from `"02134"`, `"02134-1234"`, `"02134 1234"` or `"021341234"`.
///
/// Leading zeros: numeric sources (the Realtor table, spreadsheets) drop them, turning Puerto Rico's
/// `00601` into `601`. A 3- or 4-digit value is padded only when `state` (a two-letter code) is one
/// whose ZIPs begin with 0 and the padded code falls in that state's range (New England, NJ, PR,
/// VI, military AE, and NY's 005); otherwise it is `None` rather than a guess. `00000` is `None`.
pub fn normalise_zip(text: &str, state: Option<&str>) -> Option<String> {
    let trimmed = text.trim();
    let digit_count = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, rest) = trimmed.split_at(digit_count);
    let plus_four_ok = || {
        let rest = rest.as_bytes();
        rest.is_empty()
            || (rest.len() == 5
                && matches!(rest[0], b'-' | b' ')
                && rest[1..].iter().all(u8::is_ascii_digit))
    };
    let zip = match digits.len() {
        5 if plus_four_ok() => digits.to_owned(),
        9 if rest.is_empty() => digits[..5].to_owned(),
        3 | 4 if rest.is_empty() => {
            let padded = format!("{digits:0>5}");
            let prefix: u16 = padded[..3].parse().ok()?;
            let fits = zero_prefix_ranges(state?)
                .iter()
                .any(|range| range.contains(&prefix));
            if !fits {
                return None;
            }
            padded
        }
        _ => return None,
    };
    (zip != "00000").then_some(zip)
}

/// Three-digit ZIP prefixes below 100, by state (USPS prefix assignments).
fn zero_prefix_ranges(state: &str) -> &'static [std::ops::RangeInclusive<u16>] {
    match state {
        "NY" => &[5..=5],
        "PR" => &[6..=7, 9..=9],
        "VI" => &[8..=8],
        "MA" => &[10..=27, 55..=55],
        "RI" => &[28..=29],
        "NH" => &[30..=38],
        "ME" => &[39..=49],
        "VT" => &[50..=54, 56..=59],
        "CT" => &[60..=69],
        "NJ" => &[70..=89],
        "AE" => &[90..=98],
        _ => &[],
    }
}

/// The parts of a one-line address such as `"123 Main Street, Boston, MA 02134"`. Parts are
/// slices of the input, not yet normalised; `state` is already a two-letter code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OneLineAddress<'a> {
    pub street: &'a str,
    pub city: Option<&'a str>,
    pub state: Option<&'static str>,
    pub postal_code: Option<&'a str>,
}

/// Splits a full one-line address into street, city, state and ZIP, reading from the end: a
/// ZIP-shaped last word, then a state (the longest of the last three words after the last comma that
/// names one), then the city after the last remaining comma.
///
/// Returns `None` (the line is only a street) unless the split is well supported: a ZIP, or a state
/// and a city set off by a comma; a line with no comma at all needs both state and ZIP. So
/// `"123 Main St, Washington"` and `"PO Box 12345"` are not split.
pub fn split_one_line_address(line: &str) -> Option<OneLineAddress<'_>> {
    let is_tail_junk = |c: char| c.is_whitespace() || c == ',' || c == '.';
    let mut rest = line.trim().trim_end_matches(is_tail_junk);
    let has_comma = rest.contains(',');

    let mut postal_code = None;
    let (before_last, last) = split_last_word(rest);
    if is_zip_shaped(last) {
        postal_code = Some(last);
        rest = before_last.trim_end_matches(is_tail_junk);
    }

    let mut state = None;
    let tail_start = rest.rfind(',').map_or(0, |comma| comma + 1);
    let tail = &rest[tail_start..];
    let mut word_starts = [0usize; 3];
    let mut found = 0;
    let mut scan = tail.trim_end();
    while found < 3 {
        let (before, word) = split_last_word(scan);
        if word.is_empty() {
            break;
        }
        word_starts[found] = before.len();
        found += 1;
        scan = before.trim_end();
    }
    for words in (1..=found).rev() {
        let start = word_starts[words - 1];
        if let Some(code) = state_code(&tail[start..]) {
            state = Some(code);
            rest = rest[..tail_start + start].trim_end_matches(is_tail_junk);
            break;
        }
    }

    if postal_code.is_none() && state.is_none() {
        return None;
    }
    let (mut street, mut city) = match rest.rfind(',') {
        Some(comma) => (
            rest[..comma].trim_end_matches(is_tail_junk),
            Some(rest[comma + 1..].trim()),
        ),
        None => (rest, None),
    };
    if city.is_some_and(|city| !looks_like_city(city)) {
        street = rest;
        city = None;
    }
    let supported = match (postal_code, state, city) {
        _ if !has_comma => postal_code.is_some() && state.is_some(),
        (Some(_), _, _) => true,
        (None, Some(_), Some(_)) => true,
        _ => false,
    };
    let street = street.trim();
    (supported && street.chars().any(char::is_alphanumeric)).then_some(OneLineAddress {
        street,
        city,
        state,
        postal_code,
    })
}

/// `(everything before the last word, the last word)`; words are separated by spaces or commas.
fn split_last_word(text: &str) -> (&str, &str) {
    let text = text.trim_end();
    match text.rfind([' ', ',']) {
        Some(index) => (&text[..index], &text[index + 1..]),
        None => ("", text),
    }
}

fn is_zip_shaped(word: &str) -> bool {
    let bytes = word.as_bytes();
    let digits = |range: &[u8]| range.iter().all(u8::is_ascii_digit);
    match bytes.len() {
        5 | 9 => digits(bytes),
        10 => digits(&bytes[..5]) && bytes[5] == b'-' && digits(&bytes[6..]),
        _ => false,
    }
}

/// A city has a letter, does not start with a digit, and is not a unit (`Apt 4`, `#2`).
fn looks_like_city(text: &str) -> bool {
    let first_word = text.split_whitespace().next().unwrap_or("");
    !text.is_empty()
        && text.chars().any(char::is_alphabetic)
        && !text.starts_with(|c: char| c.is_ascii_digit() || c == '#')
        && unit_designator(first_word).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_and_codes() {
        for (text, code) in [
            ("Massachusetts", "MA"),
            ("mass.", "MA"),
            ("MA", "MA"),
            ("ma", "MA"),
            ("District of Columbia", "DC"),
            ("D.C.", "DC"),
            ("Puerto Rico", "PR"),
            ("new york", "NY"),
            ("W. Va.", "WV"),
            ("Guam", "GU"),
            ("U.S. Virgin Islands", "VI"),
            ("British Columbia", "BC"),
        ] {
            assert_eq!(state_code(text), Some(code), "{text}");
        }
        for text in ["", "Massachusets", "XX", "Boston", "Peñasco"] {
            assert_eq!(state_code(text), None, "{text}");
        }
    }

    #[test]
    fn zip_codes() {
        assert_eq!(normalise_zip("02134", None).as_deref(), Some("02134"));
        assert_eq!(
            normalise_zip(" 02134-1234 ", None).as_deref(),
            Some("02134")
        );
        assert_eq!(normalise_zip("021341234", None).as_deref(), Some("02134"));
        assert_eq!(normalise_zip("601", Some("PR")).as_deref(), Some("00601"));
        assert_eq!(normalise_zip("2134", Some("MA")).as_deref(), Some("02134"));
        assert_eq!(normalise_zip("2134", None), None);
        assert_eq!(normalise_zip("2134", Some("TX")), None);
        assert_eq!(normalise_zip("601", Some("MA")), None);
        assert_eq!(normalise_zip("00000", None), None);
        assert_eq!(normalise_zip("0213", Some("MA")), None);
        assert_eq!(normalise_zip("V5H 1A1", Some("BC")), None);
        assert_eq!(normalise_zip("02134-12", None), None);
    }

    #[test]
    fn one_line_addresses() {
        let split = |line| split_one_line_address(line);
        assert_eq!(
            split("123 Main Street, Boston, MA 02134"),
            Some(OneLineAddress {
                street: "123 Main Street",
                city: Some("Boston"),
                state: Some("MA"),
                postal_code: Some("02134"),
            })
        );
        assert_eq!(
            split("24303 Woolsey Cyn #6, Canoga Park, CA 91304"),
            Some(OneLineAddress {
                street: "24303 Woolsey Cyn #6",
                city: Some("Canoga Park"),
                state: Some("CA"),
                postal_code: Some("91304"),
            })
        );
        assert_eq!(
            split("92 Gold St, #2-N, New Britain, CT"),
            Some(OneLineAddress {
                street: "92 Gold St, #2-N",
                city: Some("New Britain"),
                state: Some("CT"),
                postal_code: None,
            })
        );
        assert_eq!(
            split("1 Main St, Charleston, West Virginia 25301"),
            Some(OneLineAddress {
                street: "1 Main St",
                city: Some("Charleston"),
                state: Some("WV"),
                postal_code: Some("25301"),
            })
        );
        assert_eq!(
            split("350 5th Ave, New York NY 10118"),
            Some(OneLineAddress {
                street: "350 5th Ave",
                city: Some("New York"),
                state: Some("NY"),
                postal_code: Some("10118"),
            })
        );
        assert_eq!(
            split("123 Main St, Apt 4, MA 02134"),
            Some(OneLineAddress {
                street: "123 Main St, Apt 4",
                city: None,
                state: Some("MA"),
                postal_code: Some("02134"),
            })
        );
        assert_eq!(split("123 Main St, Washington"), None);
        assert_eq!(split("PO Box 12345"), None);
        assert_eq!(split("Morris Avenue"), None);
        assert_eq!(split("212 Laurel St, Apt 2"), None);
        assert_eq!(split(", MA 02134"), None);
    }
}

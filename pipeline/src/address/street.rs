//! One US delivery line (`123 North Main Street, Apt. #4B`) parsed into its USPS Publication 28
//! parts and written back in standard form (`123 N Main St Apt 4B`).

use std::fmt;

use super::tables::STREET_SUFFIXES;
use crate::normalise::text::{KeyTable, fold_key, push_title_word, push_upper_word};

/// A delivery line in USPS standard form. Every text part is already canonical (title case,
/// standard abbreviations, no periods or commas), so [`NormalisedStreet::display`] only joins them.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct NormalisedStreet {
    /// House number, upper case, with a fraction if the line had one (`123`, `12B`, `123 1/2`).
    pub number: Option<String>,
    /// `N`, `S`, `E`, `W`, `NE`, `NW`, `SE`, `SW`.
    pub pre_directional: Option<&'static str>,
    /// Street name in title case; ordinals stay as written (`5th`).
    pub name: String,
    /// Standard suffix abbreviation in title case (`St`, `Ave`, `Blvd`).
    pub suffix: Option<&'static str>,
    pub post_directional: Option<&'static str>,
    /// USPS unit designator in title case (`Apt`, `Ste`, `Fl`, `Rear`). A bare `#` becomes `Apt`:
    /// in listings it almost always marks a dwelling unit, and one spelling lets `#4` and `Apt 4`
    /// match in dedupe.
    pub unit_designator: Option<&'static str>,
    /// Unit number without its designator, upper case (`4B`).
    pub unit_number: Option<String>,
}

impl NormalisedStreet {
    /// The standard one-line form: `123 N Main St Apt 4B`.
    pub fn display(&self) -> String {
        let parts = self.parts();
        let length = parts.iter().flatten().map(|part| part.len() + 1).sum();
        let mut out = String::with_capacity(length);
        for part in parts.into_iter().flatten() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part);
        }
        out
    }

    fn parts(&self) -> [Option<&str>; 7] {
        [
            self.number.as_deref(),
            self.pre_directional,
            Some(self.name.as_str()),
            self.suffix,
            self.post_directional,
            self.unit_designator,
            self.unit_number.as_deref(),
        ]
    }
}

impl fmt::Display for NormalisedStreet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// Tokens beyond this many are ignored; no real delivery line comes close.
const MAX_TOKENS: usize = 32;

/// Parses a delivery line. `None` when it has no street name (blank, only a number, only
/// punctuation).
///
/// Rules, in order:
/// 1. Split on spaces and punctuation; periods, commas and quotes go, `-`, `/` and `'` inside a word
///    stay (`2-N`, `1/2`, `O'Brien`); `#` stands alone.
/// 2. A first word starting with a digit and not an ordinal is the house number (plus a following
///    fraction such as `1/2`).
/// 3. From the second word of the street part, the first unit designator (`Apartment`, `Apt`, `#`,
///    `Unit`, `Suite`, `Floor`, `Rm`, `Bldg`...) followed by a unit number (a word with a digit, or a
///    single letter) starts the unit; designators that take no number (`Rear`, `Bsmt`, `Ph`...)
///    count only right after a suffix or directional; `2nd Floor` becomes `Fl 2`. A cross-street
///    remark (`near`, `between`, `across`) ends the line. Words after the unit are dropped.
/// 4. Of what remains, when at least two words are left each time: a last directional is the
///    post-directional, then a last suffix is the suffix, then a first directional is the
///    pre-directional (so `North Ave` keeps `North` as its name, while `N Main St` has a
///    pre-directional). The rest is the name.
pub fn normalise_street(line: &str) -> Option<NormalisedStreet> {
    let mut storage = [""; MAX_TOKENS];
    let count = tokenize(line, &mut storage);
    let tokens = &storage[..count];

    let mut body_start = 0;
    let mut number = None;
    if let Some(first) = tokens.first()
        && starts_with_digit(first)
        && !is_ordinal(first)
    {
        let mut text = String::with_capacity(first.len() + 4);
        push_upper_word(&mut text, first);
        body_start = 1;
        if let Some(fraction) = tokens.get(1)
            && is_fraction(fraction)
        {
            text.push(' ');
            text.push_str(fraction);
            body_start = 2;
        }
        number = Some(text);
    }

    let mut body_end = count;
    let mut unit = None;
    for index in body_start + 1..count {
        if is_cross_street_word(tokens[index]) {
            body_end = index;
            break;
        }
        if let Some((designator, unit_number, end)) = unit_at(tokens, index, body_start) {
            unit = Some((designator, unit_number));
            body_end = end;
            break;
        }
    }

    let body = tokens.get(body_start..body_end).unwrap_or_default();
    let body: &[&str] = if body.first() == Some(&"#") {
        &body[1..]
    } else {
        body
    };
    if body.is_empty() {
        return None;
    }
    let (mut low, mut high) = (0, body.len());
    let mut post_directional = None;
    let mut suffix = None;
    let mut pre_directional = None;
    if high - low >= 2
        && let Some(direction) = directional(body[high - 1])
    {
        post_directional = Some(direction);
        high -= 1;
    }
    if high - low >= 2
        && let Some(standard) = street_suffix(body[high - 1])
    {
        suffix = Some(standard);
        high -= 1;
    }
    if high - low >= 2
        && let Some(direction) = directional(body[low])
    {
        pre_directional = Some(direction);
        low += 1;
    }

    let mut name = String::with_capacity(line.len());
    for word in &body[low..high] {
        if !name.is_empty() {
            name.push(' ');
        }
        if word.contains('.') {
            push_title_word(&mut name, &word.replace('.', ""));
        } else {
            push_title_word(&mut name, word);
        }
    }
    let (unit_designator, unit_number) = match unit {
        Some((designator, unit_number)) => (Some(designator), unit_number),
        None => (None, None),
    };
    Some(NormalisedStreet {
        number,
        pre_directional,
        name,
        suffix,
        post_directional,
        unit_designator,
        unit_number,
    })
}

/// A unit given on its own (RESO `UnitNumber`): `"4B"`, `"#4B"`, `"Apt 4B"`, `"Suite 200"`.
/// Returns the USPS designator (`Apt` when none is written) and the number, upper case.
///
/// Only designators that take a number are returned, and the number must look like one (a digit or
/// a single letter): such a unit can be appended to any street line and read back the same way.
pub fn normalise_unit(text: &str) -> Option<(&'static str, String)> {
    let mut storage = [""; MAX_TOKENS];
    let count = tokenize(text, &mut storage);
    let mut tokens = storage[..count]
        .iter()
        .copied()
        .filter(|token| *token != "#");
    let first = tokens.next()?;
    let (designator, number) = match unit_designator(first) {
        Some((designator, true)) => (designator, tokens.next()?),
        Some((_, false)) => return None,
        None => ("Apt", first),
    };
    is_unit_like(number).then(|| (designator, unit_number_text(designator, number)))
}

/// Splits `line` into words (see [`normalise_street`] rule 1) and returns how many were stored.
///
/// `#` tokens are kept only where they introduce a unit number (a `#` followed by something
/// unit-like), and an `@` ends the line ("123 Main St @ Elm"); this keeps the later rules simple and
/// the output a fixed point of the parser.
fn tokenize<'a>(line: &'a str, tokens: &mut [&'a str; MAX_TOKENS]) -> usize {
    let mut raw = [""; MAX_TOKENS];
    let mut raw_count = 0;
    let mut push = |text: &'a str| {
        let trimmed = text.trim_matches(['.', '-', '\'', '/']);
        let keep = matches!(trimmed, "#" | "@" | "&") || trimmed.chars().any(char::is_alphanumeric);
        if keep && raw_count < MAX_TOKENS {
            raw[raw_count] = trimmed;
            raw_count += 1;
        }
    };
    let mut start = None;
    let bytes = line.as_bytes();
    let mut offset = 0;
    while offset < bytes.len() {
        // Classify ASCII (the common case) by byte; decode only non-ASCII characters.
        let byte = bytes[offset];
        let (single, separator, width) = if byte.is_ascii() {
            let single = matches!(byte, b'#' | b'@' | b'&');
            let separator = byte.is_ascii_whitespace()
                || byte.is_ascii_control()
                || matches!(
                    byte,
                    b',' | b';'
                        | b':'
                        | b'('
                        | b')'
                        | b'['
                        | b']'
                        | b'{'
                        | b'}'
                        | b'"'
                        | b'!'
                        | b'?'
                        | b'*'
                        | b'<'
                        | b'>'
                        | b'|'
                        | b'\\'
                        | b'='
                        | b'+'
                        | b'_'
                        | b'~'
                        | b'`'
                        | b'^'
                        | b'$'
                        | b'%'
                );
            (single, separator, 1)
        } else {
            let c = line[offset..].chars().next().unwrap_or(' ');
            (false, c.is_whitespace() || c.is_control(), c.len_utf8())
        };
        if single || separator {
            if let Some(begin) = start.take() {
                push(&line[begin..offset]);
            }
            if single {
                push(&line[offset..offset + 1]);
            }
        } else if start.is_none() {
            start = Some(offset);
        }
        offset += width;
    }
    if let Some(begin) = start {
        push(&line[begin..]);
    }

    let mut count = 0;
    for index in 0..raw_count {
        match raw[index] {
            "@" => break,
            // A leading `#` ("#5 Main St") marks nothing useful.
            "#" if count == 0 => {}
            "#" => {
                let next = raw[index + 1..raw_count]
                    .iter()
                    .find(|token| **token != "#");
                if raw.get(index + 1) != Some(&"#") && next.is_some_and(|token| is_unit_like(token))
                {
                    tokens[count] = "#";
                    count += 1;
                }
            }
            token => {
                tokens[count] = token;
                count += 1;
            }
        }
    }
    count
}

/// If `tokens[index]` starts a unit, returns its designator, its number, and where the street
/// part ends (`index`, or `index - 1` for `2nd Floor`).
fn unit_at(
    tokens: &[&str],
    index: usize,
    body_start: usize,
) -> Option<(&'static str, Option<String>, usize)> {
    let token = tokens[index];
    let (designator, takes_number) = if token == "#" {
        ("Apt", true)
    } else {
        unit_designator(token)?
    };
    let mut next_index = index + 1;
    if tokens.get(next_index) == Some(&"#") {
        next_index += 1;
    }
    let next = tokens.get(next_index).filter(|next| is_unit_like(next));
    let previous = tokens[index - 1];
    if takes_number {
        if let Some(next) = next {
            return Some((designator, Some(unit_number_text(designator, next)), index));
        }
        if designator == "Fl" && index > body_start + 1 && is_ordinal(previous) {
            return Some((
                designator,
                Some(ordinal_digits(previous).to_owned()),
                index - 1,
            ));
        }
        return None;
    }
    if street_suffix(previous).is_some() || directional(previous).is_some() {
        return Some((
            designator,
            next.map(|next| unit_number_text(designator, next)),
            index,
        ));
    }
    None
}

fn upper(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    push_upper_word(&mut out, word);
    out
}

fn starts_with_digit(token: &str) -> bool {
    token.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// `1st`, `22nd`, `3rd`, `5TH`.
fn is_ordinal(token: &str) -> bool {
    let digits = ordinal_digits(token);
    let ending = &token[digits.len()..];
    !digits.is_empty()
        && ["st", "nd", "rd", "th"]
            .iter()
            .any(|candidate| ending.eq_ignore_ascii_case(candidate))
}

fn ordinal_digits(token: &str) -> &str {
    let end = token
        .bytes()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(token.len());
    &token[..end]
}

/// `1/2`, `3/4`.
fn is_fraction(token: &str) -> bool {
    token.split_once('/').is_some_and(|(top, bottom)| {
        !top.is_empty()
            && !bottom.is_empty()
            && top.bytes().all(|b| b.is_ascii_digit())
            && bottom.bytes().all(|b| b.is_ascii_digit())
    })
}

/// A unit number: contains a digit (`4B`, `2-N`, `12`), is a single letter or digit (`B`), or is
/// a compass word (`Apt North`), which is written as its letter: the standard form of `North` is
/// `N`, a single letter, so this keeps `Apt North` and `Apt N` reading the same way.
fn is_unit_like(token: &str) -> bool {
    token.bytes().any(|byte| byte.is_ascii_digit())
        || (token.len() == 1 && token.bytes().all(|byte| byte.is_ascii_alphanumeric()))
        || single_letter_direction(token).is_some()
}

fn single_letter_direction(token: &str) -> Option<&'static str> {
    directional(token).filter(|direction| direction.len() == 1)
}

/// The unit number as written in the standard form: upper case, a compass word as its letter, and
/// a floor ordinal as its digits (`Fl 2nd` -> `Fl 2`).
fn unit_number_text(designator: &str, token: &str) -> String {
    if designator == "Fl" && is_ordinal(token) {
        return ordinal_digits(token).to_owned();
    }
    match single_letter_direction(token) {
        Some(letter) => letter.to_owned(),
        None => upper(token),
    }
}

fn is_cross_street_word(token: &str) -> bool {
    ["near", "nr", "btwn", "between", "across"]
        .iter()
        .any(|word| token.eq_ignore_ascii_case(word))
}

fn folded<'b>(token: &str, buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    fold_key(token, buf, false)
}

pub(crate) fn street_suffix(token: &str) -> Option<&'static str> {
    let mut buf = [0u8; 16];
    STREET_SUFFIXES.get(folded(token, &mut buf)?)
}

fn directional(token: &str) -> Option<&'static str> {
    let mut buf = [0u8; 16];
    DIRECTIONALS.get(folded(token, &mut buf)?)
}

/// Unit designator spelling -> (USPS abbreviation, whether a number must follow).
pub(crate) fn unit_designator(token: &str) -> Option<(&'static str, bool)> {
    let mut buf = [0u8; 16];
    UNIT_DESIGNATORS.get(folded(token, &mut buf)?)
}

static DIRECTIONALS: KeyTable<&str, { DIRECTIONAL_ENTRIES.len() }> =
    KeyTable::new(DIRECTIONAL_ENTRIES);

const DIRECTIONAL_ENTRIES: &[(&str, &str)] = &[
    ("e", "E"),
    ("east", "E"),
    ("n", "N"),
    ("ne", "NE"),
    ("north", "N"),
    ("northeast", "NE"),
    ("northwest", "NW"),
    ("nw", "NW"),
    ("s", "S"),
    ("se", "SE"),
    ("south", "S"),
    ("southeast", "SE"),
    ("southwest", "SW"),
    ("sw", "SW"),
    ("w", "W"),
    ("west", "W"),
];

static UNIT_DESIGNATORS: KeyTable<(&str, bool), { UNIT_DESIGNATOR_ENTRIES.len() }> =
    KeyTable::new(UNIT_DESIGNATOR_ENTRIES);

/// Secondary unit designators (Publication 28 Appendix C2) and common spellings.
const UNIT_DESIGNATOR_ENTRIES: &[(&str, (&str, bool))] = &[
    ("apartment", ("Apt", true)),
    ("apt", ("Apt", true)),
    ("basement", ("Bsmt", false)),
    ("bldg", ("Bldg", true)),
    ("bsmt", ("Bsmt", false)),
    ("building", ("Bldg", true)),
    ("department", ("Dept", true)),
    ("dept", ("Dept", true)),
    ("fl", ("Fl", true)),
    ("floor", ("Fl", true)),
    ("flr", ("Fl", true)),
    ("frnt", ("Frnt", false)),
    ("front", ("Frnt", false)),
    ("hangar", ("Hngr", true)),
    ("hngr", ("Hngr", true)),
    ("key", ("Key", true)),
    ("lbby", ("Lbby", false)),
    ("lobby", ("Lbby", false)),
    ("lot", ("Lot", true)),
    ("lower", ("Lowr", false)),
    ("lowr", ("Lowr", false)),
    ("ofc", ("Ofc", false)),
    ("office", ("Ofc", false)),
    ("penthouse", ("Ph", false)),
    ("ph", ("Ph", false)),
    ("pier", ("Pier", true)),
    ("rear", ("Rear", false)),
    ("rm", ("Rm", true)),
    ("room", ("Rm", true)),
    ("side", ("Side", false)),
    ("slip", ("Slip", true)),
    ("space", ("Spc", true)),
    ("spc", ("Spc", true)),
    ("ste", ("Ste", true)),
    ("stop", ("Stop", true)),
    ("suite", ("Ste", true)),
    ("trailer", ("Trlr", true)),
    ("trlr", ("Trlr", true)),
    ("unit", ("Unit", true)),
    ("upper", ("Uppr", false)),
    ("uppr", ("Uppr", false)),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::state_code;
    use crate::address::tables::STATES;

    fn street(line: &str) -> String {
        normalise_street(line)
            .map(|street| street.display())
            .unwrap_or_default()
    }

    #[test]
    fn standard_forms_map_to_themselves() {
        for (_, standard) in STREET_SUFFIXES.entries() {
            assert_eq!(street_suffix(standard), Some(*standard), "{standard}");
        }
        for (_, (designator, _)) in UNIT_DESIGNATORS.entries() {
            assert!(unit_designator(designator).is_some(), "{designator}");
        }
        for (_, direction) in DIRECTIONALS.entries() {
            assert_eq!(directional(direction), Some(*direction), "{direction}");
        }
        for (_, code) in STATES.entries() {
            assert_eq!(state_code(code), Some(*code), "{code}");
        }
    }

    #[test]
    fn suffix_variants() {
        for (spelling, standard) in [
            ("Street", "St"),
            ("Str", "St"),
            ("Avenue", "Ave"),
            ("Av", "Ave"),
            ("Aven", "Ave"),
            ("Boulevard", "Blvd"),
            ("Parkway", "Pkwy"),
            ("Highway", "Hwy"),
            ("Circle", "Cir"),
            ("Terrace", "Ter"),
            ("Heights", "Hts"),
            ("Crossing", "Xing"),
            ("Expressway", "Expy"),
            ("Turnpike", "Tpke"),
            ("Canyon", "Cyn"),
            ("Mountains", "Mtns"),
            ("ct.", "Ct"),
        ] {
            assert_eq!(street_suffix(spelling), Some(standard), "{spelling}");
        }
        assert_eq!(street_suffix("Main"), None);
    }

    #[test]
    fn parts_of_a_full_line() {
        let parsed = normalise_street("123 North Main Street, Apt. #4b").unwrap();
        assert_eq!(
            parsed,
            NormalisedStreet {
                number: Some("123".to_owned()),
                pre_directional: Some("N"),
                name: "Main".to_owned(),
                suffix: Some("St"),
                post_directional: None,
                unit_designator: Some("Apt"),
                unit_number: Some("4B".to_owned()),
            }
        );
        assert_eq!(parsed.display(), "123 N Main St Apt 4B");
    }

    #[test]
    fn standard_forms() {
        for (line, expected) in [
            ("123 Main Street", "123 Main St"),
            ("123 n. main st.", "123 N Main St"),
            ("123 MAIN ST NORTHEAST", "123 Main St NE"),
            ("123 Main St #4B", "123 Main St Apt 4B"),
            ("123 Main St # 4B", "123 Main St Apt 4B"),
            ("123 Main St Unit 4", "123 Main St Unit 4"),
            ("500 Boylston Street, Suite 200", "500 Boylston St Ste 200"),
            ("500 Boylston St 2nd Floor", "500 Boylston St Fl 2"),
            ("500 Boylston St Floor 3", "500 Boylston St Fl 3"),
            ("12 Elm St Rear", "12 Elm St Rear"),
            ("12 Elm St Bldg C Apt 5", "12 Elm St Bldg C"),
            ("55 West 5th Avenue", "55 W 5th Ave"),
            ("55 W. 5TH AVE.", "55 W 5th Ave"),
            ("100 North Ave", "100 North Ave"),
            ("100 Avenue of the Americas", "100 Avenue Of The Americas"),
            ("123 1/2 Oak Blvd", "123 1/2 Oak Blvd"),
            ("24303 Woolsey Cyn #6", "24303 Woolsey Cyn Apt 6"),
            ("92 Gold St, #2-N", "92 Gold St Apt 2-N"),
            ("212 Laurel Street near Farmington Avenue", "212 Laurel St"),
            ("S. Memorial Dr.", "S Memorial Dr"),
            ("Morris Avenue", "Morris Ave"),
            ("1 Grand Isle Dr.", "1 Grand Isle Dr"),
            ("14249 Burbank Boulevard", "14249 Burbank Blvd"),
            ("123 main st apt b", "123 Main St Apt B"),
            ("123   O'BRIEN   RD", "123 O'Brien Rd"),
            ("123 Main St @ Elm St", "123 Main St"),
            ("1600 Pennsylvania Ave NW", "1600 Pennsylvania Ave NW"),
            ("123 Florida Key Rd", "123 Florida Key Rd"),
            ("5th Apt North Rear", "5th Apt N"),
        ] {
            assert_eq!(street(line), expected, "{line}");
        }
    }

    #[test]
    fn lines_without_a_street_name_are_none() {
        for line in ["", "   ", "123", ", . #", "#4"] {
            assert_eq!(normalise_street(line), None, "{line:?}");
        }
    }

    #[test]
    fn display_is_a_fixed_point() {
        for line in [
            "123 North Main Street, Apt. #4b",
            "500 Boylston St 2nd Floor",
            "1600 Pennsylvania Ave NW",
            "100 North Ave",
            "12 Elm St Rear",
            "123 N N St",
            "#5 Main St",
        ] {
            let first = normalise_street(line).unwrap();
            assert_eq!(
                normalise_street(&first.display()),
                Some(first.clone()),
                "{line}"
            );
        }
    }
}

//! Small text helpers shared by every normaliser: lookup keys, whitespace, title case.
//!
//! Case mapping is ASCII-only on purpose: it is fast, allocation-free to test, and trivially
//! idempotent (Unicode case mapping is not: some characters change length or have title-case forms).
//! US addresses, cities and listing vocabularies are overwhelmingly ASCII.

/// Folds `text` into `buf` as a lookup key: ASCII letters lower-cased, digits kept, every run of
/// other ASCII characters (spaces, `_`, `-`, `/`, `:`...) turned into one space (when
/// `keep_spaces`) or dropped; periods and apostrophes are always dropped (`N.E.` -> `ne`). Returns
/// `None` for non-ASCII text or text that does not fit `buf`, which callers treat as "not in the
/// table" (no table key is that long or non-ASCII).
pub(crate) fn fold_key<'b, const N: usize>(
    text: &str,
    buf: &'b mut [u8; N],
    keep_spaces: bool,
) -> Option<&'b [u8]> {
    let mut len = 0;
    let mut pending_space = false;
    for &byte in text.as_bytes() {
        if !byte.is_ascii() {
            return None;
        }
        if byte.is_ascii_alphanumeric() {
            if pending_space && len > 0 {
                if len == N {
                    return None;
                }
                buf[len] = b' ';
                len += 1;
            }
            pending_space = false;
            if len == N {
                return None;
            }
            buf[len] = byte.to_ascii_lowercase();
            len += 1;
        } else if keep_spaces && byte != b'.' && byte != b'\'' {
            pending_space = true;
        }
    }
    Some(&buf[..len])
}

/// A static table keyed by short folded ASCII strings.
///
/// Lookups binary-search the keys packed into integers (first 16 bytes, big-endian, zero-padded, so
/// integer order is string order) instead of comparing strings, which on this hot path is several
/// times faster than `memcmp` per probe. [`KeyTable::new`] runs at compile time and fails the build
/// unless the keys are sorted and distinct in their first 16 bytes.
pub(crate) struct KeyTable<V: 'static, const N: usize> {
    packed: [u128; N],
    entries: &'static [(&'static str, V)],
}

impl<V: Copy, const N: usize> KeyTable<V, N> {
    pub(crate) const fn new(entries: &'static [(&'static str, V)]) -> Self {
        assert!(entries.len() == N, "table length mismatch");
        let mut packed = [0u128; N];
        let mut index = 0;
        while index < N {
            packed[index] = pack_key(entries[index].0.as_bytes());
            assert!(
                index == 0 || packed[index - 1] < packed[index],
                "table keys must be sorted and distinct in their first 16 bytes"
            );
            index += 1;
        }
        KeyTable { packed, entries }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<V> {
        let index = self.packed.binary_search(&pack_key(key)).ok()?;
        let (full_key, value) = self.entries[index];
        // Keys of 16 bytes or more share a packed form with their extensions; compare them in full.
        (key.len() < 16 || full_key.as_bytes() == key).then_some(value)
    }

    #[cfg(test)]
    pub(crate) fn entries(&self) -> &'static [(&'static str, V)] {
        self.entries
    }
}

const fn pack_key(key: &[u8]) -> u128 {
    let mut packed = 0u128;
    let mut index = 0;
    while index < 16 {
        packed <<= 8;
        if index < key.len() {
            packed |= key[index] as u128;
        }
        index += 1;
    }
    packed
}

/// Trims and collapses every run of whitespace to one space; `None` when nothing is left.
pub fn collapse_whitespace(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    // Fast path: most titles are already clean, so a single copy suffices.
    let mut previous_space = false;
    let clean = trimmed.chars().all(|c| {
        let ok = if c == ' ' {
            !previous_space
        } else {
            !c.is_whitespace()
        };
        previous_space = c == ' ';
        ok
    });
    if clean {
        return Some(trimmed.to_owned());
    }
    let mut out = String::with_capacity(trimmed.len());
    for word in trimmed.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Some(out)
}

/// Appends `word` in title case.
///
/// A word whose letters after the first are in mixed case (`McDonald`, `O'Brien`, `DeSoto`) is kept
/// as the source wrote it, apart from an upper-case first letter: the source knew better than a rule
/// would. Any other word becomes `Xxxx`, with a capital after a hyphen (`Wilkes-Barre`) and after an
/// apostrophe in second place (`O'Brien`). The test ignores the first character, which is the only
/// one the "kept" branch changes, and only ASCII letters change case (see module docs), so the result
/// is a fixed point: title-casing it again changes nothing.
pub(crate) fn push_title_word(out: &mut String, word: &str) {
    let after_first = word
        .char_indices()
        .nth(1)
        .map_or(&b""[..], |(index, _)| &word.as_bytes()[index..]);
    let has_upper = after_first.iter().any(u8::is_ascii_uppercase);
    let has_lower = after_first.iter().any(u8::is_ascii_lowercase);
    let mixed = has_upper && has_lower;
    let mut capitalise_next = true;
    for (index, c) in word.char_indices() {
        let mapped = if mixed {
            if index == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        } else if capitalise_next {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        };
        out.push(mapped);
        capitalise_next = c == '-' || (c == '\'' && index == 1);
    }
}

/// Appends `word` upper-cased (ASCII) without periods: house numbers and unit numbers (`4b` -> `4B`).
pub(crate) fn push_upper_word(out: &mut String, word: &str) {
    for c in word.chars() {
        if c != '.' {
            out.push(c.to_ascii_uppercase());
        }
    }
}

/// Words that stay lower case inside a place name (`Lake of the Woods`, `Hastings on Hudson`).
fn is_minor_place_word(word: &str) -> bool {
    ["and", "by", "in", "of", "on", "the", "upon"]
        .iter()
        .any(|minor| minor.eq_ignore_ascii_case(word))
}

/// City: trimmed, neighbourhood in parentheses dropped, anything after a comma dropped (`Boston, MA`),
/// spacing collapsed and title-cased (`BOSTON` -> `Boston`, `st. louis` -> `St. Louis`).
/// When the whole value is in parentheses its inside is used. `None` when no letter is left.
pub fn normalise_city(text: &str) -> Option<String> {
    // Trimming stray brackets can expose a new parenthetical ("(A(b" -> "A(b" -> "A"): repeat until
    // nothing changes, so normalising a normalised city never changes it. Real names settle at once.
    let mut city = normalise_city_once(text)?;
    // Only a bracket left in the result can expose more to strip; real names skip the re-check.
    if !city.contains('(') {
        return Some(city);
    }
    for _ in 0..4 {
        match normalise_city_once(&city) {
            Some(next) if next != city => city = next,
            _ => break,
        }
    }
    Some(city)
}

fn normalise_city_once(text: &str) -> Option<String> {
    let before_comma = text.split(',').next().unwrap_or("");
    let mut outside = String::new();
    let source = if before_comma.contains('(') {
        let mut depth = 0usize;
        for c in before_comma.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => outside.push(c),
                _ => {}
            }
        }
        if outside.chars().any(char::is_alphabetic) {
            outside.as_str()
        } else {
            // "(Fort Lauderdale)": the parenthesised part is all there is.
            before_comma
        }
    } else {
        before_comma
    };
    let trim_set: &[char] = &['(', ')', '-', '/', ';', ':', '*', '"', '\''];
    let mut out = String::with_capacity(source.len());
    for word in source.split_whitespace() {
        let word = word.trim_matches(trim_set);
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let all_one_case = !(word.bytes().any(|b| b.is_ascii_uppercase())
            && word.bytes().any(|b| b.is_ascii_lowercase()));
        if !out.is_empty() && all_one_case && is_minor_place_word(word) {
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            push_title_word(&mut out, word);
        }
    }
    if out.chars().any(char::is_alphabetic) {
        Some(out)
    } else {
        None
    }
}

/// Title: trimmed with internal whitespace collapsed. HTML entities were decoded by the parsers.
pub fn normalise_title(text: &str) -> Option<String> {
    collapse_whitespace(text)
}

/// Description (RESO `PublicRemarks`): trimmed; line breaks inside are kept.
pub fn normalise_description(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title(word: &str) -> String {
        let mut out = String::new();
        push_title_word(&mut out, word);
        out
    }

    #[test]
    fn fold_key_lowercases_and_joins_separators() {
        let mut buf = [0u8; 32];
        let mut fold =
            |text, keep_spaces| fold_key(text, &mut buf, keep_spaces).map(|key| key.to_vec());
        assert_eq!(fold(" FOR_RENT ", true).as_deref(), Some(&b"for rent"[..]));
        assert_eq!(
            fold("Residential  Lease", true).as_deref(),
            Some(&b"residential lease"[..])
        );
        assert_eq!(fold("N.E.", true).as_deref(), Some(&b"ne"[..]));
        assert_eq!(fold("New York", false).as_deref(), Some(&b"newyork"[..]));
        assert_eq!(fold("Peñasco", true), None);
        let mut small = [0u8; 4];
        assert_eq!(fold_key("abcde", &mut small, true), None);
    }

    #[test]
    fn title_case_keeps_mixed_case_and_fixes_single_case() {
        assert_eq!(title("BOSTON"), "Boston");
        assert_eq!(title("main"), "Main");
        assert_eq!(title("McDonald"), "McDonald");
        assert_eq!(title("o'brien"), "O'Brien");
        assert_eq!(title("WILKES-BARRE"), "Wilkes-Barre");
        assert_eq!(title("5TH"), "5th");
        assert_eq!(title("st."), "St.");
        assert_eq!(title("aA"), "Aa");
        for word in [
            "BOSTON",
            "o'brien",
            "mcDONALD",
            "x",
            "5TH",
            "ünïcode",
            "aA",
            "a-B",
            "ab-CD",
            "'aB",
        ] {
            assert_eq!(title(&title(word)), title(word), "{word}");
        }
    }

    #[test]
    fn collapse_whitespace_cleans_and_rejects_blank() {
        assert_eq!(
            collapse_whitespace("  a  b\t\nc "),
            Some("a b c".to_owned())
        );
        assert_eq!(
            collapse_whitespace("already clean"),
            Some("already clean".to_owned())
        );
        assert_eq!(collapse_whitespace(" \u{a0} \n"), None);
    }

    #[test]
    fn cities_are_title_cased_without_neighbourhoods() {
        let city = |text| normalise_city(text);
        assert_eq!(city("BOSTON").as_deref(), Some("Boston"));
        assert_eq!(city("st. louis").as_deref(), Some("St. Louis"));
        assert_eq!(city("  Boston (Dorchester) ").as_deref(), Some("Boston"));
        assert_eq!(
            city("(Fort Lauderdale)").as_deref(),
            Some("Fort Lauderdale")
        );
        assert_eq!(city("New Castle, IN.").as_deref(), Some("New Castle"));
        assert_eq!(
            city("LAKE OF THE WOODS").as_deref(),
            Some("Lake of the Woods")
        );
        assert_eq!(city("winston-salem").as_deref(), Some("Winston-Salem"));
        assert_eq!(city("  ( ) "), None);
        assert_eq!(city("12345"), None);
    }

    #[test]
    fn titles_and_descriptions() {
        assert_eq!(
            normalise_title("  Sunny   2BR\n near  park ").as_deref(),
            Some("Sunny 2BR near park")
        );
        assert_eq!(
            normalise_description("\n line one\n\nline two  ").as_deref(),
            Some("line one\n\nline two")
        );
        assert_eq!(normalise_description("   "), None);
    }
}

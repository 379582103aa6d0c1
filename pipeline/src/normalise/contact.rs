//! Contact details: phone numbers to E.164, e-mail addresses lower-cased, names trimmed.

use super::text::collapse_whitespace;

/// Phone number in E.164 (`+16175550123`).
///
/// * North American numbers: 10 digits, or 11 starting with `1`, in any punctuation:
///   `"(617) 555-0123"`, `"617.555.0123"`, `"1-617-555-0123"`, `"+1 617 555 0123"`. The area code
///   and exchange must start with 2-9, as the numbering plan requires.
/// * Other countries need a `+` (or the `00`/`011` international prefix): `"+44 20 7946 0958"`
///   becomes `+442079460958`; 8 to 15 digits, the country code not starting with 0.
/// * Leading labels (`"tel:"`, `"Phone:"`) and a trailing extension (`"x12"`, `"ext. 12"`) are
///   ignored. Anything else (letters, two numbers run together, too few digits) is `None`.
pub fn normalise_phone(text: &str) -> Option<String> {
    let start = text.find(|c: char| c.is_ascii_digit() || c == '+')?;
    let mut digits = [0u8; 16];
    let mut len = 0;
    let mut plus = false;
    for (offset, c) in text[start..].char_indices() {
        match c {
            '0'..='9' => {
                if len == digits.len() {
                    return None;
                }
                digits[len] = c as u8;
                len += 1;
            }
            '+' if offset == 0 => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
            'x' | 'X' | 'e' | 'E' | ',' | ';' => {
                // An extension ("x12", "ext 12") or a list separator ends the number.
                break;
            }
            // A complete number followed by a remark ("(cell)", "/ 617-555-0124") ends there;
            // letters among the first digits are a vanity number we do not translate.
            _ if len >= 10 => break,
            _ => return None,
        }
    }
    let digits = std::str::from_utf8(&digits[..len]).ok()?;
    let international = if plus {
        Some(digits)
    } else if let Some(rest) = digits.strip_prefix("011") {
        Some(rest)
    } else {
        digits.strip_prefix("00")
    };
    match international {
        Some(number) if number.starts_with('1') => nanp(&number[1..]),
        Some(number) => {
            let plausible = (8..=15).contains(&number.len()) && !number.starts_with('0');
            plausible.then(|| format!("+{number}"))
        }
        None if digits.len() == 11 && digits.starts_with('1') => nanp(&digits[1..]),
        None => nanp(digits),
    }
}

/// A 10-digit North American number (without the country code) as E.164.
fn nanp(national: &str) -> Option<String> {
    let bytes = national.as_bytes();
    let valid = bytes.len() == 10 && bytes[0] >= b'2' && bytes[3] >= b'2';
    valid.then(|| format!("+1{national}"))
}

/// E-mail address trimmed and lower-cased (`mailto:` dropped). It must have exactly one `@`, a
/// non-empty local part, and a domain with a dot between non-empty labels; no spaces or brackets.
pub fn normalise_email(text: &str) -> Option<String> {
    // "Jane Doe <jane@example.com>": the address is between the angle brackets.
    let text = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let trimmed = text.trim();
    let trimmed = trimmed
        .get(..7)
        .filter(|prefix| prefix.eq_ignore_ascii_case("mailto:"))
        .map_or(trimmed, |_| &trimmed[7..]);
    if trimmed.len() > 254 {
        return None;
    }
    let (local, domain) = trimmed.split_once('@')?;
    let forbidden = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '@' | '<' | '>' | '(' | ')' | '[' | ']' | '\\' | ',' | ';' | ':' | '"'
            )
    };
    let labels_ok =
        domain.split('.').count() >= 2 && domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || !labels_ok || local.contains(forbidden) || domain.contains(forbidden) {
        return None;
    }
    Some(trimmed.to_ascii_lowercase())
}

/// Contact name: trimmed, inner whitespace collapsed.
pub fn normalise_contact_name(text: &str) -> Option<String> {
    collapse_whitespace(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn north_american_numbers() {
        for text in [
            "(617) 555-0123",
            "617.555.0123",
            "1-617-555-0123",
            "+1 617 555 0123",
            "6175550123",
            "tel:+16175550123",
            "Phone: 617-555-0123 ext. 45",
            "617-555-0123 x45",
            "617-555-0123 (cell)",
            "617-555-0123 / 617-555-0124",
        ] {
            assert_eq!(
                normalise_phone(text).as_deref(),
                Some("+16175550123"),
                "{text}"
            );
        }
    }

    #[test]
    fn international_numbers_keep_their_country_code() {
        assert_eq!(
            normalise_phone("+44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            normalise_phone("011 44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            normalise_phone("+442079460958").as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn invalid_numbers_are_none() {
        for text in [
            "555-0123",
            "(017) 555-0123",
            "(617) 155-0123",
            "1-800-FLOWERS",
            "617-555-0123 617-555-0124",
            "+0 123 456 789",
            "+123",
            "call me",
            "",
        ] {
            assert_eq!(normalise_phone(text), None, "{text}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            normalise_email("  Jane.Doe@Example.COM ").as_deref(),
            Some("jane.doe@example.com")
        );
        assert_eq!(
            normalise_email("Jane Doe <Jane@Example.com>").as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(
            normalise_email("mailto:abc123@hous.craigslist.org").as_deref(),
            Some("abc123@hous.craigslist.org")
        );
        for bad in [
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "a@b@c.com",
            "jane doe@example.com",
            "jane@.com",
            "jane@example..com",
        ] {
            assert_eq!(normalise_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn contact_names() {
        assert_eq!(
            normalise_contact_name("  Jane   Doe ").as_deref(),
            Some("Jane Doe")
        );
        assert_eq!(normalise_contact_name("  "), None);
    }
}

//! Prices as listings quote them: `"$1,250/mo"`, `"$325K"`, `"350/week"`, `"Contact for price"`.

use std::fmt;

use aiq_schemas::PricePeriod;

use super::NormaliseError;

/// Largest amount taken as a real price; anything above is a typo or a corrupt field.
pub const MAX_PLAUSIBLE_PRICE: f64 = 1e10;

/// Amounts below one dollar are placeholders ("$0", "$0.01"), not prices.
const MIN_REAL_PRICE: f64 = 1.0;

/// A price as quoted: the amount in dollars (multipliers such as `K` applied) and the period the
/// text named, if it named one (`None` for a bare `"$2,400"`).
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct QuotedPrice {
    pub amount: f64,
    pub period: Option<PricePeriod>,
}

impl fmt::Display for QuotedPrice {
    /// A form [`parse_price`] reads back to the same value: `1516.67/month`, `325000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // f64's Display is the shortest text that parses back to the same bits, never exponent form.
        write!(f, "{}", self.amount)?;
        match self.period {
            None | Some(PricePeriod::Once) => Ok(()),
            Some(period) => write!(f, "/{}", period.as_str()),
        }
    }
}

/// Reads a quoted price.
///
/// * No digits at all (`"Contact for price"`, `"£"`) or a placeholder below one dollar: `Ok(None)`.
/// * A currency other than dollars (`£`, `€`, `¥`, `₹`): `Ok(None)`, since `list_price` is dollars
///   and the pipeline has no exchange rates.
/// * The first number is the price (`"$1,200 - $1,500"` is 1,200); `K`/`M`/`B` (or
///   `thousand`/`million`/`billion`) multiply it; commas group thousands only when followed by three
///   digits.
/// * The period is the first period word after the number (`/mo`, `per month`, `weekly`, `/night`,
///   `/yr`...), else one before it (`"Monthly rent: $900"`), else `None`.
/// * Negative amounts and amounts above [`MAX_PLAUSIBLE_PRICE`] are errors: the record is corrupt.
pub fn parse_price(text: &str) -> Result<Option<QuotedPrice>, NormaliseError> {
    let bytes = text.as_bytes();
    let Some(start) = bytes.iter().position(u8::is_ascii_digit) else {
        return Ok(None);
    };
    let prefix = &text[..start];
    if !prefix.is_ascii()
        && ["£", "€", "¥", "₹"]
            .iter()
            .any(|symbol| prefix.contains(symbol))
    {
        return Ok(None);
    }
    let negative = {
        let before = prefix.trim_end_matches('$');
        before.ends_with('-') || before.ends_with('\u{2212}')
    };

    let (number, end) = scan_number(bytes, start);
    let mut amount =
        number.ok_or_else(|| invalid_price(text, "the number is too long to be a price"))?;
    // Spreadsheet exports write large prices in scientific notation ("1.09E+06").
    let (exponent, end) = scan_exponent(bytes, end);
    amount *= 10f64.powi(exponent);
    let (multiplier, after_multiplier) = scan_multiplier(bytes, end);
    amount *= multiplier;

    if negative {
        return Err(invalid_price(text, "the price is negative"));
    }
    if amount > MAX_PLAUSIBLE_PRICE {
        return Err(invalid_price(text, "the price is above 10 billion dollars"));
    }
    if amount < MIN_REAL_PRICE {
        return Ok(None);
    }
    let period = find_period(&text[after_multiplier..]).or_else(|| find_period(prefix));
    Ok(Some(QuotedPrice { amount, period }))
}

fn invalid_price(text: &str, why: &str) -> NormaliseError {
    NormaliseError::InvalidPrice {
        text: text.chars().take(80).collect(),
        why: why.to_owned(),
    }
}

/// Reads digits with optional thousands commas and one decimal point from `start` (a digit).
/// Returns the value (`None` when it has more digits than any price could) and the end offset.
pub(crate) fn scan_number(bytes: &[u8], start: usize) -> (Option<f64>, usize) {
    // Digits are copied (without commas) into a small buffer so the standard, correctly rounded
    // float parser does the conversion.
    let mut digits = [0u8; 40];
    let mut len = 0;
    let mut too_long = false;
    let mut index = start;
    let mut seen_point = false;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte.is_ascii_digit() {
            if len < digits.len() {
                digits[len] = byte;
                len += 1;
            } else if !seen_point {
                too_long = true;
            }
            index += 1;
        } else if byte == b','
            && !seen_point
            && bytes.len() >= index + 4
            && bytes[index + 1..index + 4].iter().all(u8::is_ascii_digit)
            && bytes
                .get(index + 4)
                .is_none_or(|next| !next.is_ascii_digit())
        {
            index += 1;
        } else if byte == b'.'
            && !seen_point
            && bytes.get(index + 1).is_some_and(u8::is_ascii_digit)
        {
            seen_point = true;
            if len < digits.len() {
                digits[len] = b'.';
                len += 1;
            }
            index += 1;
        } else {
            break;
        }
    }
    // A trailing '.' can only come from truncation; drop it so the parse succeeds.
    while len > 0 && digits[len - 1] == b'.' {
        len -= 1;
    }
    let value = if too_long {
        None
    } else {
        std::str::from_utf8(&digits[..len])
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
    };
    (value, index)
}

/// Reads a `K`/`M`/`B` style multiplier after the number (spaces allowed before it). The letters
/// must end a word, so `"1250 mo"` is not read as millions.
/// An exponent glued to the number (`E+06`, `e6`, `E-2`): its value and where it ends, or
/// `(0, from)` when there is none (an `e` starting a word such as "each" is not one).
fn scan_exponent(bytes: &[u8], from: usize) -> (i32, usize) {
    if !matches!(bytes.get(from), Some(b'e' | b'E')) {
        return (0, from);
    }
    let mut index = from + 1;
    let negative = match bytes.get(index) {
        Some(b'+') => {
            index += 1;
            false
        }
        Some(b'-') => {
            index += 1;
            true
        }
        _ => false,
    };
    let digits_start = index;
    while index < bytes.len() && index - digits_start < 3 && bytes[index].is_ascii_digit() {
        index += 1;
    }
    if index == digits_start || bytes.get(index).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return (0, from);
    }
    let value: i32 = std::str::from_utf8(&bytes[digits_start..index])
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    (if negative { -value } else { value }, index)
}

fn scan_multiplier(bytes: &[u8], from: usize) -> (f64, usize) {
    let mut index = from;
    while bytes.get(index) == Some(&b' ') {
        index += 1;
    }
    let word_end = bytes[index..]
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .map_or(bytes.len(), |offset| index + offset);
    let word = &bytes[index..word_end];
    let multiplier = match word.len() {
        0 => None,
        1..=8 => {
            let mut lower = [0u8; 8];
            for (slot, byte) in lower.iter_mut().zip(word) {
                *slot = byte.to_ascii_lowercase();
            }
            match &lower[..word.len()] {
                b"k" | b"thousand" => Some(1e3),
                b"m" | b"mm" | b"mil" | b"mill" | b"million" => Some(1e6),
                b"b" | b"bn" | b"billion" => Some(1e9),
                _ => None,
            }
        }
        _ => None,
    };
    match multiplier {
        Some(factor) => (factor, word_end),
        None => (1.0, from),
    }
}

/// The first period word in `text`.
fn find_period(text: &str) -> Option<PricePeriod> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|word| !word.is_empty() && word.len() <= 8)
        .find_map(period_word)
}

fn period_word(word: &str) -> Option<PricePeriod> {
    let mut lower = [0u8; 8];
    for (slot, byte) in lower.iter_mut().zip(word.bytes()) {
        *slot = byte.to_ascii_lowercase();
    }
    match &lower[..word.len()] {
        b"mo" | b"mos" | b"mon" | b"month" | b"months" | b"monthly" | b"mth" | b"mnth" | b"pcm" => {
            Some(PricePeriod::Month)
        }
        b"wk" | b"wks" | b"week" | b"weeks" | b"weekly" | b"pw" => Some(PricePeriod::Week),
        b"day" | b"days" | b"daily" | b"night" | b"nights" | b"nightly" | b"nt" | b"nite" => {
            Some(PricePeriod::Day)
        }
        b"yr" | b"yrs" | b"year" | b"years" | b"yearly" | b"annual" | b"annually" | b"annum" => {
            Some(PricePeriod::Year)
        }
        _ => None,
    }
}

/// Converts an amount quoted per `period` to per month (rentals are stored per month): a week is
/// 52/12 per month, a day 365/12, a year 1/12. `Once` and `Month` are unchanged. Rounded to cents,
/// so converting the stored value back and forth is stable.
pub fn monthly_amount(amount: f64, period: PricePeriod) -> f64 {
    let monthly = match period {
        PricePeriod::Once | PricePeriod::Month => amount,
        PricePeriod::Week => amount * 52.0 / 12.0,
        PricePeriod::Day => amount * 365.0 / 12.0,
        PricePeriod::Year => amount / 12.0,
    };
    round_cents(monthly)
}

pub(crate) fn round_cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

/// Whether a stored list price is a real price: at least a dollar and at most [`MAX_PLAUSIBLE_PRICE`].
pub(crate) fn is_real_price(amount: f64) -> bool {
    (MIN_REAL_PRICE..=MAX_PLAUSIBLE_PRICE).contains(&amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str) -> Option<(f64, Option<PricePeriod>)> {
        parse_price(text)
            .unwrap_or_else(|error| panic!("{text}: {error}"))
            .map(|price| (price.amount, price.period))
    }

    #[test]
    fn common_price_forms() {
        use PricePeriod::*;
        assert_eq!(quoted("$1,250/mo"), Some((1250.0, Some(Month))));
        assert_eq!(quoted("$1250 per month"), Some((1250.0, Some(Month))));
        assert_eq!(quoted("$325K"), Some((325_000.0, None)));
        assert_eq!(quoted("1.2M"), Some((1_200_000.0, None)));
        assert_eq!(quoted("$2,400"), Some((2400.0, None)));
        assert_eq!(quoted("350/week"), Some((350.0, Some(Week))));
        assert_eq!(quoted("$95/night"), Some((95.0, Some(Day))));
        assert_eq!(quoted("1250"), Some((1250.0, None)));
        assert_eq!(quoted("$1,200.50"), Some((1200.5, None)));
        assert_eq!(quoted("Price: $2,350 / month"), Some((2350.0, Some(Month))));
        assert_eq!(quoted("Monthly rent: $900"), Some((900.0, Some(Month))));
        assert_eq!(quoted("$24,000/yr"), Some((24_000.0, Some(Year))));
        assert_eq!(quoted("$1,200 - $1,500"), Some((1200.0, None)));
        assert_eq!(quoted("1.5 million"), Some((1_500_000.0, None)));
        assert_eq!(quoted("$1250 mo"), Some((1250.0, Some(Month))));
        assert_eq!(quoted("1.09E+06"), Some((1_090_000.0, None)));
        assert_eq!(quoted("2.5e5"), Some((250_000.0, None)));
        assert_eq!(quoted("$900 each month"), Some((900.0, Some(Month))));
    }

    #[test]
    fn no_price_is_not_an_error() {
        assert_eq!(quoted("Contact for price"), None);
        assert_eq!(quoted("£"), None);
        assert_eq!(quoted("£1,200 pcm"), None);
        assert_eq!(quoted("$0"), None);
        assert_eq!(quoted(""), None);
        assert_eq!(quoted("Price - $2,350"), Some((2350.0, None)));
    }

    #[test]
    fn corrupt_prices_are_rejected() {
        for text in [
            "-$100",
            "$-100",
            "-1250",
            "99999999999",
            "$20B",
            "123456789012345678901234567890123456789012345",
        ] {
            let error = parse_price(text).expect_err(text);
            assert_eq!(error.code(), "invalid_price", "{text}");
        }
    }

    #[test]
    fn display_reads_back_to_the_same_price() {
        for text in [
            "$1,516.67/week",
            "$325K",
            "95/night",
            "$24,000/yr",
            "$1,200.505",
        ] {
            let first = parse_price(text).unwrap().unwrap();
            let again = parse_price(&first.to_string()).unwrap().unwrap();
            assert_eq!(first, again, "{text} -> {first}");
        }
    }

    #[test]
    fn rentals_convert_to_monthly() {
        assert_eq!(monthly_amount(350.0, PricePeriod::Week), 1516.67);
        assert_eq!(monthly_amount(95.0, PricePeriod::Day), 2889.58);
        assert_eq!(monthly_amount(24_000.0, PricePeriod::Year), 2000.0);
        assert_eq!(monthly_amount(1250.0, PricePeriod::Month), 1250.0);
    }
}

//! Bot-check pages that a site parser may be handed instead of a listing.

/// Words in the `<title>` of the bot checks that Realtor.com, Redfin and Trulia serve (Akamai,
/// PerimeterX, Distil), matched without regard to case. One list so a new wording reaches every
/// site.
const BOT_CHECK_TITLE_MARKERS: [&str; 5] = [
    "access denied",
    "are you a robot",
    "captcha",
    "request blocked",
    "pardon our interruption",
];

/// Whether a page title is one of the titles bot checks use.
pub(crate) fn is_bot_check_title(title: &str) -> bool {
    let lower = title.to_ascii_lowercase();
    BOT_CHECK_TITLE_MARKERS
        .iter()
        .any(|marker| lower.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_check_titles_are_recognised_in_any_case() {
        for title in [
            "Access Denied",
            "Are you a robot?",
            "Pardon Our Interruption",
            "hCaptcha check",
            "Request blocked | Trulia",
        ] {
            assert!(is_bot_check_title(title), "{title}");
        }
    }

    #[test]
    fn listing_titles_are_not_bot_checks() {
        for title in [
            "123 Main St, Austin, TX 78701 | realtor.com",
            "1 Pine St, Seattle, WA 98101 | Redfin",
            "",
        ] {
            assert!(!is_bot_check_title(title), "{title}");
        }
    }
}

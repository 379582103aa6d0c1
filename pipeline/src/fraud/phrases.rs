//! Scam phrasing: one Aho-Corasick automaton over every phrase, built once, matched case-insensitively
//! over title and description together.
//!
//! The phrase lists come from the FTC and FBI IC3 rental-scam advisories and the Craigslist "avoid
//! scams" page, trimmed against the 2022 Craigslist rows in `shared/data/tables`: legitimate listings
//! say "credit check required", "$250 gift card move-in special" and "do not wire money", so bare words
//! (`wire`, `gift card`, `credit check`) are not phrases here, matches must sit on word boundaries, and a
//! negation just before a match ("do not wire money", "never ... western union") cancels it.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::{Deserialize, Serialize};

/// A family of scam phrasing. The score grows with the number of distinct families found.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScamCategory {
    /// Payment by wire or money-transfer service.
    WireTransfer,
    /// Payment in gift or prepaid cards.
    GiftCards,
    /// The "owner" is abroad, deployed or on a mission.
    OwnerAway,
    /// Keys sent by mail or courier.
    KeysByMail,
    /// No viewing: can't show it, drive by only, pay before seeing it.
    NoViewing,
    /// Asks the renter to pull a credit report through a link.
    CreditCheckLink,
    /// Only peer-to-peer payment apps.
    PaymentAppOnly,
    /// Contact by e-mail only.
    EmailOnly,
}

impl ScamCategory {
    pub const ALL: [ScamCategory; 8] = [
        ScamCategory::WireTransfer,
        ScamCategory::GiftCards,
        ScamCategory::OwnerAway,
        ScamCategory::KeysByMail,
        ScamCategory::NoViewing,
        ScamCategory::CreditCheckLink,
        ScamCategory::PaymentAppOnly,
        ScamCategory::EmailOnly,
    ];

    /// What the listing asks for, as a person would check it.
    pub fn describe(self) -> &'static str {
        match self {
            ScamCategory::WireTransfer => {
                "asks for payment by wire transfer or a money-transfer service"
            }
            ScamCategory::GiftCards => "asks for payment in gift or prepaid cards",
            ScamCategory::OwnerAway => "says the owner is abroad, deployed or away on a mission",
            ScamCategory::KeysByMail => "offers to send the keys by mail or courier",
            ScamCategory::NoViewing => "will not show the home before payment",
            ScamCategory::CreditCheckLink => {
                "asks the renter to run a credit report through a link"
            }
            ScamCategory::PaymentAppOnly => {
                "accepts only payment apps (Zelle, Cash App, Venmo, PayPal)"
            }
            ScamCategory::EmailOnly => "wants contact by e-mail only",
        }
    }

    fn phrases(self) -> &'static [&'static str] {
        match self {
            ScamCategory::WireTransfer => &[
                "wire transfer",
                "wire the money",
                "wire the deposit",
                "wire the rent",
                "wire the payment",
                "wire the funds",
                "wire me",
                "wire money",
                "wired to my",
                "western union",
                "moneygram",
                "money gram",
                "worldremit",
                "ria money transfer",
                "bank to bank transfer",
                "money transfer service",
            ],
            ScamCategory::GiftCards => &[
                "itunes card",
                "itunes gift card",
                "apple gift card",
                "google play card",
                "google play gift card",
                "steam card",
                "steam gift card",
                "pay with gift card",
                "pay with a gift card",
                "pay in gift cards",
                "payment in gift cards",
                "gift card payment",
                "gift cards as payment",
                "green dot card",
                "greendot card",
                "moneypak",
                "money pak",
                "vanilla gift card",
                "vanilla visa card",
                "reloadit",
            ],
            ScamCategory::OwnerAway => &[
                "out of the country",
                "out of country",
                "overseas",
                "missionary",
                "mission work",
                "mission trip",
                "on a mission",
                "deployed",
                "on deployment",
                "peace corps",
                "living abroad",
                "currently abroad",
                "working abroad",
                "moved abroad",
                "relocated abroad",
                "transferred abroad",
                "job transfer abroad",
            ],
            ScamCategory::KeysByMail => &[
                "keys by mail",
                "key by mail",
                "mail you the keys",
                "mail you the key",
                "mail the keys",
                "keys will be mailed",
                "key will be mailed",
                "keys in the mail",
                "send you the keys",
                "send you the key",
                "ship the keys",
                "ship you the keys",
                "keys via courier",
                "keys by courier",
                "keys via fedex",
                "keys by fedex",
                "fedex you the keys",
                "keys will be delivered",
                "deliver the keys to you",
                "courier the keys",
            ],
            ScamCategory::NoViewing => &[
                "can't show",
                "can’t show",
                "cant show",
                "cannot show",
                "can not show",
                "unable to show",
                "not able to show",
                "drive by only",
                "drive-by only",
                "just drive by",
                "drive by the property",
                "do not disturb the tenant",
                "do not disturb the occupant",
                "don't disturb the tenant",
                "don’t disturb the tenant",
                "deposit before viewing",
                "deposit before showing",
                "deposit before you see",
                "pay before viewing",
                "sight unseen",
                "without viewing",
                "view from the outside",
                "look through the windows",
                "peek through the windows",
            ],
            ScamCategory::CreditCheckLink => &[
                "run your credit",
                "run a credit report",
                "credit report link",
                "credit check link",
                "free credit report",
                "free credit score",
                "send me your credit score",
                "send your credit score",
                "send me your credit report",
                "send your credit report",
                "myfreescorenow",
                "freecreditscore",
                "get your credit report from",
                "check your credit at",
                "check your credit here",
            ],
            ScamCategory::PaymentAppOnly => &[
                "zelle only",
                "cash app only",
                "cashapp only",
                "venmo only",
                "paypal only",
                "only zelle",
                "only cash app",
                "only cashapp",
                "only venmo",
                "only paypal",
                "via zelle",
                "through zelle",
                "by zelle",
                "via cash app",
                "through cash app",
                "via cashapp",
                "paypal friends and family",
                "paypal friends & family",
            ],
            ScamCategory::EmailOnly => &[
                "email only",
                "e-mail only",
                "email me only",
                "only by email",
                "only via email",
                "only through email",
                "contact me by email only",
                "contact me via email only",
                "no phone calls",
                "no calls please",
            ],
        }
    }
}

/// Words that, just before a phrase, turn it into advice ("do not wire money").
const NEGATIONS: [&str; 7] = [
    "not ",
    "never ",
    "n't ",
    "n’t ",
    "no ",
    "avoid ",
    "beware of ",
];

/// How far back (bytes) a negation may sit: "do not ever wire money" still counts as a warning.
const NEGATION_WINDOW: usize = 16;

pub(crate) struct PhraseMatcher {
    automaton: AhoCorasick,
    /// Category of each pattern, by pattern index.
    categories: Vec<ScamCategory>,
}

impl PhraseMatcher {
    pub(crate) fn new() -> Result<Self, aho_corasick::BuildError> {
        let mut patterns = Vec::new();
        let mut categories = Vec::new();
        for category in ScamCategory::ALL {
            for phrase in category.phrases() {
                patterns.push(*phrase);
                categories.push(category);
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)?;
        Ok(PhraseMatcher {
            automaton,
            categories,
        })
    }

    /// Distinct categories found in `text`, in [`ScamCategory::ALL`] order.
    pub(crate) fn categories_in(&self, text: &str) -> Vec<ScamCategory> {
        let mut found = [false; ScamCategory::ALL.len()];
        let bytes = text.as_bytes();
        for hit in self.automaton.find_overlapping_iter(text) {
            let (start, end) = (hit.start(), hit.end());
            let bounded = (start == 0 || !bytes[start - 1].is_ascii_alphanumeric())
                && (end == bytes.len() || !bytes[end].is_ascii_alphanumeric());
            if !bounded || negated(bytes, start) {
                continue;
            }
            let category = self.categories[hit.pattern().as_usize()];
            found[category as usize] = true;
        }
        ScamCategory::ALL
            .into_iter()
            .filter(|c| found[*c as usize])
            .collect()
    }
}

fn negated(bytes: &[u8], start: usize) -> bool {
    let window = &bytes[start.saturating_sub(NEGATION_WINDOW)..start];
    NEGATIONS.iter().any(|negation| {
        window
            .windows(negation.len())
            .any(|w| w.eq_ignore_ascii_case(negation.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<ScamCategory> {
        PhraseMatcher::new().unwrap().categories_in(text)
    }

    #[test]
    fn finds_each_family_case_insensitively() {
        assert_eq!(
            found("Please send the deposit by WESTERN UNION"),
            vec![ScamCategory::WireTransfer]
        );
        assert_eq!(
            found("I am currently Out Of The Country on a mission trip; I will mail you the keys."),
            vec![ScamCategory::OwnerAway, ScamCategory::KeysByMail]
        );
        assert_eq!(
            found("zelle only. email only."),
            vec![ScamCategory::PaymentAppOnly, ScamCategory::EmailOnly]
        );
        assert_eq!(
            found("Run your credit at the link below"),
            vec![ScamCategory::CreditCheckLink]
        );
        assert_eq!(
            found("we can't show it yet, drive by only"),
            vec![ScamCategory::NoViewing]
        );
        assert_eq!(found("pay with a gift card"), vec![ScamCategory::GiftCards]);
    }

    #[test]
    fn ordinary_listing_language_is_not_a_phrase() {
        for text in [
            "Background and credit check required. $250 gift card move-in special!",
            "For your own protection: do not wire money as a condition for leasing.",
            "Never pay by Western Union.",
            "Stop by American Wire at 413 Central Ave",
            "Wired for cable; deployment-ready smart home; overseasoned? no.",
            "Text only please. Application fee (cash-app/ venmo/ paypal).",
            "a guest suite that can be rented for your out of town guest",
        ] {
            assert_eq!(found(text), Vec::<ScamCategory>::new(), "{text}");
        }
    }

    #[test]
    fn every_phrase_is_lower_case_and_found_alone() {
        let matcher = PhraseMatcher::new().unwrap();
        for category in ScamCategory::ALL {
            for phrase in category.phrases() {
                assert_eq!(phrase.to_lowercase(), *phrase);
                assert_eq!(matcher.categories_in(phrase), vec![category], "{phrase}");
            }
        }
    }
}

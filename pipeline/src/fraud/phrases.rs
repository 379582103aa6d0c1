//! Scam phrasing: one Aho-Corasick automaton over every phrase, built once, matched case-insensitively
//! over title and description together.
//!
//! The phrase lists come from the FTC and FBI IC3 rental-scam advisories and the Craigslist "avoid
//! scams" page, trimmed against the 2022 Craigslist rows in `shared/data/tables`: legitimate listings
//! say "credit check required", "$250 gift card move-in special" and "do not wire money", so bare words
//! (`wire`, `gift card`, `credit check`) are not phrases here, matches must sit on word boundaries, and a
//! negation just before a match ("do not wire money", "never ... western union") or earlier in its
//! clause ("DO NOT wire funds (e.g. Western Union)") cancels it.
//!
//! Fixed phrases miss reworded scams, so [`PROXIMITY_RULES`] add a second kind of evidence: an anchor
//! found by the same automaton ("gift cards", "keys", "before viewing", "abroad") counts only with a
//! context word within [`WINDOW_WORDS`] words in the same clause ("deposit", "mailed", "send",
//! "owner"), no negation before it, and no word that makes it ordinary ("receive a $250 gift card").
//! The window is read only around anchor hits, on the stack, so text without anchors costs one
//! automaton pass as before.

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
                "missionaries",
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
                "e-mail me only",
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

/// A scam pattern too varied for fixed phrases: an anchor term ("gift cards") with a context word
/// ("deposit") at most [`WINDOW_WORDS`] words away in the same clause. Scams reword freely ("buy gift
/// cards for the security deposit", "keys and garage remote will be mailed to you by courier"), while
/// each half alone is ordinary listing language ("$250 gift card move-in special", "keys at the office").
struct ProximityRule {
    category: ScamCategory,
    /// Lower-case terms found by the automaton, on word boundaries.
    anchors: &'static [&'static str],
    /// Lower-case words (or two-word sequences) that must sit near an anchor. `@` stands for any
    /// e-mail address; a leading `<` means the word counts only before the anchor.
    contexts: &'static [&'static str],
    /// Words anywhere in the window that make the anchor ordinary: a promotion gives a gift card, it
    /// does not ask for one.
    cancels: &'static [&'static str],
    /// A capitalised anchor inside a clause is a name ("Mission Mayfield Downs"), not the word.
    skip_names: bool,
    /// A context word right before an anchor word forms a compound ("mail key" is the mailbox key),
    /// not an action on it.
    skip_compound: bool,
}

/// Most words between an anchor and its context word.
const WINDOW_WORDS: usize = 8;
/// How many words before the anchor (or its context, when that comes first) a negation may sit:
/// "never send gift cards for a deposit", "beware of anyone asking for gift cards".
const NEGATION_LOOKBACK_WORDS: usize = 6;

/// Words that turn a clause into a warning rather than a request.
const CLAUSE_NEGATIONS: &[&str] = &[
    "not",
    "never",
    "no",
    "don't",
    "don’t",
    "dont",
    "doesn't",
    "doesn’t",
    "won't",
    "won’t",
    "cannot",
    "can't",
    "can’t",
    "avoid",
    "beware",
    "scam",
    "scams",
    "scammer",
    "scammers",
    "fraud",
    "fraudulent",
];

const PAYMENT_WORDS: &[&str] = &[
    "pay",
    "pays",
    "paying",
    "paid",
    "payment",
    "payments",
    "deposit",
    "deposits",
    "rent",
    "codes",
    "code",
    "pin",
    "pins",
    "buy",
    "purchase",
    "purchased",
];

const PROXIMITY_RULES: [ProximityRule; 5] = [
    ProximityRule {
        category: ScamCategory::GiftCards,
        anchors: &[
            "gift card",
            "gift cards",
            "gift-card",
            "gift-cards",
            "giftcard",
            "giftcards",
            "prepaid card",
            "prepaid cards",
            "google play",
            "itunes",
        ],
        contexts: PAYMENT_WORDS,
        cancels: &[
            "receive",
            "receives",
            "get",
            "gets",
            "earn",
            "win",
            "bonus",
            "reward",
            "rewards",
            "special",
            "specials",
            "free",
            "treat",
            "enjoy",
            "incentive",
            "referral",
            "refer",
            "points",
            "concession",
            "promotion",
            "promo",
        ],
        skip_names: false,
        skip_compound: false,
    },
    ProximityRule {
        category: ScamCategory::KeysByMail,
        anchors: &["key", "keys"],
        // A bare "mail" after the keys is usually the mail room; before them it is the verb.
        contexts: &[
            "<mail",
            "mailed",
            "courier",
            "couriered",
            "fedex",
            "dhl",
            "ship",
            "shipped",
        ],
        cancels: &[],
        skip_names: false,
        skip_compound: true,
    },
    ProximityRule {
        category: ScamCategory::NoViewing,
        anchors: &[
            "before viewing",
            "before a viewing",
            "before any viewing",
            "before seeing",
            "before showing",
            "before a showing",
            "before any showing",
            "before you see",
            "before you view",
            "prior to viewing",
            "prior to seeing",
            "prior to showing",
            "without seeing",
            "no viewing",
            "no viewings",
            "no showing",
            "no showings",
        ],
        contexts: &[
            "deposit", "deposits", "pay", "paid", "payment", "send", "sent", "wire", "wired",
            "money", "funds", "transfer",
        ],
        cancels: &[],
        skip_names: false,
        skip_compound: false,
    },
    ProximityRule {
        category: ScamCategory::OwnerAway,
        anchors: &["abroad", "mission", "deployment", "stationed"],
        contexts: &[
            "owner",
            "owners",
            "landlord",
            "relocated",
            "relocating",
            "transferred",
            "currently",
            "i am",
            "i'm",
            "i’m",
            "we are",
            "we're",
            "we’re",
            "i was",
            "we were",
        ],
        cancels: &[],
        skip_names: true,
        skip_compound: false,
    },
    ProximityRule {
        category: ScamCategory::EmailOnly,
        anchors: &[
            "reply only",
            "respond only",
            "contact only",
            "contact me only",
            "write only",
        ],
        contexts: &["email", "e-mail", "mail", "@"],
        cancels: &[],
        skip_names: false,
        skip_compound: false,
    },
];

/// What a pattern of the automaton stands for.
#[derive(Clone, Copy)]
enum Pattern {
    /// A fixed phrase: found on word boundaries and not negated, its category is present.
    Phrase(ScamCategory),
    /// An anchor of [`PROXIMITY_RULES`] (by index): the rule decides.
    Anchor(usize),
}

pub(crate) struct PhraseMatcher {
    automaton: AhoCorasick,
    /// What each pattern stands for, by pattern index.
    patterns: Vec<Pattern>,
}

impl PhraseMatcher {
    pub(crate) fn new() -> Result<Self, aho_corasick::BuildError> {
        let mut texts = Vec::new();
        let mut patterns = Vec::new();
        for category in ScamCategory::ALL {
            for phrase in category.phrases() {
                texts.push(*phrase);
                patterns.push(Pattern::Phrase(category));
            }
        }
        for (index, rule) in PROXIMITY_RULES.iter().enumerate() {
            for anchor in rule.anchors {
                texts.push(*anchor);
                patterns.push(Pattern::Anchor(index));
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&texts)?;
        Ok(PhraseMatcher {
            automaton,
            patterns,
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
            if !bounded {
                continue;
            }
            match self.patterns[hit.pattern().as_usize()] {
                Pattern::Phrase(category) => {
                    if !found[category as usize]
                        && !negated(bytes, start)
                        && !clause_negated(bytes, start)
                    {
                        found[category as usize] = true;
                    }
                }
                Pattern::Anchor(index) => {
                    let rule = &PROXIMITY_RULES[index];
                    // Only evaluate the window for a category not already found.
                    if !found[rule.category as usize] && rule_holds(rule, bytes, start, end) {
                        found[rule.category as usize] = true;
                    }
                }
            }
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

/// Whether the anchor at `start..end` has a context word near it, un-negated and not cancelled.
fn rule_holds(rule: &ProximityRule, text: &[u8], start: usize, end: usize) -> bool {
    let before = Words::before(text, start, WINDOW_WORDS + NEGATION_LOOKBACK_WORDS);
    let after = Words::after(text, end, WINDOW_WORDS);
    if rule.skip_names && before.len() > 0 && looks_like_a_name(&text[start..end]) {
        return false;
    }
    let before_window = before.len().min(WINDOW_WORDS);
    let cancelled = |words: &Words, count: usize| {
        (0..count).any(|i| is_one_of(words.get(text, i), rule.cancels))
    };
    if cancelled(&before, before_window) || cancelled(&after, after.len()) {
        return false;
    }
    let negation_in = |words: &Words, from: usize, to: usize| {
        (from..to.min(words.len())).any(|i| is_one_of(words.get(text, i), CLAUSE_NEGATIONS))
    };
    // Context after the anchor: negated by a word before the anchor or between the two.
    let context_after = (0..after.len()).find(|&i| context_at(rule, text, &after, i, false));
    if let Some(i) = context_after
        && !negation_in(&before, 0, NEGATION_LOOKBACK_WORDS)
        && !negation_in(&after, 0, i)
    {
        return true;
    }
    // Context before the anchor: negated by a word before the context or between the two.
    (0..before_window).any(|i| {
        let compound =
            rule.skip_compound && (i == 0 || is_one_of(before.get(text, i - 1), rule.anchors));
        !compound
            && context_at(rule, text, &before, i, true)
            && !negation_in(&before, 0, i + 1 + NEGATION_LOOKBACK_WORDS)
    })
}

/// Whether a context word (or the last word of a two-word context) is word `i` of `words`.
/// `backwards` lists are nearest-first, so a two-word context reads `words[i + 1] words[i]` there.
fn context_at(rule: &ProximityRule, text: &[u8], words: &Words, i: usize, backwards: bool) -> bool {
    let word = words.get(text, i);
    rule.contexts.iter().any(|context| {
        let context = match context.strip_prefix('<') {
            Some(_) if !backwards => return false,
            Some(before_only) => before_only,
            None => context,
        };
        if context == "@" {
            return word.contains(&b'@');
        }
        match context.split_once(' ') {
            None => word.eq_ignore_ascii_case(context.as_bytes()),
            Some((first, second)) => {
                let (earlier, later) = if backwards {
                    (words.get(text, i + 1), word)
                } else {
                    (word, words.get(text, i + 1))
                };
                earlier.eq_ignore_ascii_case(first.as_bytes())
                    && later.eq_ignore_ascii_case(second.as_bytes())
            }
        }
    })
}

fn is_one_of(word: &[u8], list: &[&str]) -> bool {
    !word.is_empty() && list.iter().any(|w| word.eq_ignore_ascii_case(w.as_bytes()))
}

/// `Mission` (capital, then lower case) inside a clause names a place or a company; `MISSION` and
/// `mission` are the word.
fn looks_like_a_name(anchor: &[u8]) -> bool {
    anchor.first().is_some_and(u8::is_ascii_uppercase)
        && anchor.get(1).is_some_and(u8::is_ascii_lowercase)
}

/// Up to [`Words::CAPACITY`] words of one clause next to an anchor, nearest first, as byte spans.
/// Kept on the stack: this runs for every anchor hit, and "key" is common in ordinary listings.
struct Words {
    spans: [(u32, u32); Words::CAPACITY],
    len: usize,
}

impl Words {
    const CAPACITY: usize = WINDOW_WORDS + NEGATION_LOOKBACK_WORDS;

    fn len(&self) -> usize {
        self.len
    }

    /// Word `i`, or empty past the end.
    fn get<'t>(&self, text: &'t [u8], i: usize) -> &'t [u8] {
        if i >= self.len {
            return &[];
        }
        let (start, end) = self.spans[i];
        &text[start as usize..end as usize]
    }

    fn push(&mut self, start: usize, end: usize) {
        if self.len < Self::CAPACITY {
            self.spans[self.len] = (start as u32, end as u32);
            self.len += 1;
        }
    }

    fn empty() -> Self {
        Words {
            spans: [(0, 0); Self::CAPACITY],
            len: 0,
        }
    }

    /// Words ending before `pos`, back to the start of the clause.
    fn before(text: &[u8], mut pos: usize, max: usize) -> Self {
        let mut words = Words::empty();
        let max = max.min(Self::CAPACITY);
        while words.len < max {
            // Step back over separators; a clause end stops the walk.
            loop {
                if pos == 0 {
                    return words;
                }
                if is_word_byte_at(text, pos - 1) {
                    break;
                }
                if is_clause_end_at(text, pos - 1) {
                    return words;
                }
                pos -= 1;
            }
            let end = pos;
            while pos > 0 && is_word_byte_at(text, pos - 1) {
                pos -= 1;
            }
            words.push(pos, end);
        }
        words
    }

    /// Words starting at or after `pos`, up to the end of the clause.
    fn after(text: &[u8], mut pos: usize, max: usize) -> Self {
        let mut words = Words::empty();
        let max = max.min(Self::CAPACITY);
        while words.len < max {
            loop {
                if pos >= text.len() {
                    return words;
                }
                if is_word_byte_at(text, pos) {
                    break;
                }
                if is_clause_end_at(text, pos) {
                    return words;
                }
                pos += 1;
            }
            let start = pos;
            while pos < text.len() && is_word_byte_at(text, pos) {
                pos += 1;
            }
            words.push(start, pos);
        }
        words
    }
}

/// Letters, digits, apostrophes, hyphens and the parts of an e-mail address are word bytes, as is a
/// dot between two of them (`e.g`, `name.surname@example.com`). Bytes of multi-byte characters count
/// as letters (`’` stays inside `don’t`).
fn is_word_byte_at(text: &[u8], i: usize) -> bool {
    let byte = text[i];
    if byte.is_ascii_alphanumeric() || byte >= 0x80 || matches!(byte, b'\'' | b'-' | b'@' | b'_') {
        return true;
    }
    byte == b'.'
        && i > 0
        && text[i - 1].is_ascii_alphanumeric()
        && text.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)
}

/// Whether the byte at `i` ends a clause: `!`, `?`, `;`, a line break, or a full stop that does not
/// end an abbreviation (`e.g.`, a lone initial).
fn is_clause_end_at(text: &[u8], i: usize) -> bool {
    match text[i] {
        b'!' | b'?' | b';' | b'\n' | b'\r' => true,
        b'.' => {
            let mut start = i;
            while start > 0 && is_word_byte_at(text, start - 1) {
                start -= 1;
            }
            let word = &text[start..i];
            !(word.len() == 1 || word.contains(&b'.'))
        }
        _ => false,
    }
}

/// Whether a negation word sits in the clause just before `start` ("DO NOT wire funds (e.g. Western
/// Union)": the warning is several words before the phrase).
fn clause_negated(text: &[u8], start: usize) -> bool {
    let before = Words::before(text, start, NEGATION_LOOKBACK_WORDS);
    (0..before.len()).any(|i| is_one_of(before.get(text, i), CLAUSE_NEGATIONS))
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
    fn gift_cards_near_a_payment_word_are_found() {
        for text in [
            "To hold it you must buy gift cards for the security deposit.",
            "Deposit is paid in Google Play or iTunes cards, send me the codes",
            "I accept giftcards as payment for the first month",
            "Pay the deposit with prepaid cards from any store",
        ] {
            assert_eq!(found(text), vec![ScamCategory::GiftCards], "{text}");
        }
    }

    #[test]
    fn gift_card_promotions_and_warnings_are_not_payment() {
        for text in [
            "Look & Lease Special: Receive a $250 GIFT CARD!* Reserve Today!",
            "Use your points to treat yourself to free rent, food, movies, gift cards, and much more!",
            "$1000 gift card or concession! You can also use the special to lower your monthly rent",
            "Sign by Friday and get a $200 gift card with your first month's rent.",
            "We will never ask you to pay a deposit with gift cards.",
            "Beware of anyone asking for gift cards as a deposit.",
            "Gift cards accepted at the cafe downstairs. Deposit equals one month.",
        ] {
            assert_eq!(found(text), Vec::<ScamCategory>::new(), "{text}");
        }
    }

    #[test]
    fn keys_near_mail_or_courier_are_found() {
        for text in [
            "keys and garage remote will be mailed to you by courier.",
            "Our agent will FedEx the house keys to your address",
            "The keys are shipped the same day you pay.",
            "Once paid I will mail the spare key",
        ] {
            assert_eq!(found(text), vec![ScamCategory::KeysByMail], "{text}");
        }
    }

    #[test]
    fn ordinary_key_talk_is_not_keys_by_mail() {
        for text in [
            "Please stop by to sign out keys at the office. Mail checks to PO Box 12.",
            "KEY FEATURES: Smart Key System, package lockers and mail room",
            "Includes mail key and two door keys",
            "Keys will not be mailed; pick them up at the leasing office",
            "Walk to the bank, FedEx/Kinkos and the park",
        ] {
            assert_eq!(found(text), Vec::<ScamCategory>::new(), "{text}");
        }
    }

    #[test]
    fn payment_before_any_viewing_is_found() {
        for text in [
            "send the codes by e-mail before viewing",
            "Deposit must be sent by wire transfer prior to seeing the home",
            "No viewing before payment as we are away",
            "Rent it sight unseen, just send the deposit",
        ] {
            assert!(found(text).contains(&ScamCategory::NoViewing), "{text}");
        }
    }

    #[test]
    fn viewing_advice_is_not_no_viewing() {
        for text in [
            "Do not send money before seeing the property.",
            "We do phone interviews before showings. We require 2 security deposits.",
            "Do not rent without seeing the property first.",
            "Never pay a deposit before viewing the apartment in person",
            "Schedule a tour before you see other places! Deposit is one month.",
        ] {
            assert_eq!(found(text), Vec::<ScamCategory>::new(), "{text}");
        }
    }

    #[test]
    fn owner_away_near_a_person_is_found() {
        for text in [
            "Owner relocated abroad for a medical mission.",
            "I am currently on a medical mission in Kenya",
            "Keys at the office; owner currently abroad",
            "We are stationed in Germany until 2025",
            "my husband and I are abroad, we are happy to rent to you",
        ] {
            assert_eq!(found(text), vec![ScamCategory::OwnerAway], "{text}");
        }
    }

    #[test]
    fn missions_and_names_are_not_owner_away() {
        for text in [
            "At Concierge Apartments, our mission is to make home synonymous with luxury.",
            "Mission Mayfield Downs, managed by Middleburg Management",
            "We are located near Mission Hills shopping center",
            "Walk to the Mission Street station, owner pays water",
            "Smart home deployment included; the owner lives next door",
        ] {
            assert_eq!(found(text), Vec::<ScamCategory>::new(), "{text}");
        }
    }

    #[test]
    fn reply_only_by_mail_is_email_only() {
        assert_eq!(
            found("Reply only to landlord.name@example.com."),
            vec![ScamCategory::EmailOnly]
        );
        assert_eq!(
            found("Please e-mail me only at someone@example.com"),
            vec![ScamCategory::EmailOnly]
        );
        for text in [
            "Reply only if you have references. Call 555-0100.",
            "Text only please, no email",
        ] {
            assert_eq!(found(text), Vec::<ScamCategory>::new(), "{text}");
        }
    }

    #[test]
    fn clauses_end_at_sentence_ends_but_not_abbreviations() {
        let text = b"DO NOT wire funds (e.g. Western Union). Keys ready";
        let at = text.len() - "Keys ready".len();
        // The full stop after "Union)" ends the clause; the one in "e.g." does not.
        assert_eq!(Words::before(text, at, 8).len(), 0);
        let union = 24;
        assert_eq!(Words::before(text, union, 8).get(text, 0), b"e.g");
        assert_eq!(Words::before(text, union, 8).get(text, 3), b"NOT");
        assert_eq!(
            found("DO NOT wire funds (e.g. Western Union)"),
            Vec::<ScamCategory>::new()
        );
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
        for rule in &PROXIMITY_RULES {
            for word in rule.anchors.iter().chain(rule.contexts).chain(rule.cancels) {
                assert_eq!(word.to_lowercase(), *word);
            }
            // An anchor alone is never enough.
            for anchor in rule.anchors {
                assert_eq!(matcher.categories_in(anchor), Vec::new(), "{anchor}");
            }
        }
    }
}

//! Listing kind (rent or sale) and property type, from the vocabularies sites and feeds use.

use aiq_schemas::ListingKind;

use super::text::{KeyTable, fold_key};

/// Known spellings of a listing kind, folded (lower case, separators as one space) and sorted.
/// Covers RESO property types, Zillow/Realtor statuses and Craigslist category codes.
const LISTING_KIND_ENTRIES: &[(&str, ListingKind)] = &[
    ("active rental", ListingKind::Rent),
    ("apa", ListingKind::Rent),
    ("auction", ListingKind::Sale),
    ("business opportunity", ListingKind::Sale),
    ("buy", ListingKind::Sale),
    ("coming soon", ListingKind::Sale),
    ("commercial lease", ListingKind::Rent),
    ("commercial sale", ListingKind::Sale),
    ("contingent", ListingKind::Sale),
    ("farm", ListingKind::Sale),
    ("for lease", ListingKind::Rent),
    ("for rent", ListingKind::Rent),
    ("for rent by owner", ListingKind::Rent),
    ("for sale", ListingKind::Sale),
    ("for sale by owner", ListingKind::Sale),
    ("foreclosure", ListingKind::Sale),
    ("forrent", ListingKind::Rent),
    ("forsale", ListingKind::Sale),
    ("frbo", ListingKind::Rent),
    ("fsbo", ListingKind::Sale),
    ("land", ListingKind::Sale),
    ("lease", ListingKind::Rent),
    ("leasing", ListingKind::Rent),
    ("new construction", ListingKind::Sale),
    ("pending", ListingKind::Sale),
    ("pre foreclosure", ListingKind::Sale),
    ("preforeclosure", ListingKind::Sale),
    ("rea", ListingKind::Sale),
    ("ready to build", ListingKind::Sale),
    ("reb", ListingKind::Sale),
    ("recently sold", ListingKind::Sale),
    ("rent", ListingKind::Rent),
    ("rental", ListingKind::Rent),
    ("rentals", ListingKind::Rent),
    ("rented", ListingKind::Rent),
    ("reo", ListingKind::Sale),
    ("residential", ListingKind::Sale),
    ("residential income", ListingKind::Sale),
    ("residential lease", ListingKind::Rent),
    ("roo", ListingKind::Rent),
    ("sale", ListingKind::Sale),
    ("sold", ListingKind::Sale),
    ("sub", ListingKind::Rent),
    ("sublease", ListingKind::Rent),
    ("sublet", ListingKind::Rent),
    ("to let", ListingKind::Rent),
    ("under contract", ListingKind::Sale),
    ("vac", ListingKind::Rent),
];

static LISTING_KINDS: KeyTable<ListingKind, { LISTING_KIND_ENTRIES.len() }> =
    KeyTable::new(LISTING_KIND_ENTRIES);

/// Listing kind from a site's own words: `"rent"`, `"FOR_RENT"`, `"apa"` (Craigslist apartments),
/// `"Residential Lease"`, `"for_sale"`, `"reb"`/`"reo"`, `"Residential"`, `"sold"`... Unknown text is
/// `None` (the caller may then infer the kind from the price or the URL).
pub fn parse_listing_kind(text: &str) -> Option<ListingKind> {
    let mut buf = [0u8; 32];
    if let Some(kind) = fold_key(text, &mut buf, true).and_then(|key| LISTING_KINDS.get(key)) {
        return Some(kind);
    }
    // RESO enumerations are CamelCase (`ResidentialLease`, `CommercialSale`).
    let split = split_camel_case(text)?;
    LISTING_KINDS.get(fold_key(&split, &mut buf, true)?)
}

/// Listing kind from a Craigslist URL's category (`https://boston.craigslist.org/gbs/apa/d/...`).
pub fn listing_kind_from_url(url: &str) -> Option<ListingKind> {
    if !url.contains("craigslist.") {
        return None;
    }
    let path = url.split("://").nth(1).unwrap_or(url);
    path.split('/')
        .skip(1)
        .take(3)
        .find_map(|segment| match segment {
            "apa" | "roo" | "sub" | "vac" | "prk" => Some(ListingKind::Rent),
            "rea" | "reb" | "reo" => Some(ListingKind::Sale),
            _ => None,
        })
}

/// Known spellings of a property type, folded and sorted, mapped to the schema's vocabulary.
const PROPERTY_TYPE_ENTRIES: &[(&str, &str)] = &[
    ("acreage", "land"),
    ("apartment", "apartment"),
    ("apartments", "apartment"),
    ("apt", "apartment"),
    ("assisted living", "other"),
    ("bungalow", "house"),
    ("cabin", "house"),
    ("commercial", "other"),
    ("condo", "condo"),
    ("condo townhome rowhome coop", "condo"),
    ("condominium", "condo"),
    ("condos", "condo"),
    ("coop", "condo"),
    ("cooperative", "condo"),
    ("cottage", "house"),
    ("cottage cabin", "house"),
    ("detached", "house"),
    ("duplex", "multi_family"),
    ("farm", "other"),
    ("flat", "apartment"),
    ("fourplex", "multi_family"),
    ("home", "house"),
    ("house", "house"),
    ("in law", "apartment"),
    ("land", "land"),
    ("loft", "apartment"),
    ("lot", "land"),
    ("lots", "land"),
    ("lots land", "land"),
    ("manufactured", "manufactured"),
    ("manufactured home", "manufactured"),
    ("mixed use", "other"),
    ("mobile", "manufactured"),
    ("mobile home", "manufactured"),
    ("mobile manufactured", "manufactured"),
    ("modular", "manufactured"),
    ("multi family", "multi_family"),
    ("multifamily", "multi_family"),
    ("office", "other"),
    ("other", "other"),
    ("parking", "other"),
    ("private room", "room"),
    ("quadruplex", "multi_family"),
    ("ranch", "house"),
    ("residential income", "multi_family"),
    ("room", "room"),
    ("rooms", "room"),
    ("row house", "townhouse"),
    ("rowhome", "townhouse"),
    ("rowhouse", "townhouse"),
    ("sfr", "house"),
    ("shared room", "room"),
    ("single family", "house"),
    ("single family home", "house"),
    ("single family residence", "house"),
    ("stock cooperative", "condo"),
    ("storage", "other"),
    ("timeshare", "other"),
    ("town house", "townhouse"),
    ("townhome", "townhouse"),
    ("townhomes", "townhouse"),
    ("townhouse", "townhouse"),
    ("triplex", "multi_family"),
    ("unimproved land", "land"),
    ("vacant land", "land"),
];

static PROPERTY_TYPES: KeyTable<&str, { PROPERTY_TYPE_ENTRIES.len() }> =
    KeyTable::new(PROPERTY_TYPE_ENTRIES);

/// Property type in the schema's lower-case vocabulary (`apartment`, `house`, `condo`, `townhouse`,
/// `multi_family`, `manufactured`, `land`, `room`, `other`) from site words: `"SINGLE_FAMILY"`,
/// `"Condominium"`, `"duplex"`, `"townhome"`, `"lot"`... `"other"` is for types known to be none of
/// the above (farm, commercial, parking); text not recognised at all is `None`.
pub fn parse_property_type(text: &str) -> Option<&'static str> {
    let mut buf = [0u8; 40];
    if let Some(kind) = fold_key(text, &mut buf, true).and_then(|key| PROPERTY_TYPES.get(key)) {
        return Some(kind);
    }
    // RESO and schema.org spell types in CamelCase (`SingleFamilyResidence`, `ManufacturedHome`).
    let split = split_camel_case(text)?;
    PROPERTY_TYPES.get(fold_key(&split, &mut buf, true)?)
}

/// `SingleFamilyResidence` -> `Single Family Residence`; `None` when there is no lower-to-upper
/// boundary to split at (so callers only retry when it can change the lookup).
fn split_camel_case(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 4);
    let mut split = false;
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push(' ');
            split = true;
        }
        previous_lower = c.is_ascii_lowercase();
        out.push(c);
    }
    split.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_kinds() {
        use ListingKind::*;
        for (text, kind) in [
            ("rent", Rent),
            ("for_rent", Rent),
            ("FOR_RENT", Rent),
            ("apa", Rent),
            ("lease", Rent),
            ("Residential Lease", Rent),
            ("sale", Sale),
            ("for_sale", Sale),
            ("reb", Sale),
            ("reo", Sale),
            ("Residential", Sale),
            ("RECENTLY_SOLD", Sale),
        ] {
            assert_eq!(parse_listing_kind(text), Some(kind), "{text}");
        }
        assert_eq!(parse_listing_kind("ResidentialLease"), Some(Rent));
        assert_eq!(parse_listing_kind("ResidentialIncome"), Some(Sale));
        assert_eq!(parse_listing_kind("CommercialSale"), Some(Sale));
        assert_eq!(parse_listing_kind("CommercialLease"), Some(Rent));
        assert_eq!(parse_listing_kind("whatever"), None);
        assert_eq!(parse_listing_kind(""), None);
    }

    #[test]
    fn kind_from_craigslist_url() {
        assert_eq!(
            listing_kind_from_url(
                "https://boston.craigslist.org/gbs/apa/d/belmont-no-broker/7514890528.html"
            ),
            Some(ListingKind::Rent)
        );
        assert_eq!(
            listing_kind_from_url("http://miami.craigslist.org/brw/reb/1131242195.html"),
            Some(ListingKind::Sale)
        );
        assert_eq!(listing_kind_from_url("https://www.zillow.com/apa/"), None);
    }

    #[test]
    fn property_types() {
        for (text, expected) in [
            ("apartment", "apartment"),
            ("SINGLE_FAMILY", "house"),
            ("Single Family Residence", "house"),
            ("SingleFamilyResidence", "house"),
            ("ManufacturedHome", "manufactured"),
            ("CONDO", "condo"),
            ("townhome", "townhouse"),
            ("MULTI_FAMILY", "multi_family"),
            ("multi_family", "multi_family"),
            ("duplex", "multi_family"),
            ("MANUFACTURED", "manufactured"),
            ("cottage/cabin", "house"),
            ("LOT", "land"),
            ("in-law", "apartment"),
            ("room", "room"),
            ("farm", "other"),
        ] {
            assert_eq!(parse_property_type(text), Some(expected), "{text}");
        }
        assert_eq!(parse_property_type("castle in the sky"), None);
    }
}

//! Which [`RawListing`] field a CSV column fills: the operator's mapping first, then our own names,
//! then RESO's, then the common spellings seen in real listing tables.

use std::collections::BTreeMap;

use aiq_schemas::RawListing;

/// Where a column's values go.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum Target {
    /// `source_listing_id`.
    Id,
    Source,
    /// `fetched_at` (RFC 3339).
    FetchedAt,
    Text(TextField),
    /// Kept in `extra` under the column's header.
    Extra,
    /// Left out on purpose (the operator's mapping said `ignore`).
    Ignore,
}

/// The text fields of [`RawListing`] a column can fill.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum TextField {
    Url,
    ListingKind,
    PropertyType,
    ListPrice,
    BedroomsTotal,
    BathroomsTotal,
    LivingAreaSqft,
    StreetAddress,
    UnitNumber,
    City,
    StateOrProvince,
    PostalCode,
    Latitude,
    Longitude,
    Title,
    Description,
    PostedAt,
    ContactName,
    ContactPhone,
    ContactEmail,
}

impl TextField {
    pub(super) fn slot(self, listing: &mut RawListing) -> &mut Option<String> {
        match self {
            TextField::Url => &mut listing.url,
            TextField::ListingKind => &mut listing.listing_kind,
            TextField::PropertyType => &mut listing.property_type,
            TextField::ListPrice => &mut listing.list_price,
            TextField::BedroomsTotal => &mut listing.bedrooms_total,
            TextField::BathroomsTotal => &mut listing.bathrooms_total,
            TextField::LivingAreaSqft => &mut listing.living_area_sqft,
            TextField::StreetAddress => &mut listing.street_address,
            TextField::UnitNumber => &mut listing.unit_number,
            TextField::City => &mut listing.city,
            TextField::StateOrProvince => &mut listing.state_or_province,
            TextField::PostalCode => &mut listing.postal_code,
            TextField::Latitude => &mut listing.latitude,
            TextField::Longitude => &mut listing.longitude,
            TextField::Title => &mut listing.title,
            TextField::Description => &mut listing.description,
            TextField::PostedAt => &mut listing.posted_at,
            TextField::ContactName => &mut listing.contact_name,
            TextField::ContactPhone => &mut listing.contact_phone,
            TextField::ContactEmail => &mut listing.contact_email,
        }
    }
}

/// Our own field names (the `RawListing` serde keys), matched exactly.
const OWN_NAMES: &[(&str, Target)] = &[
    ("source", Target::Source),
    ("source_listing_id", Target::Id),
    ("fetched_at", Target::FetchedAt),
    ("url", Target::Text(TextField::Url)),
    ("listing_kind", Target::Text(TextField::ListingKind)),
    ("property_type", Target::Text(TextField::PropertyType)),
    ("list_price", Target::Text(TextField::ListPrice)),
    ("bedrooms_total", Target::Text(TextField::BedroomsTotal)),
    ("bathrooms_total", Target::Text(TextField::BathroomsTotal)),
    ("living_area_sqft", Target::Text(TextField::LivingAreaSqft)),
    ("street_address", Target::Text(TextField::StreetAddress)),
    ("unit_number", Target::Text(TextField::UnitNumber)),
    ("city", Target::Text(TextField::City)),
    (
        "state_or_province",
        Target::Text(TextField::StateOrProvince),
    ),
    ("postal_code", Target::Text(TextField::PostalCode)),
    ("latitude", Target::Text(TextField::Latitude)),
    ("longitude", Target::Text(TextField::Longitude)),
    ("title", Target::Text(TextField::Title)),
    ("description", Target::Text(TextField::Description)),
    ("posted_at", Target::Text(TextField::PostedAt)),
    ("contact_name", Target::Text(TextField::ContactName)),
    ("contact_phone", Target::Text(TextField::ContactPhone)),
    ("contact_email", Target::Text(TextField::ContactEmail)),
];

/// RESO Data Dictionary names, matched exactly (case matters: RESO's `PropertyType` is the sale or
/// lease split, our `listing_kind`, while a table's "Property Type" means house or condo).
const RESO_NAMES: &[(&str, Target)] = &[
    ("ListingKey", Target::Id),
    ("ListingId", Target::Id),
    ("PropertyType", Target::Text(TextField::ListingKind)),
    ("PropertySubType", Target::Text(TextField::PropertyType)),
    ("ListPrice", Target::Text(TextField::ListPrice)),
    ("LeaseAmount", Target::Text(TextField::ListPrice)),
    ("BedroomsTotal", Target::Text(TextField::BedroomsTotal)),
    (
        "BathroomsTotalDecimal",
        Target::Text(TextField::BathroomsTotal),
    ),
    (
        "BathroomsTotalInteger",
        Target::Text(TextField::BathroomsTotal),
    ),
    ("LivingArea", Target::Text(TextField::LivingAreaSqft)),
    ("UnparsedAddress", Target::Text(TextField::StreetAddress)),
    ("UnitNumber", Target::Text(TextField::UnitNumber)),
    ("City", Target::Text(TextField::City)),
    ("StateOrProvince", Target::Text(TextField::StateOrProvince)),
    ("PostalCode", Target::Text(TextField::PostalCode)),
    ("Latitude", Target::Text(TextField::Latitude)),
    ("Longitude", Target::Text(TextField::Longitude)),
    ("PublicRemarks", Target::Text(TextField::Description)),
    ("OnMarketTimestamp", Target::Text(TextField::PostedAt)),
    ("OnMarketDate", Target::Text(TextField::PostedAt)),
    ("ListingContractDate", Target::Text(TextField::PostedAt)),
    ("ListAgentFullName", Target::Text(TextField::ContactName)),
    (
        "ListAgentPreferredPhone",
        Target::Text(TextField::ContactPhone),
    ),
    ("ListAgentEmail", Target::Text(TextField::ContactEmail)),
];

/// Common spellings, folded (lower case, letters and digits only: `Zip Code`, `zip_code` and
/// `ZipCode` are all `zipcode`). Earlier entries of a target win over later ones when a table has
/// several (`price` over `rent`).
const VARIANTS: &[(&str, Target)] = &[
    ("id", Target::Id),
    ("postid", Target::Id),
    ("listingkey", Target::Id),
    ("listingid", Target::Id),
    ("mlsnumber", Target::Id),
    ("mlsid", Target::Id),
    ("zpid", Target::Id),
    ("propertyid", Target::Id),
    ("site", Target::Source),
    ("link", Target::Text(TextField::Url)),
    ("listingurl", Target::Text(TextField::Url)),
    ("href", Target::Text(TextField::Url)),
    ("permalink", Target::Text(TextField::Url)),
    ("listingkind", Target::Text(TextField::ListingKind)),
    ("status", Target::Text(TextField::ListingKind)),
    ("listingtype", Target::Text(TextField::ListingKind)),
    ("listingstatus", Target::Text(TextField::ListingKind)),
    ("propertytype", Target::Text(TextField::PropertyType)),
    ("propertysubtype", Target::Text(TextField::PropertyType)),
    ("housingtype", Target::Text(TextField::PropertyType)),
    ("hometype", Target::Text(TextField::PropertyType)),
    ("type", Target::Text(TextField::PropertyType)),
    ("listprice", Target::Text(TextField::ListPrice)),
    ("price", Target::Text(TextField::ListPrice)),
    ("askingprice", Target::Text(TextField::ListPrice)),
    ("listingprice", Target::Text(TextField::ListPrice)),
    ("rent", Target::Text(TextField::ListPrice)),
    ("leaseamount", Target::Text(TextField::ListPrice)),
    ("bedroomstotal", Target::Text(TextField::BedroomsTotal)),
    ("bedrooms", Target::Text(TextField::BedroomsTotal)),
    ("beds", Target::Text(TextField::BedroomsTotal)),
    ("bed", Target::Text(TextField::BedroomsTotal)),
    ("bedroom", Target::Text(TextField::BedroomsTotal)),
    ("br", Target::Text(TextField::BedroomsTotal)),
    ("bathroomstotal", Target::Text(TextField::BathroomsTotal)),
    (
        "bathroomstotaldecimal",
        Target::Text(TextField::BathroomsTotal),
    ),
    ("bathrooms", Target::Text(TextField::BathroomsTotal)),
    ("baths", Target::Text(TextField::BathroomsTotal)),
    ("bath", Target::Text(TextField::BathroomsTotal)),
    ("bathroom", Target::Text(TextField::BathroomsTotal)),
    ("ba", Target::Text(TextField::BathroomsTotal)),
    (
        "bathroomstotalinteger",
        Target::Text(TextField::BathroomsTotal),
    ),
    ("livingareasqft", Target::Text(TextField::LivingAreaSqft)),
    ("livingarea", Target::Text(TextField::LivingAreaSqft)),
    ("sqft", Target::Text(TextField::LivingAreaSqft)),
    ("sqftliving", Target::Text(TextField::LivingAreaSqft)),
    ("housesize", Target::Text(TextField::LivingAreaSqft)),
    ("squareft", Target::Text(TextField::LivingAreaSqft)),
    ("squarefeet", Target::Text(TextField::LivingAreaSqft)),
    ("squarefootage", Target::Text(TextField::LivingAreaSqft)),
    ("area", Target::Text(TextField::LivingAreaSqft)),
    ("streetaddress", Target::Text(TextField::StreetAddress)),
    ("unparsedaddress", Target::Text(TextField::StreetAddress)),
    ("address", Target::Text(TextField::StreetAddress)),
    ("street", Target::Text(TextField::StreetAddress)),
    ("addressline1", Target::Text(TextField::StreetAddress)),
    ("address1", Target::Text(TextField::StreetAddress)),
    ("mapaddress", Target::Text(TextField::StreetAddress)),
    ("unitnumber", Target::Text(TextField::UnitNumber)),
    ("unit", Target::Text(TextField::UnitNumber)),
    ("apt", Target::Text(TextField::UnitNumber)),
    ("town", Target::Text(TextField::City)),
    ("stateorprovince", Target::Text(TextField::StateOrProvince)),
    ("state", Target::Text(TextField::StateOrProvince)),
    ("province", Target::Text(TextField::StateOrProvince)),
    ("postalcode", Target::Text(TextField::PostalCode)),
    ("zip", Target::Text(TextField::PostalCode)),
    ("zipcode", Target::Text(TextField::PostalCode)),
    ("postcode", Target::Text(TextField::PostalCode)),
    ("lat", Target::Text(TextField::Latitude)),
    ("long", Target::Text(TextField::Longitude)),
    ("lng", Target::Text(TextField::Longitude)),
    ("lon", Target::Text(TextField::Longitude)),
    ("name", Target::Text(TextField::Title)),
    ("headline", Target::Text(TextField::Title)),
    ("publicremarks", Target::Text(TextField::Description)),
    ("remarks", Target::Text(TextField::Description)),
    ("postingbody", Target::Text(TextField::Description)),
    ("body", Target::Text(TextField::Description)),
    ("postedat", Target::Text(TextField::PostedAt)),
    ("posted", Target::Text(TextField::PostedAt)),
    ("dateposted", Target::Text(TextField::PostedAt)),
    ("listdate", Target::Text(TextField::PostedAt)),
    ("datelisted", Target::Text(TextField::PostedAt)),
    ("onmarketdate", Target::Text(TextField::PostedAt)),
    ("date", Target::Text(TextField::PostedAt)),
    ("contactname", Target::Text(TextField::ContactName)),
    ("listagentfullname", Target::Text(TextField::ContactName)),
    ("agentname", Target::Text(TextField::ContactName)),
    ("agent", Target::Text(TextField::ContactName)),
    ("ownername", Target::Text(TextField::ContactName)),
    ("contactphone", Target::Text(TextField::ContactPhone)),
    ("phone", Target::Text(TextField::ContactPhone)),
    ("phonenumber", Target::Text(TextField::ContactPhone)),
    ("agentphone", Target::Text(TextField::ContactPhone)),
    ("contactemail", Target::Text(TextField::ContactEmail)),
    ("email", Target::Text(TextField::ContactEmail)),
    ("agentemail", Target::Text(TextField::ContactEmail)),
    ("fetchedat", Target::FetchedAt),
    ("scrapedat", Target::FetchedAt),
];

/// A mapping target named in the operator's configuration: a `RawListing` field name, `id`,
/// `extra` or `ignore`.
pub(super) fn target_named(name: &str) -> Option<Target> {
    match name.trim() {
        "id" => Some(Target::Id),
        "extra" => Some(Target::Extra),
        "ignore" => Some(Target::Ignore),
        other => OWN_NAMES
            .iter()
            .find(|(own, _)| *own == other)
            .map(|(_, target)| *target),
    }
}

/// `Zip Code` -> `zipcode`.
pub(super) fn fold(header: &str) -> String {
    header
        .chars()
        .filter(|ch| ch.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The recognised target of a header and its rank (lower wins when two columns want the same
/// field): our own name 0, a RESO name 1, then the variants in table order.
fn recognised(header: &str) -> Option<(Target, usize)> {
    let header = header.trim();
    if let Some((_, target)) = OWN_NAMES.iter().find(|(own, _)| *own == header) {
        return Some((*target, 0));
    }
    if let Some((_, target)) = RESO_NAMES.iter().find(|(reso, _)| *reso == header) {
        return Some((*target, 1));
    }
    let folded = fold(header);
    let own_folded = OWN_NAMES
        .iter()
        .find(|(own, _)| fold(own) == folded)
        .map(|(_, target)| (*target, 2));
    own_folded.or_else(|| {
        VARIANTS
            .iter()
            .position(|(variant, _)| *variant == folded)
            .map(|at| (VARIANTS[at].1, 3 + at))
    })
}

/// Resolves each header to its target. Explicit `mapping` entries (keyed by the exact header) win;
/// then each field goes to the best-ranked recognised column; every other column is `Extra`.
/// Errors name a mapping target that does not exist.
pub(super) fn resolve(
    headers: &[String],
    mapping: &BTreeMap<String, String>,
) -> Result<Vec<Target>, String> {
    let mut targets = vec![Target::Extra; headers.len()];
    let mut explicit = vec![false; headers.len()];
    for (header, name) in mapping {
        let target = target_named(name).ok_or_else(|| {
            format!(
                "the column mapping sends `{header}` to `{name}`, which is not a listing field \
                 (use a RawListing field name, `id`, `extra` or `ignore`)"
            )
        })?;
        for (index, _) in headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.trim() == header.trim())
        {
            targets[index] = target;
            explicit[index] = true;
        }
    }
    let taken: Vec<Target> = targets
        .iter()
        .zip(&explicit)
        .filter(|(target, explicit)| {
            **explicit && !matches!(target, Target::Extra | Target::Ignore)
        })
        .map(|(target, _)| *target)
        .collect();

    let mut best: Vec<(Target, usize, usize)> = Vec::new(); // (target, rank, column)
    for (index, header) in headers.iter().enumerate() {
        if explicit[index] {
            continue;
        }
        let Some((target, rank)) = recognised(header) else {
            continue;
        };
        if taken.contains(&target) {
            continue;
        }
        match best.iter_mut().find(|(seen, _, _)| *seen == target) {
            Some(entry) if rank < entry.1 => *entry = (target, rank, index),
            Some(_) => {}
            None => best.push((target, rank, index)),
        }
    }
    for (target, _, index) in best {
        targets[index] = target;
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn own_reso_and_common_names_are_recognised() {
        let targets = resolve(
            &headers(&[
                "Zip Code",
                "BedroomsTotal",
                "list_price",
                "lng",
                "SquareFt",
                "color",
            ]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            targets,
            [
                Target::Text(TextField::PostalCode),
                Target::Text(TextField::BedroomsTotal),
                Target::Text(TextField::ListPrice),
                Target::Text(TextField::Longitude),
                Target::Text(TextField::LivingAreaSqft),
                Target::Extra,
            ]
        );
    }

    #[test]
    fn the_best_ranked_column_wins_and_the_rest_stay_extra() {
        // Craigslist tables have both; `street_address` is our own name.
        let targets = resolve(
            &headers(&[
                "map_address",
                "street_address",
                "PropertyType",
                "property_type",
            ]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            targets,
            [
                Target::Extra,
                Target::Text(TextField::StreetAddress),
                Target::Text(TextField::ListingKind),
                Target::Text(TextField::PropertyType),
            ]
        );
    }

    #[test]
    fn the_operator_mapping_overrides_and_is_checked() {
        let mapping = BTreeMap::from([
            ("street".to_owned(), "extra".to_owned()),
            ("addr".to_owned(), "street_address".to_owned()),
            ("zip".to_owned(), "ignore".to_owned()),
        ]);
        let targets = resolve(&headers(&["street", "addr", "zip"]), &mapping).unwrap();
        assert_eq!(
            targets,
            [
                Target::Extra,
                Target::Text(TextField::StreetAddress),
                Target::Ignore
            ]
        );
        let wrong = BTreeMap::from([("x".to_owned(), "price".to_owned())]);
        let error = resolve(&headers(&["x"]), &wrong).unwrap_err();
        assert!(
            error.contains("`price`, which is not a listing field"),
            "{error}"
        );
    }
}

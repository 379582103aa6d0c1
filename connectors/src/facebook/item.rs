//! One Marketplace item as the page's Relay JSON (or an export) describes it, whether it is housing,
//! and its [`RawListing`].

use std::sync::LazyLock;

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::util::json;

/// Facebook's own category ids for housing, as its Marketplace JavaScript names them
/// (`PROPERTY_RENTALS_ID = "1468271819871448"`, `HOME_SALES_ID = "821056594720130"`); the item page
/// of a rental also carries `{"slug":"propertyrentals","id":"1468271819871448"}`.
pub(super) const PROPERTY_RENTALS_ID: &str = "1468271819871448";
pub(super) const HOME_SALES_ID: &str = "821056594720130";

/// Non-housing category ids by the Marketplace group they belong to, so a skipped item says what it
/// is. Taken from the category filter a public Marketplace client sends; checked against the items on
/// the saved pages (cars under vehicles, boots under clothing, a Nintendo Switch under
/// entertainment). An id missing here is still skipped, only with a less telling reason.
const CATEGORY_GROUPS: &[(&str, &[&str])] = &[
    ("vehicles", &["807311116002614"]),
    ("electronics", &["1557869527812749", "1792291877663080"]),
    (
        "home and garden",
        &[
            "1670493229902393",
            "1583634935226685",
            "800089866739547",
            "678754142233400",
            "1569171756675761",
        ],
    ),
    ("entertainment", &["613858625416355", "686977074745292"]),
    (
        "clothing and accessories",
        &[
            "214968118845643",
            "1567543000236608",
            "931157863635831",
            "1266429133383966",
        ],
    ),
    (
        "family",
        &[
            "606456512821491",
            "624859874282116",
            "1550246318620997",
            "1555452698044988",
        ],
    ),
    (
        "hobbies",
        &[
            "1383948661922113",
            "757715671026531",
            "1658310421102081",
            "393860164117441",
            "676772489112490",
            "1534799543476160",
        ],
    ),
    ("classifieds", &["1834536343472201", "895487550471874"]),
];

/// The fields of a Relay listing object this parser reads. Sub-objects stay [`Value`]s and are read
/// defensively, so an unexpected shape in one field loses that field, not the item.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ItemJson {
    id: Option<Value>,
    marketplace_listing_title: Option<Value>,
    custom_title: Option<Value>,
    custom_sub_titles_with_rendering_flags: Option<Value>,
    formatted_price: Option<Value>,
    listing_price: Option<Value>,
    location: Option<Value>,
    location_text: Option<Value>,
    marketplace_listing_category_id: Option<Value>,
    marketplace_listing_category: Option<Value>,
    marketplace_listing_category_name: Option<Value>,
    redacted_description: Option<Value>,
    creation_time: Option<Value>,
    is_sold: Option<Value>,
    is_pending: Option<Value>,
    marketplace_listing_seller: Option<Value>,
    unit_room_info: Option<Value>,
    unit_area_info: Option<Value>,
    home_address: Option<Value>,
}

/// One record of a JSON export of Marketplace items (the shape of the Scrapfly example scraper's
/// `marketplace.json`: `id`, `title`, `price`, `location`, `is_sold`, `category_id`...).
#[derive(Deserialize)]
pub(super) struct ExportRecord {
    id: Value,
    title: Option<Value>,
    #[serde(default)]
    price: Option<Value>,
    #[serde(default)]
    location: Option<Value>,
    #[serde(default)]
    is_sold: Option<Value>,
    #[serde(default)]
    is_pending: Option<Value>,
    #[serde(default)]
    creation_time: Option<Value>,
    #[serde(default)]
    category_id: Option<Value>,
}

/// An item with its fields read out; several partial objects for one id are merged into one.
#[derive(Clone, Default, Debug)]
pub(super) struct Item {
    pub(super) id: String,
    title: Option<String>,
    custom_title: Option<String>,
    subtitle: Option<String>,
    price: Option<String>,
    currency: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    latitude: Option<String>,
    longitude: Option<String>,
    location_text: Option<String>,
    street: Option<String>,
    description: Option<String>,
    created: Option<String>,
    category_id: Option<String>,
    category_slug: Option<String>,
    category_name: Option<String>,
    sold: Option<bool>,
    pending: Option<bool>,
    seller_name: Option<String>,
    seller_id: Option<String>,
    rooms: Option<String>,
    area: Option<String>,
    /// Read from rendered markup, which shows no category.
    from_card: bool,
}

/// What Facebook's item-page envelope says about the main item: its page type
/// (`REAL_ESTATE`, `AUTOS_VEHICLE`...) and the taxonomy path Facebook itself files it under.
#[derive(Clone, Default, Debug)]
pub(super) struct MainItemContext {
    pub(super) details_type: Option<String>,
    pub(super) taxonomy_path: Vec<String>,
}

/// Where an item belongs: a listing of the given kind (`"rent"`, `"sale"`, or unknown), or
/// skipped for the reason given.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) enum Verdict {
    Housing(Option<&'static str>),
    NotHousing(String),
}

/// A scalar as text (see [`json::text_of`]); Facebook also wraps some strings as `{"text": ...}`.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Object(map) => text(map.get("text")),
        scalar => json::text_of(scalar),
    }
}

fn flag(value: Option<&Value>) -> Option<bool> {
    value.and_then(Value::as_bool)
}

fn fill<T>(slot: &mut Option<T>, other: Option<T>) {
    if slot.is_none() {
        *slot = other;
    }
}

impl Item {
    /// The item a Relay object describes, or `None` without an id.
    pub(super) fn from_json(json: ItemJson) -> Option<Item> {
        let id = text(json.id.as_ref())?;
        let location = json.location.as_ref();
        // Cards carry `reverse_geocode` (city, state); the item itself `reverse_geocode_detailed`
        // (city, state, postal code) next to its coordinates.
        let geocode = location.and_then(|location| {
            location
                .get("reverse_geocode_detailed")
                .filter(|value| value.is_object())
                .or_else(|| location.get("reverse_geocode"))
        });
        let listing_price = json.listing_price.as_ref();
        let price = text(json.formatted_price.as_ref())
            .or_else(|| text(listing_price.and_then(|price| price.get("formatted_amount"))))
            .or_else(|| text(listing_price.and_then(|price| price.get("amount"))));
        let category = json.marketplace_listing_category.as_ref();
        let seller = json.marketplace_listing_seller.as_ref();
        let subtitle = json
            .custom_sub_titles_with_rendering_flags
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|subtitles| subtitles.first())
            .and_then(|first| text(first.get("subtitle")));
        Some(Item {
            id,
            title: text(json.marketplace_listing_title.as_ref()),
            custom_title: text(json.custom_title.as_ref()),
            subtitle,
            price,
            currency: text(listing_price.and_then(|price| price.get("currency"))),
            city: text(geocode.and_then(|geo| geo.get("city"))),
            state: text(geocode.and_then(|geo| geo.get("state"))),
            postal_code: text(geocode.and_then(|geo| geo.get("postal_code")))
                .or_else(|| text(geocode.and_then(|geo| geo.get("postal_code_trimmed")))),
            latitude: text(location.and_then(|location| location.get("latitude"))),
            longitude: text(location.and_then(|location| location.get("longitude"))),
            location_text: text(json.location_text.as_ref()),
            street: json.home_address.as_ref().and_then(|address| {
                text(address.get("street"))
                    .or_else(|| text(address.get("street_address")))
                    .or_else(|| text(Some(address)))
            }),
            description: text(json.redacted_description.as_ref()),
            created: text(json.creation_time.as_ref()),
            category_id: text(json.marketplace_listing_category_id.as_ref())
                .or_else(|| text(category.and_then(|category| category.get("id")))),
            category_slug: text(category.and_then(|category| category.get("slug"))),
            category_name: text(json.marketplace_listing_category_name.as_ref()),
            sold: flag(json.is_sold.as_ref()),
            pending: flag(json.is_pending.as_ref()),
            seller_name: text(seller.and_then(|seller| seller.get("name"))),
            seller_id: text(seller.and_then(|seller| seller.get("id"))),
            rooms: text(json.unit_room_info.as_ref()),
            area: text(json.unit_area_info.as_ref()),
            from_card: false,
        })
    }

    /// The item an export record describes. Its `location` is the card's "City, ST" line.
    pub(super) fn from_export(record: ExportRecord) -> Option<Item> {
        let id = text(Some(&record.id))?;
        let location = text(record.location.as_ref());
        let (city, state) = match location.as_deref().and_then(split_city_state) {
            Some((city, state)) => (Some(city.to_owned()), Some(state.to_owned())),
            None => (None, None),
        };
        Some(Item {
            id,
            title: text(record.title.as_ref()),
            // "N/A" is the exporter's word for a card without a price.
            price: text(record.price.as_ref()).filter(|price| price != "N/A"),
            city,
            state,
            location_text: location,
            created: text(record.creation_time.as_ref()),
            category_id: text(record.category_id.as_ref()),
            sold: flag(record.is_sold.as_ref()),
            pending: flag(record.is_pending.as_ref()),
            ..Item::default()
        })
    }

    /// An item known only from its rendered card (the page scrolled further than its inline JSON
    /// reaches): the card's texts in order are price, title and "City, ST".
    pub(super) fn from_card(id: &str, texts: &[&str]) -> Item {
        let mut texts = texts
            .iter()
            .map(|text| text.trim())
            .filter(|text| !text.is_empty());
        let mut item = Item {
            id: id.to_owned(),
            ..Item::default()
        };
        let mut next = texts.next();
        if next.is_some_and(looks_like_price) {
            item.price = next.map(str::to_owned);
            next = texts.next();
            // A reduced price shows the old one struck through right after.
            if next.is_some_and(looks_like_price) {
                next = texts.next();
            }
        }
        item.title = next.map(str::to_owned);
        if let Some(location) = texts.next() {
            item.location_text = Some(location.to_owned());
            if let Some((city, state)) = split_city_state(location) {
                item.city = Some(city.to_owned());
                item.state = Some(state.to_owned());
            }
        }
        item.from_card = true;
        item
    }

    /// Fills this item's missing fields from another object for the same id.
    pub(super) fn merge(&mut self, other: Item) {
        fill(&mut self.title, other.title);
        fill(&mut self.custom_title, other.custom_title);
        fill(&mut self.subtitle, other.subtitle);
        fill(&mut self.price, other.price);
        fill(&mut self.currency, other.currency);
        fill(&mut self.city, other.city);
        fill(&mut self.state, other.state);
        fill(&mut self.postal_code, other.postal_code);
        fill(&mut self.latitude, other.latitude);
        fill(&mut self.longitude, other.longitude);
        fill(&mut self.location_text, other.location_text);
        fill(&mut self.street, other.street);
        fill(&mut self.description, other.description);
        fill(&mut self.created, other.created);
        fill(&mut self.category_id, other.category_id);
        fill(&mut self.category_slug, other.category_slug);
        fill(&mut self.category_name, other.category_name);
        fill(&mut self.sold, other.sold);
        fill(&mut self.pending, other.pending);
        fill(&mut self.seller_name, other.seller_name);
        fill(&mut self.seller_id, other.seller_id);
        fill(&mut self.rooms, other.rooms);
        fill(&mut self.area, other.area);
    }

    /// Whether anything beyond the id is known (Relay also holds `{"__typename":…,"id":…}` stubs).
    pub(super) fn has_content(&self) -> bool {
        self.title.is_some() || self.category_id.is_some() || self.price.is_some()
    }

    /// Housing or not, from the seller's category; for the main item of an item page also from
    /// Facebook's own filing of it, which wins when the two disagree (a phone put under "Rentals").
    pub(super) fn verdict(&self, main: Option<&MainItemContext>) -> Verdict {
        let by_category = self.category_verdict();
        let Some(context) = main else {
            return by_category;
        };
        let shown_as_vehicle = context.details_type.as_deref() == Some("AUTOS_VEHICLE");
        let filed_elsewhere = shown_as_vehicle
            || !context.taxonomy_path.is_empty()
                && !context
                    .taxonomy_path
                    .iter()
                    .any(|slug| is_housing_slug(slug));
        match by_category {
            Verdict::Housing(_) if filed_elsewhere => Verdict::NotHousing(format!(
                "listed under {} but Facebook files it under {}",
                self.category_label(),
                if context.taxonomy_path.is_empty() {
                    "vehicles".to_owned()
                } else {
                    context.taxonomy_path.join(" > ")
                }
            )),
            other => other,
        }
    }

    fn category_verdict(&self) -> Verdict {
        let id = self.category_id.as_deref();
        let slug = self.category_slug.as_deref().unwrap_or_default();
        let name = self
            .category_name
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if id == Some(PROPERTY_RENTALS_ID)
            || slug == "propertyrentals"
            || matches!(name.as_str(), "rentals" | "property rentals")
        {
            return Verdict::Housing(Some("rent"));
        }
        if id == Some(HOME_SALES_ID)
            || slug == "propertyforsale"
            || matches!(name.as_str(), "home sales" | "property for sale")
        {
            return Verdict::Housing(Some("sale"));
        }
        match id {
            Some(id) => Verdict::NotHousing(match category_group(id) {
                Some(group) => format!("category {group}"),
                None => format!("category {id} is not a housing category"),
            }),
            // Without any category, Facebook's generated housing titles still tell.
            None if self.title.as_deref().is_some_and(is_housing_title) => Verdict::Housing(None),
            None if self.from_card => Verdict::NotHousing(
                "rendered card without a category or a housing title".to_owned(),
            ),
            None => Verdict::NotHousing("no housing category".to_owned()),
        }
    }

    fn category_label(&self) -> String {
        match (&self.category_name, &self.category_slug, &self.category_id) {
            (Some(name), _, _) => format!("\"{name}\""),
            (None, Some(slug), _) => slug.clone(),
            (None, None, Some(id)) => format!("category {id}"),
            (None, None, None) => "a housing category".to_owned(),
        }
    }

    /// The listing for a housing item.
    pub(super) fn to_listing(
        &self,
        kind: Option<&'static str>,
        fetched_at: DateTime<Utc>,
        related_to: Option<&str>,
    ) -> RawListing {
        let mut listing = RawListing {
            source: Some(Source::Facebook.as_str().to_owned()),
            source_listing_id: Some(self.id.clone()),
            url: Some(item_url(&self.id)),
            fetched_at: Some(fetched_at),
            listing_kind: kind.map(str::to_owned),
            list_price: self.price.clone(),
            street_address: self.street.clone(),
            city: self.city.clone(),
            state_or_province: self.state.clone(),
            postal_code: self.postal_code.clone(),
            latitude: self.latitude.clone(),
            longitude: self.longitude.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            posted_at: self.created.clone(),
            contact_name: self.seller_name.clone(),
            ..RawListing::default()
        };
        // Facebook writes rooms into its generated titles ("3 Beds 2 Baths - House") and the card's
        // custom title ("3 beds · 2 baths"); the item page may add room and area lines.
        let room_texts = [&self.rooms, &self.title, &self.custom_title];
        for room_text in room_texts.into_iter().flatten() {
            if listing.bedrooms_total.is_none() {
                listing.bedrooms_total = capture(&BEDS, room_text);
            }
            if listing.bathrooms_total.is_none() {
                listing.bathrooms_total = capture(&BATHS, room_text);
            }
        }
        listing.living_area_sqft = self.area.clone();
        listing.property_type = self
            .title
            .as_deref()
            .and_then(|title| capture(&TITLE_PROPERTY_TYPE, title));
        let extra = &mut listing.extra;
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                extra.insert(key.to_owned(), value);
            }
        };
        put("category_id", self.category_id.clone().map(Value::from));
        put("category", self.category_name.clone().map(Value::from));
        put("custom_title", self.custom_title.clone().map(Value::from));
        put("currency", self.currency.clone().map(Value::from));
        put("location", self.location_text.clone().map(Value::from));
        put("sold", self.sold.map(Value::from));
        put("pending", self.pending.map(Value::from));
        put("seller_id", self.seller_id.clone().map(Value::from));
        put("related_to", related_to.map(Value::from));
        listing
    }
}

/// The canonical item URL; the id alone determines it.
pub(super) fn item_url(id: &str) -> String {
    format!("https://www.facebook.com/marketplace/item/{id}/")
}

fn looks_like_price(text: &str) -> bool {
    text.starts_with(['$', '€', '£']) || text.eq_ignore_ascii_case("free")
}

fn category_group(id: &str) -> Option<&'static str> {
    CATEGORY_GROUPS
        .iter()
        .find(|(_, ids)| ids.contains(&id))
        .map(|(group, _)| *group)
}

/// Facebook's virtual taxonomy names housing `propertyrentals` and `propertyforsale`; other slugs
/// are accepted when they plainly say housing.
fn is_housing_slug(slug: &str) -> bool {
    let slug = slug.to_ascii_lowercase();
    [
        "propert",
        "rental",
        "housing",
        "real-estate",
        "realestate",
        "apartment",
    ]
    .iter()
    .any(|word| slug.contains(word))
}

static BEDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d+(?:\.\d+)?\s*(?:beds?|bedrooms?|bds?|br))\b").expect("valid regex")
});
static BATHS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d+(?:\.\d+)?\s*(?:baths?|bathrooms?|ba))\b").expect("valid regex")
});
/// The type at the end of a generated housing title: "3 Beds 2 Baths - House".
static TITLE_PROPERTY_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bbaths?\s+-\s+([a-z][a-z /-]{1,40}?)\s*$").expect("valid regex")
});
static HOUSING_TITLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\d+(?:\.\d+)?\s+beds?\s+\d+(?:\.\d+)?\s+baths?\s+-\s+\S")
        .expect("valid regex")
});

fn is_housing_title(title: &str) -> bool {
    HOUSING_TITLE.is_match(title)
}

fn capture(pattern: &Regex, text: &str) -> Option<String> {
    pattern
        .captures(text)
        .and_then(|captures| captures.get(1))
        .map(|found| found.as_str().trim().to_owned())
}

/// "Antioch, CA" into city and state; `None` unless the tail is a two-letter state code.
fn split_city_state(location: &str) -> Option<(&str, &str)> {
    let (city, state) = location.rsplit_once(',')?;
    let (city, state) = (city.trim(), state.trim());
    (state.len() == 2 && state.bytes().all(|byte| byte.is_ascii_uppercase()) && !city.is_empty())
        .then_some((city, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(category_id: Option<&str>, title: &str) -> Item {
        Item {
            id: "1".to_owned(),
            title: Some(title.to_owned()),
            category_id: category_id.map(str::to_owned),
            ..Item::default()
        }
    }

    #[test]
    fn housing_categories_give_the_kind_and_others_a_reason() {
        assert_eq!(
            item(Some(PROPERTY_RENTALS_ID), "Room").verdict(None),
            Verdict::Housing(Some("rent"))
        );
        assert_eq!(
            item(Some(HOME_SALES_ID), "House").verdict(None),
            Verdict::Housing(Some("sale"))
        );
        assert_eq!(
            item(Some("807311116002614"), "2005 Ford F150").verdict(None),
            Verdict::NotHousing("category vehicles".to_owned())
        );
        assert_eq!(
            item(Some("42"), "Thing").verdict(None),
            Verdict::NotHousing("category 42 is not a housing category".to_owned())
        );
        assert_eq!(
            item(None, "3 Beds 2 Baths - House").verdict(None),
            Verdict::Housing(None)
        );
        assert_eq!(
            item(None, "Drone").verdict(None),
            Verdict::NotHousing("no housing category".to_owned())
        );
    }

    #[test]
    fn facebooks_own_filing_overrides_a_housing_category_on_the_main_item() {
        let phone = item(Some(PROPERTY_RENTALS_ID), "Motorola razor telephone 24");
        let filed_as_phone = MainItemContext {
            details_type: Some("REAL_ESTATE".to_owned()),
            taxonomy_path: vec!["electronics".to_owned(), "cell-phones".to_owned()],
        };
        assert_eq!(
            phone.verdict(Some(&filed_as_phone)),
            Verdict::NotHousing(
                "listed under category 1468271819871448 but Facebook files it under electronics > cell-phones"
                    .to_owned()
            )
        );
        let filed_as_rental = MainItemContext {
            details_type: Some("REAL_ESTATE".to_owned()),
            taxonomy_path: vec!["propertyrentals".to_owned()],
        };
        assert_eq!(
            phone.verdict(Some(&filed_as_rental)),
            Verdict::Housing(Some("rent"))
        );
    }

    #[test]
    fn generated_titles_give_rooms_and_type() {
        let house = item(Some(HOME_SALES_ID), "3 Beds 2 Baths - House");
        let listing = house.to_listing(Some("sale"), Utc::now(), None);
        assert_eq!(listing.bedrooms_total.as_deref(), Some("3 Beds"));
        assert_eq!(listing.bathrooms_total.as_deref(), Some("2 Baths"));
        assert_eq!(listing.property_type.as_deref(), Some("House"));
    }

    #[test]
    fn city_state_lines_split_only_on_a_state_code() {
        assert_eq!(
            split_city_state("San Francisco, CA"),
            Some(("San Francisco", "CA"))
        );
        assert_eq!(
            split_city_state("Bergen op Zoom, NB"),
            Some(("Bergen op Zoom", "NB"))
        );
        assert_eq!(split_city_state("Houston"), None);
        assert_eq!(split_city_state("Paris, France"), None);
    }
}

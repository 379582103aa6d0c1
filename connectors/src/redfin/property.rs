//! A Redfin property page (HTML), read without a DOM.
//!
//! The page embeds the responses of Redfin's own API calls in one script line,
//! `root.__reactServerState.InitialContext = {"ReactServerAgent.cache":{"dataCache":{path: {"res":
//! {"text": "{}&&{...}"}}}}}`. The ones read here: `aboveTheFold` (price, rooms, area, address,
//! coordinates, status), `mainHouseInfoPanelInfo` (listing and MLS ids, remarks, agent, the
//! "Property Type" amenity), `initialInfo` (ids) and `belowTheFold` (the property history, for the
//! date the current listing was listed). The JSON-LD offer and the `twitter:text:*` meta tags give the
//! same basics and fill in whatever the embedded state lacks (older or trimmed pages).

use std::collections::HashMap;

use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{
    API_PREFIX, decode_entities, kind_from_status, new_listing, page_title, property_id_from_url,
    put_extra,
};
use crate::util::json::text_of;
use crate::util::links::is_web_url;

/// The listing on a property page, or `None` when the page shows no property id and address.
pub(super) fn parse(
    html: &str,
    page_url: &Url,
    base: &Url,
    fetched_at: DateTime<Utc>,
) -> Option<RawListing> {
    let state = embedded_state(html);
    let above = state.payload("/stingray/api/home/details/aboveTheFold");
    let address_info = above.as_ref().and_then(|p| p.get("addressSectionInfo"));
    let main_info = state
        .payload("/stingray/api/home/details/mainHouseInfoPanelInfo")
        .and_then(|p| p.get("mainHouseInfo").cloned());
    let initial = state.payload("/stingray/api/home/details/initialInfo");
    let offer = json_ld_offer(html);

    let url = meta(html, "og:url")
        .or_else(|| canonical_link(html))
        .or_else(|| address_info.and_then(|a| a.get("url")).and_then(text_of))
        .and_then(|link| base.join(&link).ok())
        .map(|url| url.to_string())
        .or_else(|| is_web_url(page_url).then(|| page_url.to_string()));
    let id = initial
        .as_ref()
        .and_then(|p| p.get("propertyId"))
        .and_then(text_of)
        .or_else(|| url.as_deref().and_then(property_id_from_url))
        .or_else(|| {
            meta(html, "twitter:app:url:iphone")
                .and_then(|app| app.strip_prefix("redfin://home/").map(str::to_owned))
        })?;

    let mut listing = new_listing(id, url, fetched_at);
    fill_from_meta(&mut listing, html, offer.as_ref());
    if let Some(info) = address_info {
        fill_from_address_section(&mut listing, info);
    }
    if let Some(info) = &main_info {
        fill_from_main_house_info(&mut listing, info);
    }
    let mls_id = main_info
        .as_ref()
        .and_then(|m| m.get("mlsId"))
        .and_then(text_of)
        .or_else(|| {
            initial
                .as_ref()
                .and_then(|p| p.get("mlsId"))
                .and_then(text_of)
        });
    if listing.posted_at.is_none() {
        listing.posted_at = state
            .payload("/stingray/api/home/details/belowTheFold")
            .and_then(|below| listed_date(&below, mls_id.as_deref()));
    }
    let listing_id = initial
        .as_ref()
        .and_then(|p| p.get("listingId"))
        .and_then(text_of)
        .or_else(|| {
            main_info
                .as_ref()
                .and_then(|m| m.get("listingId"))
                .and_then(text_of)
        });
    put_extra(&mut listing, "listing_id", listing_id);
    put_extra(&mut listing, "mls_id", mls_id);
    listing.title = page_title(html).map(|title| {
        title
            .strip_suffix(" | Redfin")
            .map(str::to_owned)
            .unwrap_or(title)
    });

    let has_place = listing.street_address.is_some()
        || listing.latitude.is_some() && listing.longitude.is_some();
    has_place.then_some(listing)
}

/// The cached API responses embedded in the page, by request path.
#[derive(Default)]
struct EmbeddedState {
    responses: HashMap<String, String>,
}

impl EmbeddedState {
    /// The `payload` of the cached response whose path (before any query) is `path`.
    fn payload(&self, path: &str) -> Option<Value> {
        let text = self
            .responses
            .iter()
            .find(|(key, _)| key.split('?').next() == Some(path))
            .map(|(_, text)| text)?;
        let json = text.trim_start().strip_prefix(API_PREFIX).unwrap_or(text);
        let mut response: Value = serde_json::from_str(json).ok()?;
        response.get_mut("payload").map(Value::take)
    }
}

#[derive(Deserialize)]
struct InitialContext {
    #[serde(rename = "ReactServerAgent.cache")]
    cache: AgentCache,
}

#[derive(Deserialize)]
struct AgentCache {
    #[serde(rename = "dataCache")]
    data_cache: HashMap<String, CacheEntry>,
}

#[derive(Deserialize)]
struct CacheEntry {
    #[serde(default)]
    res: Option<Value>,
}

/// The `InitialContext` object, read as one JSON value straight from the script text (the
/// statement continues after it, so a streaming reader stops at the value's end).
fn embedded_state(html: &str) -> EmbeddedState {
    const MARKER: &str = "__reactServerState.InitialContext =";
    let Some(at) = html.find(MARKER) else {
        return EmbeddedState::default();
    };
    let rest = &html[at + MARKER.len()..];
    let Some(Ok(context)) = serde_json::Deserializer::from_str(rest)
        .into_iter::<InitialContext>()
        .next()
    else {
        return EmbeddedState::default();
    };
    let responses = context
        .cache
        .data_cache
        .into_iter()
        .filter_map(|(path, entry)| {
            let text = entry.res?.get("text")?.as_str()?.to_owned();
            Some((path, text))
        })
        .collect();
    EmbeddedState { responses }
}

/// The basics from the meta tags and the JSON-LD offer; the embedded state overrides them.
fn fill_from_meta(listing: &mut RawListing, html: &str, offer: Option<&Value>) {
    let address = offer.and_then(|o| o.get("address"));
    let from_ld = |key: &str| address.and_then(|a| a.get(key)).and_then(text_of);
    listing.street_address =
        meta(html, "twitter:text:street_address").or_else(|| from_ld("streetAddress"));
    listing.city = meta(html, "twitter:text:city").or_else(|| from_ld("addressLocality"));
    listing.state_or_province =
        meta(html, "twitter:text:state_code").or_else(|| from_ld("addressRegion"));
    listing.postal_code = meta(html, "twitter:text:zip").or_else(|| from_ld("postalCode"));
    listing.bedrooms_total = meta(html, "twitter:text:beds");
    listing.bathrooms_total = meta(html, "twitter:text:baths");
    listing.living_area_sqft = meta(html, "twitter:text:sqft");
    if let Some(offer) = offer {
        listing.list_price = offer
            .get("offers")
            .and_then(|o| o.get("price"))
            .and_then(text_of);
        let geo = offer.get("geo");
        listing.latitude = geo.and_then(|g| g.get("latitude")).and_then(text_of);
        listing.longitude = geo.and_then(|g| g.get("longitude")).and_then(text_of);
        // `@type` is ["Product", "SingleFamilyResidence"]: the schema.org dwelling type.
        listing.property_type = offer
            .get("@type")
            .and_then(Value::as_array)
            .and_then(|types| {
                types
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "Product")
            })
            .map(str::to_owned);
    }
    if let Some(position) = meta(html, "geo.position")
        && listing.latitude.is_none()
        && let Some((lat, lon)) = position.split_once(';')
    {
        listing.latitude = Some(lat.trim().to_owned());
        listing.longitude = Some(lon.trim().to_owned());
    }
    listing.description = meta(html, "description");
}

fn fill_from_address_section(listing: &mut RawListing, info: &Value) {
    let text = |key: &str| info.get(key).and_then(text_of);
    let set = |field: &mut Option<String>, value: Option<String>| {
        if value.is_some() {
            *field = value;
        }
    };
    let street = info.get("streetAddress");
    set(
        &mut listing.street_address,
        street
            .and_then(|s| s.get("assembledAddress"))
            .and_then(text_of),
    );
    let unit = [
        street.and_then(|s| s.get("unitType")).and_then(text_of),
        street.and_then(|s| s.get("unitValue")).and_then(text_of),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    set(&mut listing.unit_number, (!unit.is_empty()).then_some(unit));
    set(&mut listing.city, text("city"));
    set(&mut listing.state_or_province, text("state"));
    set(&mut listing.postal_code, text("zip"));
    set(&mut listing.bedrooms_total, text("beds"));
    set(&mut listing.bathrooms_total, text("baths"));
    set(
        &mut listing.living_area_sqft,
        info.get("sqFt")
            .and_then(|s| s.get("value"))
            .and_then(text_of),
    );
    let lat_long = info.get("latLong");
    set(
        &mut listing.latitude,
        lat_long.and_then(|l| l.get("latitude")).and_then(text_of),
    );
    set(
        &mut listing.longitude,
        lat_long.and_then(|l| l.get("longitude")).and_then(text_of),
    );
    let price = info.get("priceInfo");
    set(
        &mut listing.list_price,
        price.and_then(|p| p.get("amount")).and_then(text_of),
    );
    put_extra(
        listing,
        "price_label",
        price.and_then(|p| p.get("label")).and_then(text_of),
    );
    let status = info.get("status");
    let shown_status = status.and_then(|s| s.get("displayValue")).and_then(text_of);
    let token = status
        .and_then(|s| s.get("longerDefinitionToken"))
        .and_then(text_of);
    listing.listing_kind = token
        .as_deref()
        .and_then(kind_from_status)
        .or_else(|| shown_status.as_deref().and_then(kind_from_status))
        .map(str::to_owned);
    put_extra(listing, "status", shown_status);
    put_extra(listing, "year_built", text("yearBuilt"));
    put_extra(listing, "lot_size_sqft", text("lotSize"));
    put_extra(listing, "sold_date", text("soldDate"));
    put_extra(listing, "photo_url", text("primaryPhotoUrl"));
}

fn fill_from_main_house_info(listing: &mut RawListing, info: &Value) {
    if let Some(remark) = info
        .get("marketingRemarks")
        .and_then(Value::as_array)
        .and_then(|remarks| remarks.first())
        .and_then(|remark| remark.get("marketingRemark"))
        .and_then(text_of)
    {
        listing.description = Some(remark);
    }
    let agent = info
        .get("listingAgents")
        .and_then(Value::as_array)
        .and_then(|agents| agents.first());
    listing.contact_name = agent
        .and_then(|a| a.get("agentInfo"))
        .and_then(|a| a.get("agentName"))
        .and_then(text_of);
    put_extra(
        listing,
        "broker_name",
        agent.and_then(|a| a.get("brokerName")).and_then(text_of),
    );
    if let Some(kind) = info
        .get("selectedAmenities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|amenity| amenity.get("header").and_then(Value::as_str) == Some("Property Type"))
        .and_then(|amenity| amenity.get("content"))
        .and_then(text_of)
    {
        listing.property_type = Some(kind);
    }
}

/// When the current listing went on the market: the "Listed" event of the property history that
/// belongs to the current MLS number (older listings of the same home have their own), as Redfin's
/// epoch milliseconds.
fn listed_date(below_the_fold: &Value, mls_id: Option<&str>) -> Option<String> {
    let events = below_the_fold
        .get("propertyHistoryInfo")?
        .get("events")?
        .as_array()?;
    events
        .iter()
        .filter(|event| event.get("eventDescription").and_then(Value::as_str) == Some("Listed"))
        .find(|event| {
            mls_id.is_none_or(|mls| event.get("sourceId").and_then(text_of).as_deref() == Some(mls))
        })
        .and_then(|event| event.get("eventDate"))
        .and_then(text_of)
}

/// The `content` of `<meta name|property="{key}" content="...">`, entities decoded.
fn meta(html: &str, key: &str) -> Option<String> {
    for quoted in [format!("name=\"{key}\""), format!("property=\"{key}\"")] {
        let Some(at) = html.find(&quoted) else {
            continue;
        };
        let tag_start = html[..at].rfind('<')?;
        let tag_end = at + html[at..].find('>')?;
        let tag = &html[tag_start..tag_end];
        let value_start = tag.find("content=\"")? + "content=\"".len();
        let value_end = value_start + tag[value_start..].find('"')?;
        let value = decode_entities(tag[value_start..value_end].trim());
        if !value.is_empty() {
            return Some(value);
        }
    }
    None
}

fn canonical_link(html: &str) -> Option<String> {
    let at = html.find("rel=\"canonical\"")?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let start = tag.find("href=\"")? + "href=\"".len();
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].to_owned())
}

/// The JSON-LD object that describes the home (the one with an address and an offer or a
/// position), skipping the site's own Organization block.
fn json_ld_offer(html: &str) -> Option<Value> {
    const MARKER: &str = "application/ld+json";
    let mut from = 0;
    while let Some(found) = html[from..].find(MARKER) {
        let at = from + found;
        let open_end = at + html[at..].find('>')? + 1;
        let close = open_end + html[open_end..].find("</script")?;
        from = close;
        let Ok(value) = serde_json::from_str::<Value>(&html[open_end..close]) else {
            continue;
        };
        if value.get("address").is_some()
            && (value.get("offers").is_some() || value.get("geo").is_some())
        {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp")
    }

    #[test]
    fn meta_and_json_ld_alone_give_a_listing() {
        let html = r#"<html><head><title>1 Pine St, Seattle, WA 98101 | Redfin</title>
            <meta name="twitter:text:street_address" content="1 Pine St" />
            <meta name="twitter:text:city" content="Seattle" /><meta name="twitter:text:state_code" content="WA" />
            <meta name="twitter:text:zip" content="98101" /><meta name="twitter:text:beds" content="2" />
            <meta property="og:url" content="https://www.redfin.com/WA/Seattle/1-Pine-St-98101/home/77" />
            <script type="application/ld+json">{"@type":"Organization","name":"Redfin"}</script>
            <script type="application/ld+json">{"@type":["Product","Condominium"],"address":{"streetAddress":"1 Pine St"},
              "offers":{"price":500000},"geo":{"latitude":47.6,"longitude":-122.3}}</script></head></html>"#;
        let url = Url::parse("https://www.redfin.com/x").expect("valid url");
        let listing = parse(html, &url, &url, now()).expect("listing");
        assert_eq!(listing.source_listing_id.as_deref(), Some("77"));
        assert_eq!(listing.street_address.as_deref(), Some("1 Pine St"));
        assert_eq!(listing.list_price.as_deref(), Some("500000"));
        assert_eq!(listing.property_type.as_deref(), Some("Condominium"));
        assert_eq!(listing.latitude.as_deref(), Some("47.6"));
        assert_eq!(
            listing.title.as_deref(),
            Some("1 Pine St, Seattle, WA 98101")
        );
        assert_eq!(listing.listing_kind, None);
    }

    #[test]
    fn a_page_without_id_or_place_is_none() {
        let url = Url::parse("https://www.redfin.com/city/1").expect("valid url");
        assert!(
            parse(
                "<html><title>Seattle | Redfin</title></html>",
                &url,
                &url,
                now()
            )
            .is_none()
        );
        let no_place = r#"<meta property="og:url" content="https://www.redfin.com/a/home/5">"#;
        assert!(parse(no_place, &url, &url, now()).is_none());
    }

    #[test]
    fn listed_date_belongs_to_the_current_mls_number() {
        let below: Value = serde_json::from_str(
            r#"{"propertyHistoryInfo":{"events":[
                {"eventDescription":"Sold (MLS)","eventDate":3,"sourceId":"B"},
                {"eventDescription":"Listed","eventDate":2,"sourceId":"B"},
                {"eventDescription":"Listed","eventDate":1,"sourceId":"A"}]}}"#,
        )
        .expect("valid JSON");
        assert_eq!(listed_date(&below, Some("A")).as_deref(), Some("1"));
        assert_eq!(listed_date(&below, Some("B")).as_deref(), Some("2"));
        assert_eq!(listed_date(&below, None).as_deref(), Some("2"));
        assert_eq!(listed_date(&below, Some("C")), None);
    }
}

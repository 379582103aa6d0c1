use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};

use crate::SCHEMA_VERSION;

/// Column names of the `leads` Parquet table, in order. The SQL tables use the same names.
pub const LEAD_PARQUET_COLUMNS: [&str; 43] = [
    "property_id",
    "source",
    "source_listing_id",
    "url",
    "fetched_at",
    "listing_kind",
    "property_type",
    "list_price",
    "price_period",
    "bedrooms_total",
    "bathrooms_total",
    "living_area_sqft",
    "street_address",
    "unit_number",
    "city",
    "state_or_province",
    "postal_code",
    "latitude",
    "longitude",
    "h3_cell",
    "title",
    "description",
    "posted_at",
    "contact_name",
    "contact_phone",
    "contact_email",
    "fraud_score",
    "fraud_reasons",
    "quality_score",
    "completeness",
    "lead_price",
    "price_base",
    "price_quality_multiplier",
    "price_demand_multiplier",
    "price_supply_multiplier",
    "price_unclamped",
    "status",
    "schema_version",
    "price_floor",
    "price_ceiling",
    "input_stream",
    "input_partition",
    "input_offset",
];

/// Column names of the `property_merges` Parquet table, in order.
pub const PROPERTY_MERGE_PARQUET_COLUMNS: [&str; 6] = [
    "input_stream",
    "input_partition",
    "input_offset",
    "merge_seq",
    "from_property_id",
    "to_property_id",
];

fn utc_timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The element type of the `fraud_reasons` list column.
pub fn fraud_reason_fields() -> Fields {
    Fields::from(vec![
        Field::new("code", DataType::Utf8, false),
        Field::new("contribution", DataType::Float32, false),
        Field::new("detail", DataType::Utf8, false),
    ])
}

/// The Arrow schema of the `leads` Parquet table (one row per processed listing).
///
/// Ids are hex strings (as in JSON), times are UTC microseconds, the fraud reasons a list of structs,
/// and the price breakdown flattened into `price_*` columns so analysts can filter on them directly.
/// The schema version is stored in the schema metadata under `aiq.schema_version`.
///
/// The last columns arrived later and are nullable (files written before them read as null): the
/// price floor and ceiling complete the breakdown, and `input_stream`, `input_partition` and
/// `input_offset` say which input record the row came from, so that the lake alone can rebuild the
/// store (`aiqleads run backfill`) in the order the rows were first processed.
pub fn lead_arrow_schema() -> Arc<Schema> {
    let reason = DataType::Struct(fraud_reason_fields());
    let fields = vec![
        Field::new("property_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("source_listing_id", DataType::Utf8, false),
        Field::new("url", DataType::Utf8, false),
        Field::new("fetched_at", utc_timestamp(), false),
        Field::new("listing_kind", DataType::Utf8, true),
        Field::new("property_type", DataType::Utf8, true),
        Field::new("list_price", DataType::Float64, true),
        Field::new("price_period", DataType::Utf8, true),
        Field::new("bedrooms_total", DataType::UInt8, true),
        Field::new("bathrooms_total", DataType::Float32, true),
        Field::new("living_area_sqft", DataType::UInt32, true),
        Field::new("street_address", DataType::Utf8, true),
        Field::new("unit_number", DataType::Utf8, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("state_or_province", DataType::Utf8, true),
        Field::new("postal_code", DataType::Utf8, true),
        Field::new("latitude", DataType::Float64, true),
        Field::new("longitude", DataType::Float64, true),
        Field::new("h3_cell", DataType::Utf8, true),
        Field::new("title", DataType::Utf8, true),
        Field::new("description", DataType::Utf8, true),
        Field::new("posted_at", utc_timestamp(), true),
        Field::new("contact_name", DataType::Utf8, true),
        Field::new("contact_phone", DataType::Utf8, true),
        Field::new("contact_email", DataType::Utf8, true),
        Field::new("fraud_score", DataType::Float32, false),
        Field::new(
            "fraud_reasons",
            DataType::List(Arc::new(Field::new("item", reason, true))),
            false,
        ),
        Field::new("quality_score", DataType::Float32, false),
        Field::new("completeness", DataType::Float32, false),
        Field::new("lead_price", DataType::UInt32, false),
        Field::new("price_base", DataType::Float32, false),
        Field::new("price_quality_multiplier", DataType::Float32, false),
        Field::new("price_demand_multiplier", DataType::Float32, false),
        Field::new("price_supply_multiplier", DataType::Float32, false),
        Field::new("price_unclamped", DataType::Float32, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("schema_version", DataType::UInt16, false),
        Field::new("price_floor", DataType::UInt32, true),
        Field::new("price_ceiling", DataType::UInt32, true),
        Field::new("input_stream", DataType::Utf8, true),
        Field::new("input_partition", DataType::Int32, true),
        Field::new("input_offset", DataType::Int64, true),
    ];
    let metadata = HashMap::from([("aiq.schema_version".to_owned(), SCHEMA_VERSION.to_string())]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// The Arrow schema of the `property_merges` Parquet table: one row per merge the dedupe stage
/// decided (every listing of `from_property_id` moved to `to_property_id`), with the input record
/// whose processing decided it and its order among that record's merges. Lake rows keep the
/// property id they had when written; later merges are here, and the store's views apply them.
pub fn property_merge_arrow_schema() -> Arc<Schema> {
    let fields = vec![
        Field::new("input_stream", DataType::Utf8, false),
        Field::new("input_partition", DataType::Int32, false),
        Field::new("input_offset", DataType::Int64, false),
        Field::new("merge_seq", DataType::UInt32, false),
        Field::new("from_property_id", DataType::Utf8, false),
        Field::new("to_property_id", DataType::Utf8, false),
    ];
    let metadata = HashMap::from([("aiq.schema_version".to_owned(), SCHEMA_VERSION.to_string())]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// Column names of the `raw_listings` Parquet table (the archive of what the connectors sent), in
/// order.
pub const RAW_LISTING_PARQUET_COLUMNS: [&str; 8] = [
    "input_stream",
    "input_partition",
    "input_offset",
    "received_at",
    "schema_version",
    "source",
    "source_listing_id",
    "payload",
];

/// The Arrow schema of the `raw_listings` Parquet table: every record read from the raw listings
/// stream, as it arrived (the payload as text, invalid UTF-8 replaced), with its position and
/// timestamp, and its source and listing id where it decodes. Malformed records are here too: the
/// archive holds what was received, the dead letters say why a record went no further.
pub fn raw_listing_arrow_schema() -> Arc<Schema> {
    let fields = vec![
        Field::new("input_stream", DataType::Utf8, false),
        Field::new("input_partition", DataType::Int32, false),
        Field::new("input_offset", DataType::Int64, false),
        Field::new("received_at", utc_timestamp(), false),
        Field::new("schema_version", DataType::UInt16, true),
        Field::new("source", DataType::Utf8, true),
        Field::new("source_listing_id", DataType::Utf8, true),
        Field::new("payload", DataType::Utf8, false),
    ];
    let metadata = HashMap::from([("aiq.schema_version".to_owned(), SCHEMA_VERSION.to_string())]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// Column names of the `marketplace_events` Parquet table, in order.
pub const MARKETPLACE_EVENT_PARQUET_COLUMNS: [&str; 10] = [
    "input_stream",
    "input_partition",
    "input_offset",
    "kind",
    "property_id",
    "h3_cell",
    "postal_code",
    "state_or_province",
    "agent",
    "at",
];

/// The Arrow schema of the `marketplace_events` Parquet table: the buyers' views, cart adds and
/// purchases (`kind` `view`, `cart_add`, `purchase`), with the position they were read at (on Kafka
/// `marketplace.events`; in the embedded default the store's table, offset = row id). Agents appear
/// only as the API's pseudonyms. Ids and cells are hexadecimal text, as in `leads`.
pub fn marketplace_event_arrow_schema() -> Arc<Schema> {
    let fields = vec![
        Field::new("input_stream", DataType::Utf8, false),
        Field::new("input_partition", DataType::Int32, false),
        Field::new("input_offset", DataType::Int64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("property_id", DataType::Utf8, false),
        Field::new("h3_cell", DataType::Utf8, true),
        Field::new("postal_code", DataType::Utf8, true),
        Field::new("state_or_province", DataType::Utf8, true),
        Field::new("agent", DataType::Utf8, false),
        Field::new("at", utc_timestamp(), false),
    ];
    let metadata = HashMap::from([("aiq.schema_version".to_owned(), SCHEMA_VERSION.to_string())]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_list_matches_schema() {
        let schema = lead_arrow_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, LEAD_PARQUET_COLUMNS);
        let schema = property_merge_arrow_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, PROPERTY_MERGE_PARQUET_COLUMNS);
        let schema = raw_listing_arrow_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, RAW_LISTING_PARQUET_COLUMNS);
        let schema = marketplace_event_arrow_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, MARKETPLACE_EVENT_PARQUET_COLUMNS);
    }
}

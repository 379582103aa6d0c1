//! Rows of the lake's tables to Arrow and back. Writing is the hot path (every flush); reading back
//! serves `aiqleads run backfill`, which rebuilds the store from the lake, so a lead read back must
//! equal the lead written.

use std::sync::Arc;

use aiq_pipeline::dedupe::Relabel;
use aiq_schemas::{
    FraudReason, Lead, Listing, MarketplaceEvent, PriceBreakdown, PropertyId, fraud_reason_fields,
    lead_arrow_schema, marketplace_event_arrow_schema, property_merge_arrow_schema,
    raw_listing_arrow_schema,
};
use arrow_array::builder::{
    Float32Builder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    StructBuilder, TimestampMicrosecondBuilder, UInt8Builder, UInt16Builder, UInt32Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt8Type,
    UInt16Type, UInt32Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray, new_null_array};
use arrow_schema::{ArrowError, SchemaRef};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::sink::StreamPosition;
use crate::{Error, Result};

/// Builds the `leads` record batch in the column order of [`lead_arrow_schema`].
pub fn leads_to_record_batch(rows: &[(Lead, StreamPosition)]) -> Result<RecordBatch> {
    let n = rows.len();
    let leads = || rows.iter().map(|(lead, _)| lead);
    let text = |f: &dyn Fn(&Lead) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for lead in leads() {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let f32s = |f: &dyn Fn(&Lead) -> Option<f32>| -> ArrayRef {
        let mut b = Float32Builder::with_capacity(n);
        for lead in leads() {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let f64s = |f: &dyn Fn(&Lead) -> Option<f64>| -> ArrayRef {
        let mut b = Float64Builder::with_capacity(n);
        for lead in leads() {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let u32s = |f: &dyn Fn(&Lead) -> Option<u32>| -> ArrayRef {
        let mut b = UInt32Builder::with_capacity(n);
        for lead in leads() {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let times = |f: &dyn Fn(&Lead) -> Option<i64>| -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        for lead in leads() {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let mut property_ids = StringBuilder::with_capacity(n, n * 16);
    let mut h3_cells = StringBuilder::with_capacity(n, n * 15);
    let mut bedrooms = UInt8Builder::with_capacity(n);
    let mut versions = UInt16Builder::with_capacity(n);
    let mut streams = StringBuilder::with_capacity(n, n * 16);
    let mut partitions = Int32Builder::with_capacity(n);
    let mut offsets = Int64Builder::with_capacity(n);
    let mut reasons = ListBuilder::new(StructBuilder::from_fields(fraud_reason_fields(), n));
    let mut scratch = String::with_capacity(16);
    for (lead, position) in rows {
        use std::fmt::Write as _;
        scratch.clear();
        let _ = write!(scratch, "{}", lead.property_id);
        property_ids.append_value(&scratch);
        match lead.listing.h3_cell {
            Some(cell) => {
                scratch.clear();
                let _ = write!(scratch, "{cell}");
                h3_cells.append_value(&scratch);
            }
            None => h3_cells.append_null(),
        }
        bedrooms.append_option(lead.listing.bedrooms_total);
        versions.append_value(lead.schema_version);
        streams.append_value(&*position.stream);
        partitions.append_value(position.partition);
        offsets.append_value(position.offset);
        let items = reasons.values();
        for reason in &lead.fraud_reasons {
            items
                .field_builder::<StringBuilder>(0)
                .expect("code is utf8")
                .append_value(reason.code.as_str());
            items
                .field_builder::<Float32Builder>(1)
                .expect("contribution is f32")
                .append_value(reason.contribution);
            items
                .field_builder::<StringBuilder>(2)
                .expect("detail is utf8")
                .append_value(&reason.detail);
            items.append(true);
        }
        reasons.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(property_ids.finish()),
        text(&|l| Some(l.listing.source.as_str())),
        text(&|l| Some(l.listing.source_listing_id.as_str())),
        text(&|l| Some(l.listing.url.as_str())),
        times(&|l| Some(l.listing.fetched_at.timestamp_micros())),
        text(&|l| l.listing.listing_kind.map(|k| k.as_str())),
        text(&|l| l.listing.property_type.as_deref()),
        f64s(&|l| l.listing.list_price),
        text(&|l| l.listing.price_period.map(|p| p.as_str())),
        Arc::new(bedrooms.finish()),
        f32s(&|l| l.listing.bathrooms_total),
        u32s(&|l| l.listing.living_area_sqft),
        text(&|l| l.listing.street_address.as_deref()),
        text(&|l| l.listing.unit_number.as_deref()),
        text(&|l| l.listing.city.as_deref()),
        text(&|l| l.listing.state_or_province.as_deref()),
        text(&|l| l.listing.postal_code.as_deref()),
        f64s(&|l| l.listing.latitude),
        f64s(&|l| l.listing.longitude),
        Arc::new(h3_cells.finish()),
        text(&|l| l.listing.title.as_deref()),
        text(&|l| l.listing.description.as_deref()),
        times(&|l| l.listing.posted_at.map(|t| t.timestamp_micros())),
        text(&|l| l.listing.contact_name.as_deref()),
        text(&|l| l.listing.contact_phone.as_deref()),
        text(&|l| l.listing.contact_email.as_deref()),
        f32s(&|l| Some(l.fraud_score)),
        Arc::new(reasons.finish()),
        f32s(&|l| Some(l.quality_score)),
        f32s(&|l| Some(l.completeness)),
        u32s(&|l| Some(l.lead_price)),
        f32s(&|l| Some(l.price_breakdown.base)),
        f32s(&|l| Some(l.price_breakdown.quality_multiplier)),
        f32s(&|l| Some(l.price_breakdown.demand_multiplier)),
        f32s(&|l| Some(l.price_breakdown.supply_multiplier)),
        f32s(&|l| Some(l.price_breakdown.unclamped)),
        text(&|l| Some(l.status.as_str())),
        Arc::new(versions.finish()),
        u32s(&|l| Some(l.price_breakdown.floor)),
        u32s(&|l| Some(l.price_breakdown.ceiling)),
        Arc::new(streams.finish()),
        Arc::new(partitions.finish()),
        Arc::new(offsets.finish()),
    ];
    Ok(RecordBatch::try_new(lead_arrow_schema(), columns)?)
}

/// Builds the `property_merges` record batch: each merge with the input record that decided it and
/// its place among that record's merges.
pub fn merges_to_record_batch(rows: &[(Relabel, StreamPosition, u32)]) -> Result<RecordBatch> {
    let n = rows.len();
    let mut streams = StringBuilder::with_capacity(n, n * 16);
    let mut partitions = Int32Builder::with_capacity(n);
    let mut offsets = Int64Builder::with_capacity(n);
    let mut seqs = UInt32Builder::with_capacity(n);
    let mut from = StringBuilder::with_capacity(n, n * 16);
    let mut to = StringBuilder::with_capacity(n, n * 16);
    for (relabel, position, seq) in rows {
        streams.append_value(&*position.stream);
        partitions.append_value(position.partition);
        offsets.append_value(position.offset);
        seqs.append_value(*seq);
        from.append_value(relabel.from.to_string());
        to.append_value(relabel.to.to_string());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(streams.finish()),
        Arc::new(partitions.finish()),
        Arc::new(offsets.finish()),
        Arc::new(seqs.finish()),
        Arc::new(from.finish()),
        Arc::new(to.finish()),
    ];
    Ok(RecordBatch::try_new(
        property_merge_arrow_schema(),
        columns,
    )?)
}

/// One record of the raw listings stream as the archive keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct RawArchiveRow {
    pub position: StreamPosition,
    pub received_at: DateTime<Utc>,
    pub schema_version: Option<u16>,
    pub source: Option<String>,
    pub source_listing_id: Option<String>,
    pub payload: String,
}

/// Builds the `raw_listings` record batch.
pub fn raw_to_record_batch(rows: &[RawArchiveRow]) -> Result<RecordBatch> {
    let n = rows.len();
    let mut streams = StringBuilder::with_capacity(n, n * 16);
    let mut partitions = Int32Builder::with_capacity(n);
    let mut offsets = Int64Builder::with_capacity(n);
    let mut received = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut versions = UInt16Builder::with_capacity(n);
    let mut sources = StringBuilder::with_capacity(n, n * 10);
    let mut ids = StringBuilder::with_capacity(n, n * 12);
    let payload_bytes = rows.iter().map(|r| r.payload.len()).sum();
    let mut payloads = StringBuilder::with_capacity(n, payload_bytes);
    for row in rows {
        streams.append_value(&*row.position.stream);
        partitions.append_value(row.position.partition);
        offsets.append_value(row.position.offset);
        received.append_value(row.received_at.timestamp_micros());
        versions.append_option(row.schema_version);
        sources.append_option(row.source.as_deref());
        ids.append_option(row.source_listing_id.as_deref());
        payloads.append_value(&row.payload);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(streams.finish()),
        Arc::new(partitions.finish()),
        Arc::new(offsets.finish()),
        Arc::new(received.finish()),
        Arc::new(versions.finish()),
        Arc::new(sources.finish()),
        Arc::new(ids.finish()),
        Arc::new(payloads.finish()),
    ];
    Ok(RecordBatch::try_new(raw_listing_arrow_schema(), columns)?)
}

/// Builds the `marketplace_events` record batch.
pub fn events_to_record_batch(rows: &[(MarketplaceEvent, StreamPosition)]) -> Result<RecordBatch> {
    let n = rows.len();
    let mut streams = StringBuilder::with_capacity(n, n * 18);
    let mut partitions = Int32Builder::with_capacity(n);
    let mut offsets = Int64Builder::with_capacity(n);
    let mut kinds = StringBuilder::with_capacity(n, n * 8);
    let mut property_ids = StringBuilder::with_capacity(n, n * 16);
    let mut cells = StringBuilder::with_capacity(n, n * 15);
    let mut postal_codes = StringBuilder::with_capacity(n, n * 5);
    let mut states = StringBuilder::with_capacity(n, n * 2);
    let mut agents = StringBuilder::with_capacity(n, n * 32);
    let mut at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    for (event, position) in rows {
        streams.append_value(&*position.stream);
        partitions.append_value(position.partition);
        offsets.append_value(position.offset);
        kinds.append_value(event.kind.as_str());
        property_ids.append_value(event.property_id.to_string());
        cells.append_option(event.h3_cell.map(|c| c.to_string()));
        postal_codes.append_option(event.postal_code.as_deref());
        states.append_option(event.state_or_province.as_deref());
        agents.append_value(&event.agent);
        at.append_value(event.at.timestamp_micros());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(streams.finish()),
        Arc::new(partitions.finish()),
        Arc::new(offsets.finish()),
        Arc::new(kinds.finish()),
        Arc::new(property_ids.finish()),
        Arc::new(cells.finish()),
        Arc::new(postal_codes.finish()),
        Arc::new(states.finish()),
        Arc::new(agents.finish()),
        Arc::new(at.finish()),
    ];
    Ok(RecordBatch::try_new(
        marketplace_event_arrow_schema(),
        columns,
    )?)
}

/// `batch` with the columns of `schema`, in its order: columns the batch lacks (files written before
/// a column existed) become nulls. A missing column that may not be null is an error.
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        match batch.column_by_name(field.name()) {
            Some(column) if column.data_type() == field.data_type() => {
                columns.push(Arc::clone(column));
            }
            Some(column) => columns.push(
                arrow_cast(column, field.data_type())
                    .map_err(|e| Error::Internal(format!("lake column {}: {e}", field.name())))?,
            ),
            None if field.is_nullable() => {
                columns.push(new_null_array(field.data_type(), batch.num_rows()));
            }
            None => {
                return Err(Error::Internal(format!(
                    "a lake file lacks the column {}",
                    field.name()
                )));
            }
        }
    }
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// Only one cast is needed: a file's timestamps written without the UTC zone name.
fn arrow_cast(
    column: &ArrayRef,
    to: &arrow_schema::DataType,
) -> std::result::Result<ArrayRef, ArrowError> {
    match (column.data_type(), to) {
        (
            arrow_schema::DataType::Timestamp(unit, _),
            arrow_schema::DataType::Timestamp(to_unit, zone),
        ) if unit == to_unit => {
            let values = column.as_primitive::<TimestampMicrosecondType>().clone();
            Ok(Arc::new(values.with_timezone_opt(zone.clone())))
        }
        (from, to) => Err(ArrowError::CastError(format!("{from} is not {to}"))),
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("lake batch lacks the column {name}")))
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a arrow_array::StringArray> {
    column(batch, name)?
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::Internal(format!("lake column {name} is not text")))
}

macro_rules! primitives {
    ($batch:expr, $name:expr, $ty:ty) => {
        column($batch, $name)?
            .as_primitive_opt::<$ty>()
            .ok_or_else(|| Error::Internal(format!("lake column {} has the wrong type", $name)))?
    };
}

fn opt_text(array: &arrow_array::StringArray, row: usize) -> Option<String> {
    array.is_valid(row).then(|| array.value(row).to_owned())
}

fn required<'a>(array: &'a arrow_array::StringArray, row: usize, name: &str) -> Result<&'a str> {
    if array.is_valid(row) {
        Ok(array.value(row))
    } else {
        Err(Error::Internal(format!(
            "lake column {name} is null in row {row}"
        )))
    }
}

/// A snake_case unit variant from its text (the same names serde writes).
fn variant<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text))
        .map_err(|_| Error::Internal(format!("`{text}` is not a known {what}")))
}

fn timestamp(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| Error::Internal(format!("timestamp {micros} µs is out of range")))
}

/// Reads leads (and, where the file has them, their input positions) back from a `leads` batch
/// already conformed to [`lead_arrow_schema`].
pub fn record_batch_to_leads(batch: &RecordBatch) -> Result<Vec<(Lead, Option<StreamPosition>)>> {
    let property_id = strings(batch, "property_id")?;
    let source = strings(batch, "source")?;
    let source_listing_id = strings(batch, "source_listing_id")?;
    let url = strings(batch, "url")?;
    let fetched_at = primitives!(batch, "fetched_at", TimestampMicrosecondType);
    let listing_kind = strings(batch, "listing_kind")?;
    let property_type = strings(batch, "property_type")?;
    let list_price = primitives!(batch, "list_price", Float64Type);
    let price_period = strings(batch, "price_period")?;
    let bedrooms = primitives!(batch, "bedrooms_total", UInt8Type);
    let bathrooms = primitives!(batch, "bathrooms_total", Float32Type);
    let area = primitives!(batch, "living_area_sqft", UInt32Type);
    let street = strings(batch, "street_address")?;
    let unit = strings(batch, "unit_number")?;
    let city = strings(batch, "city")?;
    let state = strings(batch, "state_or_province")?;
    let postal = strings(batch, "postal_code")?;
    let latitude = primitives!(batch, "latitude", Float64Type);
    let longitude = primitives!(batch, "longitude", Float64Type);
    let h3 = strings(batch, "h3_cell")?;
    let title = strings(batch, "title")?;
    let description = strings(batch, "description")?;
    let posted_at = primitives!(batch, "posted_at", TimestampMicrosecondType);
    let contact_name = strings(batch, "contact_name")?;
    let contact_phone = strings(batch, "contact_phone")?;
    let contact_email = strings(batch, "contact_email")?;
    let fraud_score = primitives!(batch, "fraud_score", Float32Type);
    let reasons = column(batch, "fraud_reasons")?
        .as_list_opt::<i32>()
        .ok_or_else(|| Error::Internal("lake column fraud_reasons is not a list".into()))?;
    let quality = primitives!(batch, "quality_score", Float32Type);
    let completeness = primitives!(batch, "completeness", Float32Type);
    let lead_price = primitives!(batch, "lead_price", UInt32Type);
    let base = primitives!(batch, "price_base", Float32Type);
    let quality_multiplier = primitives!(batch, "price_quality_multiplier", Float32Type);
    let demand_multiplier = primitives!(batch, "price_demand_multiplier", Float32Type);
    let supply_multiplier = primitives!(batch, "price_supply_multiplier", Float32Type);
    let unclamped = primitives!(batch, "price_unclamped", Float32Type);
    let status = strings(batch, "status")?;
    let version = primitives!(batch, "schema_version", UInt16Type);
    let floor = primitives!(batch, "price_floor", UInt32Type);
    let ceiling = primitives!(batch, "price_ceiling", UInt32Type);
    let stream = strings(batch, "input_stream")?;
    let partition = primitives!(batch, "input_partition", Int32Type);
    let offset = primitives!(batch, "input_offset", Int64Type);

    let opt_f64 = |a: &arrow_array::PrimitiveArray<Float64Type>, row: usize| {
        a.is_valid(row).then(|| a.value(row))
    };
    let opt_f32 = |a: &arrow_array::PrimitiveArray<Float32Type>, row: usize| {
        a.is_valid(row).then(|| a.value(row))
    };
    let opt_u32 = |a: &arrow_array::PrimitiveArray<UInt32Type>, row: usize| {
        a.is_valid(row).then(|| a.value(row))
    };
    let mut out = Vec::with_capacity(batch.num_rows());
    let mut stream_names: Vec<(String, Arc<str>)> = Vec::new();
    for row in 0..batch.num_rows() {
        let mut fraud_reasons = Vec::new();
        if reasons.is_valid(row) {
            let items = reasons.value(row);
            let items: &StructArray = items.as_struct();
            let codes = items.column(0).as_string::<i32>();
            let contributions = items.column(1).as_primitive::<Float32Type>();
            let details = items.column(2).as_string::<i32>();
            for item in 0..items.len() {
                fraud_reasons.push(FraudReason {
                    code: variant(codes.value(item), "fraud reason code")?,
                    contribution: contributions.value(item),
                    detail: details.value(item).to_owned(),
                });
            }
        }
        let listing = Listing {
            source: required(source, row, "source")?
                .parse()
                .map_err(|e: aiq_schemas::UnknownSource| Error::Internal(e.to_string()))?,
            source_listing_id: required(source_listing_id, row, "source_listing_id")?.to_owned(),
            url: required(url, row, "url")?.to_owned(),
            fetched_at: timestamp(fetched_at.value(row))?,
            listing_kind: opt_text(listing_kind, row)
                .map(|k| variant(&k, "listing kind"))
                .transpose()?,
            property_type: opt_text(property_type, row),
            list_price: opt_f64(list_price, row),
            price_period: opt_text(price_period, row)
                .map(|p| variant(&p, "price period"))
                .transpose()?,
            bedrooms_total: bedrooms.is_valid(row).then(|| bedrooms.value(row)),
            bathrooms_total: opt_f32(bathrooms, row),
            living_area_sqft: opt_u32(area, row),
            street_address: opt_text(street, row),
            unit_number: opt_text(unit, row),
            city: opt_text(city, row),
            state_or_province: opt_text(state, row),
            postal_code: opt_text(postal, row),
            latitude: opt_f64(latitude, row),
            longitude: opt_f64(longitude, row),
            h3_cell: opt_text(h3, row)
                .map(|c| c.parse().map_err(Error::Internal))
                .transpose()?,
            title: opt_text(title, row),
            description: opt_text(description, row),
            posted_at: posted_at
                .is_valid(row)
                .then(|| timestamp(posted_at.value(row)))
                .transpose()?,
            contact_name: opt_text(contact_name, row),
            contact_phone: opt_text(contact_phone, row),
            contact_email: opt_text(contact_email, row),
        };
        let lead = Lead {
            listing,
            property_id: required(property_id, row, "property_id")?
                .parse::<PropertyId>()
                .map_err(Error::Internal)?,
            fraud_score: fraud_score.value(row),
            fraud_reasons,
            quality_score: quality.value(row),
            completeness: completeness.value(row),
            lead_price: lead_price.value(row),
            price_breakdown: PriceBreakdown {
                base: base.value(row),
                quality_multiplier: quality_multiplier.value(row),
                demand_multiplier: demand_multiplier.value(row),
                supply_multiplier: supply_multiplier.value(row),
                unclamped: unclamped.value(row),
                floor: opt_u32(floor, row).unwrap_or_default(),
                ceiling: opt_u32(ceiling, row).unwrap_or_default(),
            },
            status: variant(required(status, row, "status")?, "lead status")?,
            schema_version: version.value(row),
        };
        let position = if stream.is_valid(row) && partition.is_valid(row) && offset.is_valid(row) {
            let name = stream.value(row);
            let shared = match stream_names.iter().find(|(known, _)| known == name) {
                Some((_, shared)) => Arc::clone(shared),
                None => {
                    let shared: Arc<str> = Arc::from(name);
                    stream_names.push((name.to_owned(), Arc::clone(&shared)));
                    shared
                }
            };
            Some(StreamPosition {
                stream: shared,
                partition: partition.value(row),
                offset: offset.value(row),
            })
        } else {
            None
        };
        out.push((lead, position));
    }
    Ok(out)
}

/// One row of `property_merges`, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRow {
    pub stream: String,
    pub partition: i32,
    pub offset: i64,
    pub seq: u32,
    pub relabel: Relabel,
}

/// Reads merges back from a `property_merges` batch.
pub fn record_batch_to_merges(batch: &RecordBatch) -> Result<Vec<MergeRow>> {
    let stream = strings(batch, "input_stream")?;
    let partition = primitives!(batch, "input_partition", Int32Type);
    let offset = primitives!(batch, "input_offset", Int64Type);
    let seq = primitives!(batch, "merge_seq", UInt32Type);
    let from = strings(batch, "from_property_id")?;
    let to = strings(batch, "to_property_id")?;
    (0..batch.num_rows())
        .map(|row| {
            Ok(MergeRow {
                stream: required(stream, row, "input_stream")?.to_owned(),
                partition: partition.value(row),
                offset: offset.value(row),
                seq: seq.value(row),
                relabel: Relabel {
                    from: required(from, row, "from_property_id")?
                        .parse()
                        .map_err(Error::Internal)?,
                    to: required(to, row, "to_property_id")?
                        .parse()
                        .map_err(Error::Internal)?,
                },
            })
        })
        .collect()
}

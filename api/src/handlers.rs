//! Routes and handlers. Each handler parses and checks its input, calls the database, the
//! reservations store or the search module, and answers JSON (errors as problem+json).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use aiq_schemas::MarketplaceEventKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::auth::Principal;
use crate::db::{DbRow, Param};
use crate::error::{PROBLEM_JSON, Problem, problem_response};
use crate::events::EventLead;
use crate::nlq::{self, ParsedQuery};
use crate::reservations::Reserve;
use crate::search::{
    self, ContactText, Filters, LeadSummary, SUMMARY_COLUMNS, SearchPage, Sort, redact,
};
use crate::state::AppState;
use crate::{Error, Result, metrics};

type State = web::Data<AppState>;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)))
        .service(web::resource("/readyz").route(web::get().to(readyz)))
        .service(web::resource("/metrics").route(web::get().to(prometheus)))
        .service(web::resource("/openapi.json").route(web::get().to(openapi)))
        .service(
            web::scope("/v1")
                .service(web::resource("/leads").route(web::get().to(search_leads)))
                .service(web::resource("/leads/{property_id}").route(web::get().to(lead_detail)))
                .service(web::resource("/recommendations").route(web::get().to(recommendations)))
                .service(web::resource("/market/heatmap").route(web::get().to(heatmap)))
                .service(web::resource("/cart").route(web::get().to(cart)))
                .service(
                    web::resource("/cart/{property_id}")
                        .route(web::post().to(reserve))
                        .route(web::delete().to(release)),
                )
                .service(web::resource("/checkout").route(web::post().to(checkout)))
                .service(web::resource("/credits").route(web::get().to(balance)))
                .service(web::resource("/credits/history").route(web::get().to(history)))
                .service(web::resource("/admin/credits").route(web::post().to(top_up))),
        );
}

// ---- extractor configuration: every failure is a problem+json 4xx ----

pub(crate) fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _| {
            use actix_web::error::JsonPayloadError;
            let api_error = match &error {
                JsonPayloadError::Overflow { limit }
                | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                    Error::PayloadTooLarge(format!("the limit is {limit} bytes"))
                }
                JsonPayloadError::ContentType => {
                    Error::BadRequest("Content-Type must be application/json".into())
                }
                JsonPayloadError::Deserialize(e) => {
                    Error::BadRequest(format!("invalid JSON body: {e}"))
                }
                other => Error::BadRequest(format!("invalid JSON body: {other}")),
            };
            actix_web::Error::from(api_error)
        })
}

pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        Error::BadRequest(format!("invalid query parameters: {error}")).into()
    })
}

pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|error, _| Error::BadRequest(format!("invalid path: {error}")).into())
}

pub(crate) async fn not_found(request: HttpRequest) -> HttpResponse {
    problem_response(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no route for {} {}", request.method(), request.path()),
    )
}

fn parse_property_id(text: &str) -> Result<i64> {
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::BadRequest(format!(
            "`{}` is not a property id (16 hex digits)",
            text.chars().take(40).collect::<String>()
        )));
    }
    u64::from_str_radix(text, 16)
        .map(|v| v as i64)
        .map_err(|_| Error::BadRequest("property id out of range".into()))
}

fn hex_id(id: i64) -> String {
    format!("{:016x}", id as u64)
}

// ---- health, readiness, metrics, OpenAPI ----

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    status: &'static str,
    uptime_seconds: u64,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz(state: State) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        uptime_seconds: state.started.elapsed().as_secs(),
    })
}

/// Readiness: the database and the reservations store answer (503 otherwise).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Problem)))]
async fn readyz(state: State) -> Result<HttpResponse> {
    let timeout = Duration::from_secs(2);
    let down = |what: &'static str, detail: String| Error::Unavailable { what, detail };
    match tokio::time::timeout(timeout, state.db.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(down("the database", e.to_string())),
        Err(_) => return Err(down("the database", "no answer within 2s".into())),
    }
    match tokio::time::timeout(timeout, state.reservations.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(down("the reservations store", e.to_string())),
        Err(_) => return Err(down("the reservations store", "no answer within 2s".into())),
    }
    Ok(HttpResponse::Ok().json(Health {
        status: "ready",
        uptime_seconds: state.started.elapsed().as_secs(),
    }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String)))]
async fn prometheus() -> Result<HttpResponse> {
    let handle = metrics::handle().ok_or_else(|| {
        Error::Internal("another metrics recorder was installed in this process".into())
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render()))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

// ---- search and detail ----

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// Natural-language query, e.g. "3-bedroom house under $300k within 5 miles of downtown Austin".
    q: Option<String>,
    /// `rent` or `sale`.
    kind: Option<String>,
    property_type: Option<String>,
    min_price: Option<f64>,
    max_price: Option<f64>,
    min_beds: Option<u8>,
    min_baths: Option<f32>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_miles: Option<f64>,
    /// Words that must all appear in the title or description.
    text: Option<String>,
    max_age_days: Option<u32>,
    max_fraud_score: Option<f64>,
    /// `price_asc`, `price_desc`, `newest` (default), `quality`, `distance`.
    sort: Option<Sort>,
    /// 1 to 100 (default 20).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Search active leads.
#[utoipa::path(get, path = "/v1/leads", tag = "leads", params(SearchQuery),
    responses((status = 200, body = SearchPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 429, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
async fn search_leads(
    state: State,
    _principal: Principal,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse> {
    let query = query.into_inner();
    let explicit = Filters {
        kind: query.kind,
        property_type: query.property_type,
        min_price: query.min_price,
        max_price: query.max_price,
        min_beds: query.min_beds,
        min_baths: query.min_baths,
        city: query.city,
        state: query.state,
        postal_code: query.postal_code,
        lat: query.lat,
        lon: query.lon,
        radius_miles: query.radius_miles,
        place: None,
        text: query.text,
        max_age_days: query.max_age_days,
        max_fraud_score: query.max_fraud_score,
    };
    let parsed: Option<ParsedQuery> = match query.q.as_deref().map(str::trim) {
        Some(q) if q.len() > 300 => {
            return Err(Error::BadRequest("q must be at most 300 characters".into()));
        }
        Some("") | None => None,
        Some(q) => Some(nlq::parse(q)),
    };
    let mut filters = match &parsed {
        Some(p) => explicit.or(p.filters.clone()),
        None => explicit,
    };
    filters.validate()?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::BadRequest("limit must be between 1 and 100".into()));
    }
    let sort = query.sort.unwrap_or(Sort::Newest);
    let (items, next_cursor) = match &state.catalog {
        Some(catalog) => catalog.search(&filters, sort, limit as usize, query.cursor.as_deref())?,
        None => {
            search::search(
                &state.db,
                &filters,
                sort,
                limit as usize,
                query.cursor.as_deref(),
                &state.config.exclusive_kinds,
            )
            .await?
        }
    };
    Ok(HttpResponse::Ok().json(SearchPage {
        items,
        next_cursor,
        sort,
        filters,
        parsed,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A lead in full. `contact` and `url` (the source listing shows the contact too) are present only
/// for a principal who bought the lead; before that, contact details inside the description are
/// hidden as well.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LeadDetail {
    #[serde(flatten)]
    pub summary: LeadSummary,
    pub street_address: Option<String>,
    pub unit_number: Option<String>,
    pub description: Option<String>,
    pub status: String,
    pub completeness: f64,
    /// Why the fraud score is what it is: `[{code, contribution, detail}]`.
    #[schema(value_type = Object)]
    pub fraud_reasons: serde_json::Value,
    /// How the lead price was computed: base × quality × demand × supply, clamped.
    #[schema(value_type = Object)]
    pub price_breakdown: serde_json::Value,
    pub listing_count: i64,
    pub sources: Vec<String>,
    /// Agents who bought it so far, and whether it can still be bought.
    pub buyers: i64,
    pub sold_out: bool,
    pub owned: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

const DETAIL_COLUMNS: &str = "street_address, unit_number, description, url, status, completeness,
    CAST(fraud_reasons AS TEXT) AS fraud_reasons_json, CAST(price_breakdown AS TEXT) AS price_breakdown_json,
    CAST(listing_count AS BIGINT) AS listing_count, sources";

struct LeadFacts {
    event: EventLead,
    lead_price: i64,
    exclusive: bool,
    active: bool,
}

async fn owns(state: &AppState, agent: &str, property_id: i64) -> Result<bool> {
    Ok(state
        .db
        .fetch_optional(
            "SELECT property_id FROM purchases WHERE agent_id = $1 AND property_id = $2",
            &[Param::Text(agent.to_owned()), Param::I64(property_id)],
        )
        .await?
        .is_some())
}

async fn sales(state: &AppState, property_id: i64) -> Result<(i64, bool)> {
    let row = state
        .db
        .fetch_optional(
            "SELECT CAST(buyers AS BIGINT) AS buyers, sold_out FROM lead_sales WHERE property_id = $1",
            &[Param::I64(property_id)],
        )
        .await?;
    match row {
        Some(row) => Ok((row.get("buyers")?, row.get("sold_out")?)),
        None => Ok((0, false)),
    }
}

async fn lead_facts(state: &AppState, property_id: i64) -> Result<LeadFacts> {
    let row = state
        .db
        .fetch_optional(
            "SELECT property_id, h3_cell, postal_code, state_or_province, lead_price, listing_kind, status \
             FROM leads WHERE property_id = $1",
            &[Param::I64(property_id)],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("no lead {}", hex_id(property_id))))?;
    let kind: Option<String> = row.get("listing_kind")?;
    let status: String = row.get("status")?;
    Ok(LeadFacts {
        event: EventLead::from_row(property_id, &row)?,
        lead_price: row.get("lead_price")?,
        exclusive: state.config.is_exclusive_kind(kind.as_deref()),
        active: status == "active",
    })
}

/// One lead. Contact details only for a buyer.
#[utoipa::path(get, path = "/v1/leads/{property_id}", tag = "leads",
    params(("property_id" = String, Path, description = "16 hex digits")),
    responses((status = 200, body = LeadDetail), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
async fn lead_detail(
    state: State,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let property_id = parse_property_id(&path)?;
    // From memory when the catalogue holds the lead and the caller does not own it (most views);
    // otherwise from the database: a lead written since the last refresh, or a buyer's own lead
    // with the contact details the catalogue never keeps.
    if let Some((lead, sale)) = state
        .catalog
        .as_ref()
        .and_then(|catalog| catalog.public_view(&principal.subject, property_id))
    {
        if !lead.is_active() {
            return Err(Error::NotFound(format!("no lead {}", hex_id(property_id))));
        }
        let detail = lead.public_detail(sale)?;
        state.events.publish(
            MarketplaceEventKind::View,
            &lead.event_lead(),
            &principal.subject,
        );
        return Ok(HttpResponse::Ok().json(detail));
    }
    // One round trip: the lead, whether the caller owns it, and its sales.
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, {DETAIL_COLUMNS},
           (SELECT COUNT(*) FROM purchases p WHERE p.agent_id = $2 AND p.property_id = leads.property_id) AS owned_count,
           CAST(COALESCE((SELECT s.buyers FROM lead_sales s WHERE s.property_id = leads.property_id), 0) AS BIGINT) AS buyers,
           CAST(COALESCE((SELECT CASE WHEN s.sold_out THEN 1 ELSE 0 END FROM lead_sales s WHERE s.property_id = leads.property_id), 0) AS BIGINT) AS sold_out_flag
         FROM leads WHERE property_id = $1"
    );
    let row = state
        .db
        .fetch_optional(
            &sql,
            &[
                Param::I64(property_id),
                Param::Text(principal.subject.clone()),
            ],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("no lead {}", hex_id(property_id))))?;
    let owned = row.get::<i64>("owned_count")? > 0;
    let status: String = row.get("status")?;
    if status != "active" && !owned {
        // Quarantined leads are never sold: to everyone but past buyers they do not exist.
        return Err(Error::NotFound(format!("no lead {}", hex_id(property_id))));
    }
    let buyers: i64 = row.get("buyers")?;
    let sold_out = row.get::<i64>("sold_out_flag")? != 0;
    let detail =
        lead_detail_from_row(&row, &state.config.exclusive_kinds, owned, buyers, sold_out)?;
    state.events.publish(
        MarketplaceEventKind::View,
        &EventLead::from_row(property_id, &row)?,
        &principal.subject,
    );
    Ok(HttpResponse::Ok().json(detail))
}

fn lead_detail_from_row(
    row: &DbRow,
    exclusive_kinds: &[String],
    owned: bool,
    buyers: i64,
    sold_out: bool,
) -> Result<LeadDetail> {
    let mut summary = LeadSummary::from_row(row, exclusive_kinds)?;
    let contact_text = ContactText::from_row(row)?;
    let description: Option<String> = row.get("description")?;
    let json = |name: &str| -> Result<serde_json::Value> {
        let text: String = row.get(name)?;
        serde_json::from_str(&text).map_err(|e| Error::Internal(format!("{name}: {e}")))
    };
    let sources: String = row.get("sources")?;
    let (description, url, contact) = if owned {
        let title: Option<String> = row.get("title")?;
        summary.title = title;
        (
            description,
            Some(row.get::<String>("url")?),
            Some(Contact {
                name: contact_text.name,
                phone: contact_text.phone,
                email: contact_text.email,
            }),
        )
    } else {
        (description.map(|d| redact(&d, &contact_text)), None, None)
    };
    Ok(LeadDetail {
        summary,
        street_address: row.get("street_address")?,
        unit_number: row.get("unit_number")?,
        description,
        status: row.get("status")?,
        completeness: row.get("completeness")?,
        fraud_reasons: json("fraud_reasons_json")?,
        price_breakdown: json("price_breakdown_json")?,
        listing_count: row.get("listing_count")?,
        sources: sources
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        buyers,
        sold_out,
        owned,
        url,
        contact,
    })
}

// ---- cart ----

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CartItem {
    pub property_id: String,
    pub exclusive: bool,
    pub lead_price: i64,
    /// Milliseconds until the reservation lapses by itself.
    pub time_left_ms: u64,
    pub expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead: Option<LeadSummary>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cart {
    pub items: Vec<CartItem>,
    pub total_credits: i64,
}

fn expires_at(left: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds(left.as_millis().min(i64::MAX as u128) as i64)
}

/// Reserve a lead for a limited time. Exclusive leads: one agent at a time (409 while held).
#[utoipa::path(post, path = "/v1/cart/{property_id}", tag = "cart",
    params(("property_id" = String, Path, description = "16 hex digits")),
    responses((status = 201, body = CartItem), (status = 409, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
async fn reserve(
    state: State,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let property_id = parse_property_id(&path)?;
    let facts = lead_facts(&state, property_id).await?;
    if !facts.active {
        return Err(Error::NotFound(format!("no lead {}", hex_id(property_id))));
    }
    if owns(&state, &principal.subject, property_id).await? {
        return Err(Error::Conflict("you already bought this lead".into()));
    }
    if sales(&state, property_id).await?.1 {
        return Err(Error::Conflict("this lead is sold out".into()));
    }
    let outcome = state
        .reservations
        .reserve(
            &principal.subject,
            property_id,
            facts.exclusive,
            state.config.reservation_ttl,
        )
        .await?;
    match outcome {
        Reserve::Reserved { time_left } => {
            metrics::reservation("reserved");
            state.events.publish(
                MarketplaceEventKind::CartAdd,
                &facts.event,
                &principal.subject,
            );
            Ok(HttpResponse::Created().json(CartItem {
                property_id: hex_id(property_id),
                exclusive: facts.exclusive,
                lead_price: facts.lead_price,
                time_left_ms: time_left.as_millis() as u64,
                expires_at: expires_at(time_left),
                lead: None,
            }))
        }
        Reserve::HeldByOther { time_left } => {
            metrics::reservation("held_by_other");
            Err(Error::Conflict(format!(
                "another agent holds this exclusive lead for {}s more",
                time_left.as_secs().max(1)
            )))
        }
    }
}

/// The caller's cart with the time left on each reservation.
#[utoipa::path(get, path = "/v1/cart", tag = "cart",
    responses((status = 200, body = Cart), (status = 503, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
async fn cart(state: State, principal: Principal) -> Result<HttpResponse> {
    let entries = state.reservations.cart(&principal.subject).await?;
    let mut items = Vec::with_capacity(entries.len());
    let mut total = 0;
    for (property_id, left) in entries {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM leads WHERE property_id = $1");
        let Some(row) = state
            .db
            .fetch_optional(&sql, &[Param::I64(property_id)])
            .await?
        else {
            continue;
        };
        let lead = LeadSummary::from_row(&row, &state.config.exclusive_kinds)?;
        total += lead.lead_price;
        items.push(CartItem {
            property_id: hex_id(property_id),
            exclusive: lead.exclusive,
            lead_price: lead.lead_price,
            time_left_ms: left.as_millis() as u64,
            expires_at: expires_at(left),
            lead: Some(lead),
        });
    }
    Ok(HttpResponse::Ok().json(Cart {
        items,
        total_credits: total,
    }))
}

/// Release a reservation.
#[utoipa::path(delete, path = "/v1/cart/{property_id}", tag = "cart",
    params(("property_id" = String, Path, description = "16 hex digits")),
    responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
async fn release(
    state: State,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let property_id = parse_property_id(&path)?;
    if state
        .reservations
        .release(&principal.subject, property_id)
        .await?
    {
        metrics::reservation("released");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Error::NotFound(format!(
            "lead {} is not in your cart",
            hex_id(property_id)
        )))
    }
}

// ---- checkout and credits ----

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Leads to buy (each must be reserved in your cart); all of the cart when absent.
    #[serde(default)]
    pub property_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchasedLead {
    pub property_id: String,
    pub price_credits: i64,
    pub exclusive: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckoutResult {
    pub purchases: Vec<PurchasedLead>,
    pub total_credits: i64,
    pub balance: i64,
}

const MAX_IDEMPOTENCY_KEY: usize = 200;

/// Buy the reserved leads: credits spent and purchases recorded in one transaction, reservations
/// released. With `Idempotency-Key`, a repeated request returns the first answer.
#[utoipa::path(post, path = "/v1/checkout", tag = "checkout", request_body = CheckoutRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes a retried checkout safe")),
    responses((status = 201, body = CheckoutResult), (status = 402, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
async fn checkout(
    state: State,
    principal: Principal,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let agent = principal.subject.clone();
    let parsed: CheckoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CheckoutRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Error::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let key = match request.headers().get("idempotency-key") {
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
                .ok_or_else(|| {
                    Error::BadRequest(format!(
                        "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                    ))
                })?;
            Some(key.to_owned())
        }
        None => None,
    };
    let ids: Vec<i64> = match &parsed.property_ids {
        Some(ids) => {
            if ids.len() > 50 {
                return Err(Error::BadRequest("at most 50 leads per checkout".into()));
            }
            let mut parsed = ids
                .iter()
                .map(|id| parse_property_id(id))
                .collect::<Result<Vec<_>>>()?;
            parsed.sort_unstable();
            parsed.dedup();
            parsed
        }
        None => {
            let mut ids: Vec<i64> = state
                .reservations
                .cart(&agent)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    let request_hash = format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(
            ids.iter()
                .map(|id| hex_id(*id))
                .collect::<Vec<_>>()
                .join(",")
                .as_bytes()
        )
    );
    if let Some(key) = &key
        && let Some(replay) = stored_answer(&state, &agent, key, &request_hash).await?
    {
        return Ok(replay);
    }
    let outcome = buy(&state, &agent, &ids, key.as_deref(), &request_hash).await;
    match outcome {
        Ok(result) => {
            if let Some(catalog) = &state.catalog
                && let Err(error) = catalog.catch_up().await
            {
                // Committed all the same; the background refresh brings the catalogue up to date.
                tracing::warn!(%error, "catalogue not refreshed after checkout");
            }
            for item in &result.0.purchases {
                if let Ok(id) = parse_property_id(&item.property_id) {
                    // The purchase is committed; a reservations store that is down now only
                    // leaves the reservation to lapse by itself.
                    if let Err(error) = state.reservations.release(&agent, id).await {
                        tracing::warn!(%error, "reservation not released after checkout");
                    }
                }
            }
            for lead in &result.1 {
                state
                    .events
                    .publish(MarketplaceEventKind::Purchase, lead, &agent);
            }
            metrics::purchases(result.0.purchases.len() as u64);
            Ok(HttpResponse::Created().json(result.0))
        }
        Err(BuyError::Replay) => match &key {
            Some(key) => stored_answer(&state, &agent, key, &request_hash)
                .await?
                .ok_or_else(|| Error::Internal("idempotency key vanished".into())),
            None => Err(Error::Internal("replay without a key".into())),
        },
        Err(BuyError::Api(error)) => {
            // A refusal is an answer too: the same key replays it.
            if let Some(key) = &key
                && error.status_code_u16() < 500
                && !error.retryable()
            {
                let body = serde_json::to_string(&error.problem()).unwrap_or_default();
                state
                    .db
                    .execute(
                        "INSERT INTO idempotency_keys (agent_id, idempotency_key, request_hash, status_code, response, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agent_id, idempotency_key) DO NOTHING",
                        &[
                            Param::Text(agent.clone()),
                            Param::Text(key.clone()),
                            Param::Text(request_hash.clone()),
                            Param::I64(i64::from(error.status_code_u16())),
                            Param::Text(body),
                            Param::Time(Utc::now()),
                        ],
                    )
                    .await?;
            }
            Err(error)
        }
    }
}

async fn stored_answer(
    state: &AppState,
    agent: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<HttpResponse>> {
    let Some(row) = state
        .db
        .fetch_optional(
            "SELECT request_hash, CAST(status_code AS BIGINT) AS status_code, response FROM idempotency_keys WHERE agent_id = $1 AND idempotency_key = $2",
            &[Param::Text(agent.to_owned()), Param::Text(key.to_owned())],
        )
        .await?
    else {
        return Ok(None);
    };
    let stored_hash: String = row.get("request_hash")?;
    if stored_hash != request_hash {
        return Err(Error::Unprocessable(
            "this Idempotency-Key was used for a different checkout".into(),
        ));
    }
    let status: i64 = row.get("status_code")?;
    let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
    let body: String = row.get("response")?;
    let content_type = if status.is_success() {
        "application/json"
    } else {
        PROBLEM_JSON
    };
    Ok(Some(
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
            .insert_header(("idempotent-replayed", "true"))
            .body(body),
    ))
}

enum BuyError {
    /// Another request with the same key committed first: answer with its result.
    Replay,
    Api(Error),
}

impl From<Error> for BuyError {
    fn from(error: Error) -> Self {
        BuyError::Api(error)
    }
}

/// The checkout transaction.
async fn buy(
    state: &AppState,
    agent: &str,
    ids: &[i64],
    key: Option<&str>,
    request_hash: &str,
) -> Result<(CheckoutResult, Vec<EventLead>), BuyError> {
    if ids.is_empty() {
        return Err(Error::BadRequest("nothing to buy: your cart is empty".into()).into());
    }
    // Outside the transaction: the lead facts and that each lead is reserved by the caller.
    let mut facts = Vec::with_capacity(ids.len());
    for id in ids {
        let lead = lead_facts(state, *id).await?;
        if !lead.active {
            return Err(Error::Conflict(format!("lead {} is not for sale", hex_id(*id))).into());
        }
        if state
            .reservations
            .time_left(agent, *id, lead.exclusive)
            .await?
            .is_none()
        {
            return Err(Error::Conflict(format!(
                "lead {} is not reserved for you: reserve it first (POST /v1/cart/{})",
                hex_id(*id),
                hex_id(*id)
            ))
            .into());
        }
        facts.push(lead);
    }
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    tx.execute(
        "INSERT INTO agents (agent_id, credits, created_at) VALUES ($1, 0, $2) ON CONFLICT (agent_id) DO NOTHING",
        &[Param::Text(agent.to_owned()), Param::Time(now)],
    )
    .await?;
    let mut total = 0i64;
    let mut purchases = Vec::with_capacity(facts.len());
    for lead in &facts {
        let id = lead.event.property_id;
        let max_buyers = if lead.exclusive {
            1
        } else {
            i64::from(state.config.shared_max_buyers)
        };
        let inserted = tx
            .execute(
                "INSERT INTO purchases (agent_id, property_id, price_credits, exclusive, purchased_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent_id, property_id) DO NOTHING",
                &[
                    Param::Text(agent.to_owned()),
                    Param::I64(id),
                    Param::I64(lead.lead_price),
                    Param::Bool(lead.exclusive),
                    Param::Time(now),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(Error::Conflict(format!("you already bought lead {}", hex_id(id))).into());
        }
        // Counts the buyer only while the lead is not sold out; the row lock (Postgres) or the
        // write lock (SQLite) makes concurrent checkouts of one lead take turns here.
        let counted = tx
            .execute(
                "INSERT INTO lead_sales (property_id, buyers, exclusive, sold_out) VALUES ($1, 1, $2, $3)
                 ON CONFLICT (property_id) DO UPDATE
                 SET buyers = lead_sales.buyers + 1, sold_out = (lead_sales.buyers + 1 >= $4)
                 WHERE NOT lead_sales.sold_out",
                &[
                    Param::I64(id),
                    Param::Bool(lead.exclusive),
                    Param::Bool(max_buyers <= 1),
                    Param::I64(max_buyers),
                ],
            )
            .await?;
        if counted == 0 {
            return Err(Error::Conflict(format!("lead {} is sold out", hex_id(id))).into());
        }
        total += lead.lead_price;
        purchases.push(PurchasedLead {
            property_id: hex_id(id),
            price_credits: lead.lead_price,
            exclusive: lead.exclusive,
        });
    }
    let spent = tx
        .execute(
            "UPDATE agents SET credits = credits - $2 WHERE agent_id = $1 AND credits >= $2",
            &[Param::Text(agent.to_owned()), Param::I64(total)],
        )
        .await?;
    if spent == 0 {
        let row = tx
            .fetch_optional(
                "SELECT credits FROM agents WHERE agent_id = $1",
                &[Param::Text(agent.to_owned())],
            )
            .await?;
        let balance: i64 = match row {
            Some(row) => row.get("credits")?,
            None => 0,
        };
        return Err(Error::InsufficientCredits(format!(
            "this checkout costs {total} credits; your balance is {balance}"
        ))
        .into());
    }
    let row = tx
        .fetch_optional(
            "SELECT credits FROM agents WHERE agent_id = $1",
            &[Param::Text(agent.to_owned())],
        )
        .await?
        .ok_or_else(|| Error::Internal("agent row vanished".into()))?;
    let balance: i64 = row.get("credits")?;
    let mut running = balance + total;
    for item in &purchases {
        running -= item.price_credits;
        tx.execute(
            "INSERT INTO credit_ledger (agent_id, delta, balance_after, reason, property_id, actor, at)
             VALUES ($1, $2, $3, 'purchase', $4, $1, $5)",
            &[
                Param::Text(agent.to_owned()),
                Param::I64(-item.price_credits),
                Param::I64(running),
                Param::I64(parse_property_id(&item.property_id)?),
                Param::Time(now),
            ],
        )
        .await?;
    }
    let result = CheckoutResult {
        purchases,
        total_credits: total,
        balance,
    };
    if let Some(key) = key {
        let body = serde_json::to_string(&result)
            .map_err(|e| Error::Internal(format!("checkout answer as JSON: {e}")))?;
        let stored = tx
            .execute(
                "INSERT INTO idempotency_keys (agent_id, idempotency_key, request_hash, status_code, response, created_at)
                 VALUES ($1, $2, $3, 201, $4, $5) ON CONFLICT (agent_id, idempotency_key) DO NOTHING",
                &[
                    Param::Text(agent.to_owned()),
                    Param::Text(key.to_owned()),
                    Param::Text(request_hash.to_owned()),
                    Param::Text(body),
                    Param::Time(now),
                ],
            )
            .await?;
        if stored == 0 {
            // A concurrent request with this key committed first; ours rolls back.
            return Err(BuyError::Replay);
        }
    }
    tx.commit().await?;
    Ok((result, facts.into_iter().map(|f| f.event).collect()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    pub agent_id: String,
    pub balance: i64,
}

async fn balance_of(state: &AppState, agent: &str) -> Result<i64> {
    let row = state
        .db
        .fetch_optional(
            "SELECT credits FROM agents WHERE agent_id = $1",
            &[Param::Text(agent.to_owned())],
        )
        .await?;
    match row {
        Some(row) => row.get("credits"),
        None => Ok(0),
    }
}

/// The caller's credit balance.
#[utoipa::path(get, path = "/v1/credits", tag = "credits", responses((status = 200, body = Balance)),
    security(("bearer" = []), ("api_key" = [])))]
async fn balance(state: State, principal: Principal) -> Result<HttpResponse> {
    let balance = balance_of(&state, &principal.subject).await?;
    Ok(HttpResponse::Ok().json(Balance {
        agent_id: principal.subject,
        balance,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// 1 to 200 (default 50).
    limit: Option<u32>,
    /// Entries older than this id (the `id` of the last entry of the previous page).
    before: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    pub id: i64,
    pub delta: i64,
    pub balance_after: i64,
    /// `top_up` or `purchase`.
    pub reason: String,
    pub property_id: Option<String>,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// The caller's credit history, newest first.
#[utoipa::path(get, path = "/v1/credits/history", tag = "credits", params(HistoryQuery),
    responses((status = 200, body = Vec<LedgerEntry>)), security(("bearer" = []), ("api_key" = [])))]
async fn history(
    state: State,
    principal: Principal,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::BadRequest("limit must be between 1 and 200".into()));
    }
    let rows = state
        .db
        .fetch_all(
            "SELECT id, delta, balance_after, reason, property_id, actor, at FROM credit_ledger
             WHERE agent_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            &[
                Param::Text(principal.subject.clone()),
                Param::I64(query.before.unwrap_or(i64::MAX)),
                Param::I64(i64::from(limit)),
            ],
        )
        .await?;
    let entries = rows
        .iter()
        .map(|row| {
            Ok(LedgerEntry {
                id: row.get("id")?,
                delta: row.get("delta")?,
                balance_after: row.get("balance_after")?,
                reason: row.get("reason")?,
                property_id: row.get::<Option<i64>>("property_id")?.map(hex_id),
                actor: row.get("actor")?,
                at: row.get("at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HttpResponse::Ok().json(entries))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUp {
    pub agent_id: String,
    /// 1 to 1,000,000 credits.
    pub amount: i64,
}

/// Add credits to an agent (admin only).
#[utoipa::path(post, path = "/v1/admin/credits", tag = "credits", request_body = TopUp,
    responses((status = 200, body = Balance), (status = 403, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
async fn top_up(
    state: State,
    principal: Principal,
    body: web::Json<TopUp>,
) -> Result<HttpResponse> {
    principal.require_admin()?;
    let TopUp { agent_id, amount } = body.into_inner();
    if agent_id.is_empty() || agent_id.len() > 128 {
        return Err(Error::BadRequest(
            "agent_id must be 1 to 128 characters".into(),
        ));
    }
    if !(1..=1_000_000).contains(&amount) {
        return Err(Error::BadRequest(
            "amount must be between 1 and 1,000,000".into(),
        ));
    }
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    tx.execute(
        "INSERT INTO agents (agent_id, credits, created_at) VALUES ($1, 0, $2) ON CONFLICT (agent_id) DO NOTHING",
        &[Param::Text(agent_id.clone()), Param::Time(now)],
    )
    .await?;
    tx.execute(
        "UPDATE agents SET credits = credits + $2 WHERE agent_id = $1",
        &[Param::Text(agent_id.clone()), Param::I64(amount)],
    )
    .await?;
    let row = tx
        .fetch_optional(
            "SELECT credits FROM agents WHERE agent_id = $1",
            &[Param::Text(agent_id.clone())],
        )
        .await?
        .ok_or_else(|| Error::Internal("agent row vanished".into()))?;
    let balance: i64 = row.get("credits")?;
    tx.execute(
        "INSERT INTO credit_ledger (agent_id, delta, balance_after, reason, property_id, actor, at)
         VALUES ($1, $2, $3, 'top_up', NULL, $4, $5)",
        &[
            Param::Text(agent_id.clone()),
            Param::I64(amount),
            Param::I64(balance),
            Param::Text(principal.subject.clone()),
            Param::Time(now),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(Balance { agent_id, balance }))
}

// ---- market heatmap and recommendations ----

pub(crate) use crate::market::{heatmap, recommendations};

#[derive(OpenApi)]
#[openapi(
    info(title = "AIQLeads marketplace API", description = "Find, reserve and buy real-estate leads."),
    paths(healthz, readyz, prometheus, search_leads, lead_detail, reserve, cart, release, checkout,
          balance, history, top_up, crate::market::heatmap, crate::market::recommendations),
    components(schemas(Problem, Filters, Sort, LeadSummary, SearchPage, ParsedQuery, LeadDetail, Contact,
        CartItem, Cart, CheckoutRequest, CheckoutResult, PurchasedLead, Balance, LedgerEntry, TopUp, Health,
        crate::market::Heatmap, crate::market::HeatCell, crate::market::Recommendations, crate::market::Recommendation)),
    modifiers(&SecuritySchemes),
    tags((name = "leads"), (name = "cart"), (name = "checkout"), (name = "credits"), (name = "market"), (name = "operations"))
)]
pub(crate) struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

//! Market views: a heatmap of H3 cells over a bounding box, and recommendations similar to what an
//! agent bought.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, web};
use chrono::Utc;
use h3o::{CellIndex, Resolution};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::db::Param;
use crate::error::Problem;
use crate::search::{LeadSummary, SUMMARY_COLUMNS, Sql, haversine_miles};
use crate::state::AppState;
use crate::{Error, Result};

/// Leads a heatmap may aggregate (a larger box is refused: ask for a smaller one).
const MAX_HEATMAP_LEADS: i64 = 250_000;
/// Window of buyer activity counted as demand.
const DEMAND_DAYS: i64 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HeatmapQuery {
    min_lat: f64,
    min_lon: f64,
    max_lat: f64,
    max_lon: f64,
    /// H3 resolution of the cells, 0 to 9 (default 7).
    resolution: Option<u8>,
    /// `rent` or `sale` (prices of the two are not comparable; default: both counted, price per
    /// square foot from sales only).
    kind: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HeatCell {
    /// H3 cell in hex.
    pub cell: String,
    pub count: i64,
    /// Median list price per square foot of the leads with a price and an area.
    pub median_price_per_sqft: Option<f64>,
    /// Views, cart adds and purchases of the cell's leads in the last 30 days.
    pub demand: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Heatmap {
    pub resolution: u8,
    pub cells: Vec<HeatCell>,
}

/// Per-cell aggregates over a bounding box.
#[utoipa::path(get, path = "/v1/market/heatmap", tag = "market", params(HeatmapQuery),
    responses((status = 200, body = Heatmap), (status = 400, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub(crate) async fn heatmap(
    state: web::Data<AppState>,
    _principal: Principal,
    query: web::Query<HeatmapQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let resolution = q.resolution.unwrap_or(7);
    let res = Resolution::try_from(resolution)
        .ok()
        .filter(|r| *r <= Resolution::Nine)
        .ok_or_else(|| Error::BadRequest("resolution must be between 0 and 9".into()))?;
    let lat_ok = |v: f64| v.is_finite() && (-90.0..=90.0).contains(&v);
    let lon_ok = |v: f64| v.is_finite() && (-180.0..=180.0).contains(&v);
    if !(lat_ok(q.min_lat) && lat_ok(q.max_lat) && lon_ok(q.min_lon) && lon_ok(q.max_lon))
        || q.min_lat > q.max_lat
        || q.min_lon > q.max_lon
    {
        return Err(Error::BadRequest(
            "the box needs min_lat <= max_lat in [-90, 90] and min_lon <= max_lon in [-180, 180]"
                .into(),
        ));
    }
    let mut sql = Sql::new();
    let ps: Vec<String> = [q.min_lat, q.max_lat, q.min_lon, q.max_lon]
        .into_iter()
        .map(|v| sql.bind(Param::F64(v)))
        .collect();
    sql.push(format!(
        "latitude BETWEEN {} AND {} AND longitude BETWEEN {} AND {} AND h3_cell IS NOT NULL",
        ps[0], ps[1], ps[2], ps[3]
    ));
    if let Some(kind) = &q.kind {
        if kind != "rent" && kind != "sale" {
            return Err(Error::BadRequest("kind must be `rent` or `sale`".into()));
        }
        let p = sql.bind(Param::Text(kind.clone()));
        sql.push(format!("listing_kind = {p}"));
    }
    let limit = sql.bind(Param::I64(MAX_HEATMAP_LEADS + 1));
    let rows = state
        .db
        .fetch_all(
            &format!(
                "SELECT property_id, h3_cell, list_price, living_area_sqft, listing_kind FROM leads WHERE {} LIMIT {limit}",
                sql.where_clause()
            ),
            &sql.params,
        )
        .await?;
    if rows.len() as i64 > MAX_HEATMAP_LEADS {
        return Err(Error::BadRequest(format!(
            "more than {MAX_HEATMAP_LEADS} leads in this box: ask for a smaller one"
        )));
    }
    // Demand of the box's leads: buyer activity recorded in this database.
    let since = Utc::now() - chrono::Duration::days(DEMAND_DAYS);
    let mut activity: HashMap<i64, i64> = HashMap::new();
    for (table, time_column) in [("purchases", "purchased_at"), ("marketplace_events", "at")] {
        let mut demand_sql = Sql::empty();
        demand_sql.params = sql.params[..4].to_vec();
        let since_p = demand_sql.bind(Param::Time(since));
        let text = format!(
            "SELECT t.property_id AS property_id, COUNT(*) AS n FROM {table} t JOIN leads l ON l.property_id = t.property_id
             WHERE l.latitude BETWEEN $1 AND $2 AND l.longitude BETWEEN $3 AND $4 AND t.{time_column} >= {since_p}
             GROUP BY t.property_id"
        );
        for row in state.db.fetch_all(&text, &demand_sql.params).await? {
            *activity.entry(row.get("property_id")?).or_default() += row.get::<i64>("n")?;
        }
    }
    struct Acc {
        count: i64,
        per_sqft: Vec<f64>,
        demand: i64,
    }
    let mut cells: HashMap<u64, Acc> = HashMap::new();
    for row in &rows {
        let Some(cell) = row
            .get::<Option<i64>>("h3_cell")?
            .and_then(|c| CellIndex::try_from(c as u64).ok())
            .and_then(|c| c.parent(res))
        else {
            continue;
        };
        let acc = cells.entry(u64::from(cell)).or_insert(Acc {
            count: 0,
            per_sqft: Vec::new(),
            demand: 0,
        });
        acc.count += 1;
        let id: i64 = row.get("property_id")?;
        acc.demand += activity.get(&id).copied().unwrap_or(0);
        let kind: Option<String> = row.get("listing_kind")?;
        let price: Option<f64> = row.get("list_price")?;
        let area: Option<i64> = row.get("living_area_sqft")?;
        let comparable = q.kind.is_some() || kind.as_deref() == Some("sale");
        if let (true, Some(price), Some(area)) = (comparable, price, area)
            && area > 0
        {
            acc.per_sqft.push(price / area as f64);
        }
    }
    let mut out: Vec<HeatCell> = cells
        .into_iter()
        .map(|(cell, mut acc)| HeatCell {
            cell: format!("{cell:x}"),
            count: acc.count,
            median_price_per_sqft: median(&mut acc.per_sqft),
            demand: acc.demand,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.cell.cmp(&b.cell)));
    Ok(HttpResponse::Ok().json(Heatmap {
        resolution,
        cells: out,
    }))
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RecommendationQuery {
    /// 1 to 50 (default 10).
    limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Recommendation {
    pub lead: LeadSummary,
    /// Similarity to the agent's purchases, 0 to 1.
    pub score: f64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Recommendations {
    /// `purchases` (similar to what the agent bought, and less strongly to what they viewed or
    /// reserved), `behaviour` (no purchases yet: similar to what they viewed or reserved), or
    /// `quality` (nothing yet: the best leads).
    pub basis: String,
    pub items: Vec<Recommendation>,
}

/// Candidates scored per recommendation request.
const MAX_CANDIDATES: i64 = 5_000;

/// A lead as a point in feature space: location (in units of 25 miles), log2 price within its kind,
/// log2 area, bedrooms, and its type and kind (a mismatch costs one unit each).
struct Features {
    lat: f64,
    lon: f64,
    log_price: Option<f64>,
    log_area: Option<f64>,
    beds: Option<f64>,
    kind: Option<String>,
    property_type: Option<String>,
}

impl Features {
    fn of(lead: &LeadSummary) -> Option<Features> {
        Some(Features {
            lat: lead.latitude?,
            lon: lead.longitude?,
            log_price: lead.list_price.filter(|p| *p > 0.0).map(f64::log2),
            log_area: lead
                .living_area_sqft
                .filter(|a| *a > 0)
                .map(|a| (a as f64).log2()),
            beds: lead.bedrooms_total.map(|b| b as f64),
            kind: lead.listing_kind.clone(),
            property_type: lead.property_type.clone(),
        })
    }

    /// Distance in feature space; missing values count as a half-unit difference.
    fn distance(&self, other: &Features) -> f64 {
        let miles = haversine_miles(self.lat, self.lon, other.lat, other.lon) / 25.0;
        let diff = |a: Option<f64>, b: Option<f64>, scale: f64| match (a, b) {
            (Some(a), Some(b)) => ((a - b) / scale).powi(2),
            _ => 0.25,
        };
        let mismatch = |a: &Option<String>, b: &Option<String>| if a == b { 0.0 } else { 1.0 };
        (miles.powi(2)
            + diff(self.log_price, other.log_price, 1.0)
            + diff(self.log_area, other.log_area, 1.0)
            + diff(self.beds, other.beds, 2.0)
            + mismatch(&self.kind, &other.kind)
            + mismatch(&self.property_type, &other.property_type))
        .sqrt()
    }
}

/// Leads like the ones the agent bought (and, less strongly, viewed or reserved), excluding what
/// they own.
#[utoipa::path(get, path = "/v1/recommendations", tag = "market", params(RecommendationQuery),
    responses((status = 200, body = Recommendations)), security(("bearer" = []), ("api_key" = [])))]
pub(crate) async fn recommendations(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<RecommendationQuery>,
) -> Result<HttpResponse> {
    let limit = query.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(Error::BadRequest("limit must be between 1 and 50".into()));
    }
    let kinds = &state.config.exclusive_kinds;
    let owned_rows = state
        .db
        .fetch_all(
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM leads WHERE property_id IN
                 (SELECT property_id FROM purchases WHERE agent_id = $1 ORDER BY id DESC LIMIT 50)"
            ),
            &[Param::Text(principal.subject.clone())],
        )
        .await?;
    let owned: Vec<LeadSummary> = owned_rows
        .iter()
        .map(|r| LeadSummary::from_row(r, kinds))
        .collect::<Result<_>>()?;
    // Behaviour: leads the agent recently viewed or reserved (recorded in `marketplace_events` by
    // the embedded default; with Kafka the pricing side has them and this list is empty).
    let seen_rows = state
        .db
        .fetch_all(
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM leads WHERE property_id IN
                 (SELECT property_id FROM marketplace_events WHERE agent = $1 AND kind IN ('view', 'cart_add')
                  ORDER BY id DESC LIMIT 50)"
            ),
            &[Param::Text(state.events.pseudonym(&principal.subject))],
        )
        .await?;
    let seen: Vec<LeadSummary> = seen_rows
        .iter()
        .map(|r| LeadSummary::from_row(r, kinds))
        .collect::<Result<_>>()?;
    // (features, weight): a lead looked at counts less than a lead bought.
    let profile: Vec<(Features, f64)> = owned
        .iter()
        .filter_map(|l| Features::of(l).map(|f| (f, 1.0)))
        .chain(
            seen.iter()
                .filter_map(|l| Features::of(l).map(|f| (f, 1.5))),
        )
        .collect();
    let mut sql = Sql::new();
    let agent = sql.bind(Param::Text(principal.subject.clone()));
    sql.push(format!(
        "property_id NOT IN (SELECT property_id FROM purchases WHERE agent_id = {agent})"
    ));
    let basis = if profile.is_empty() {
        "quality"
    } else {
        // Candidates from the states the agent buys in or looks at.
        let states: HashSet<&str> = owned
            .iter()
            .chain(&seen)
            .filter_map(|l| l.state_or_province.as_deref())
            .collect();
        if !states.is_empty() {
            let ps: Vec<String> = states
                .into_iter()
                .map(|s| sql.bind(Param::Text(s.to_owned())))
                .collect();
            sql.push(format!("state_or_province IN ({})", ps.join(", ")));
        }
        if owned.is_empty() {
            "behaviour"
        } else {
            "purchases"
        }
    };
    let lp = sql.bind(Param::I64(MAX_CANDIDATES));
    let rows = state
        .db
        .fetch_all(
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM leads WHERE {} ORDER BY quality_score DESC, property_id LIMIT {lp}",
                sql.where_clause()
            ),
            &sql.params,
        )
        .await?;
    let mut scored: Vec<Recommendation> = Vec::with_capacity(rows.len());
    for row in &rows {
        let lead = LeadSummary::from_row(row, kinds)?;
        let score = if profile.is_empty() {
            lead.quality_score
        } else {
            // Nearest purchase in feature space: one agent may buy in two unlike markets.
            let Some(features) = Features::of(&lead) else {
                continue;
            };
            let nearest = profile
                .iter()
                .map(|(p, weight)| p.distance(&features) * weight)
                .fold(f64::INFINITY, f64::min);
            1.0 / (1.0 + nearest)
        };
        scored.push(Recommendation { lead, score });
    }
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.lead.property_id.cmp(&b.lead.property_id))
    });
    scored.truncate(limit as usize);
    Ok(HttpResponse::Ok().json(Recommendations {
        basis: basis.to_owned(),
        items: scored,
    }))
}

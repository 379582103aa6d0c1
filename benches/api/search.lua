-- Mixed searches: filters, radius (H3 + haversine), full text, natural language, several sorts.
local token = os.getenv("AIQ_BENCH_TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token
local paths = {
  "/v1/leads?kind=sale&state=TX&max_price=400000&min_beds=3&sort=price_asc&limit=20",
  "/v1/leads?lat=30.2672&lon=-97.7431&radius_miles=3&sort=distance&limit=20",
  "/v1/leads?lat=41.8781&lon=-87.6298&radius_miles=5&kind=rent&sort=price_asc&limit=20",
  "/v1/leads?text=fireplace%20basement&state=WA&limit=20",
  "/v1/leads?city=denver&property_type=condo&sort=newest&limit=20",
  "/v1/leads?q=3-bedroom%20house%20under%20%24300k%20within%205%20miles%20of%20downtown%20Austin",
  "/v1/leads?postal_code=33130&max_fraud_score=0.3&sort=quality&limit=20",
  "/v1/leads?kind=rent&min_price=1500&max_price=2500&max_age_days=7&limit=20",
}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end

#!/usr/bin/env python3
"""Build the `aiqleads demo` sample site and the pipeline test fixtures from real listing data.

Run from the repository root (Python 3.11, standard library only):

    python3 scripts/make_demo_sample.py            # write jobs/demo-sample/ and jobs/tests/fixtures/
    python3 scripts/make_demo_sample.py --check    # regenerate in memory and fail if the files differ

Inputs are the real tables and saved pages in ../shared/data (see shared/data/PROVENANCE.md):
  - tables/craigslist_housing_2022_*.csv (scraped Craigslist apa postings, mid 2022)
  - tables/fsbo_forsalebyowner_2023_ca.csv, tables/kc_house_sales_2014_2015.csv (sale listings)
  - html/craigslist/cl_2022_post_apa_*.html (2022 posting markup, copied structure)
  - html/craigslist/cl_2026_search_apa_milwaukee_wauwatosa.html (current search markup)
  - html/craigslist/cl_2022_blocked_response.html, cl_2009_post_expired.html (served verbatim)

Everything is deterministic: one fixed seed, rows sorted before sampling, no clock reads. Every value
that is not copied verbatim from a real row is listed under `derived_fields` in the ground truth.
"""

from __future__ import annotations

import argparse
import ast
import csv
import html
import json
import math
import random
import re
import statistics
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

SEED = 20220805
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
SAMPLE_DIR = REPO / "jobs" / "demo-sample"
FIXTURE_DIR = REPO / "jobs" / "tests" / "fixtures"

# Regions used by the demo site: table name, default city, state, UTC offset of the posted times in
# August 2022 (the tables hold local wall-clock times).
DEMO_REGIONS = ["providence", "hartford", "dallas"]
REGIONS = {
    "providence": ("Providence", "RI", -4),
    "hartford": ("Hartford", "CT", -4),
    "dallas": ("Dallas", "TX", -5),
    "muncie": ("Muncie", "IN", -4),
    "sanmarcos": ("San Marcos", "TX", -5),
}
STATE_BY_FIPS = {"09": "CT", "44": "RI", "25": "MA", "48": "TX", "18": "IN"}

# How far apart (metres) two rows that are meant to be different properties must be, so that no
# dedupe rule based on location can merge them by accident.
MIN_SEPARATION_M = 150.0
BODY_LIMIT = 600
FIXTURE_BODY_LIMIT = 400
SEARCH_PAGE_SIZE = 40

# Words that mark a real row as possibly fraudulent or special; such rows are not used as "clean"
# listings because the fraud stage could rightly flag them.
SUSPICIOUS_BODY = re.compile(
    r"wire|western union|moneygram|money order|gift card|zelle|cash ?app|out of (the )?(country|town)|"
    r"missionary|mail (you )?the key|keys? (will be )?(mailed|sent)|cashier|paypal|venmo",
    re.IGNORECASE,
)
JUNK_TITLE = re.compile(r"^[^A-Za-z0-9]|[@#+*]{2,}")


# ---------------------------------------------------------------------------------------------------
# Reading the real tables


@dataclass
class Row:
    region: str
    post_id: str
    title: str
    price: int
    neighborhood: str | None
    map_address: str | None
    street_address: str | None
    latitude: float | None
    longitude: float | None
    accuracy: str | None
    posted: str  # "2022-08-05 21:04", local wall-clock time
    updated: str | None
    available: str | None
    housing_type: str | None
    bedrooms: int | None
    bathrooms_text: str | None
    sqft: int | None
    laundry: str | None
    parking: str | None
    rent_period: str | None
    flags: dict[str, bool]
    body: list[str]
    url: str
    geoid: str | None

    @property
    def bathrooms(self) -> float | None:
        try:
            return float(self.bathrooms_text) if self.bathrooms_text else None
        except ValueError:
            return None

    @property
    def slug(self) -> str:
        return self.url.rstrip("/").split("/")[-2]

    @property
    def city(self) -> str:
        return city_from_slug(self.slug, self.title) or REGIONS[self.region][0]

    @property
    def state(self) -> str:
        if self.geoid and self.geoid[:2] in STATE_BY_FIPS:
            return STATE_BY_FIPS[self.geoid[:2]]
        return REGIONS[self.region][1]


def na(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "NA") else value


def to_int(value: str) -> int | None:
    value = na(value) or ""
    try:
        return int(float(value))
    except ValueError:
        return None


def to_float(value: str) -> float | None:
    value = na(value) or ""
    try:
        return float(value)
    except ValueError:
        return None


def parse_body(text: str) -> list[str]:
    """posting_body is a Python list literal of paragraphs."""
    try:
        parts = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    if not isinstance(parts, list):
        return []
    out = []
    for part in parts:
        cleaned = " ".join(str(part).replace("\xa0", " ").split())
        if cleaned and cleaned != "QR Code Link to This Post":
            out.append(cleaned)
    return out


def load_craigslist(data: Path) -> dict[str, list[Row]]:
    by_region: dict[str, list[Row]] = {}
    for region in REGIONS:
        path = data / "tables" / f"craigslist_housing_2022_{region}.csv"
        rows = []
        with path.open(newline="", encoding="utf-8") as handle:
            for rec in csv.DictReader(handle):
                price = to_int(rec["price"])
                if price is None:
                    continue
                flags = {
                    key: rec[key] == "True"
                    for key in ("cats_ok", "dogs_ok", "no_smoking", "furnished", "wheelchair_access", "AC", "EV_charging")
                }
                rows.append(
                    Row(
                        region=region,
                        post_id=rec["post_id"].strip(),
                        title=" ".join(rec["title"].split()),
                        price=price,
                        neighborhood=na(rec["neighborhood"]),
                        map_address=na(rec["map_address"]),
                        street_address=na(rec["street_address"]),
                        latitude=to_float(rec["latitude"]),
                        longitude=to_float(rec["longitude"]),
                        accuracy=na(rec["data_accuracy"]),
                        posted=rec["posted"].strip(),
                        updated=na(rec["updated"]),
                        available=na(rec["available"]),
                        housing_type=na(rec["housing_type"]),
                        bedrooms=to_int(rec["bedrooms"]),
                        bathrooms_text=na(rec["bathrooms"]),
                        sqft=to_int(rec["sqft"]),
                        laundry=na(rec["laundry"]),
                        parking=na(rec["parking"]),
                        rent_period=na(rec["rent_period"]),
                        flags=flags,
                        body=parse_body(rec["posting_body"]),
                        url=rec["url"].strip(),
                        geoid=na(rec["GEOID"]),
                    )
                )
        rows.sort(key=lambda r: r.post_id)
        by_region[region] = rows
    return by_region


# ---------------------------------------------------------------------------------------------------
# Small helpers


def slug_tokens(text: str) -> list[str]:
    """Craigslist-like slug words: lower case, punctuation removed inside words, one-letter words dropped."""
    words = []
    for word in text.lower().replace("\u2019", "").replace("'", "").split():
        cleaned = re.sub(r"[^a-z0-9]+", "", word)
        if len(cleaned) > 1:
            words.append(cleaned)
    return words


def make_slug(city: str, title: str) -> str:
    """The `<city>-<title words>` slug of a posting URL, capped at 39 characters as observed."""
    parts = slug_tokens(city)
    slug = "-".join(parts)
    for word in slug_tokens(title):
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > 39:
            break
        slug = candidate
    return slug or "posting"


def city_from_slug(slug: str, title: str) -> str | None:
    """The city part of a real posting slug: the words before the title words begin."""
    words = slug.split("-")
    title_words = [w for w in re.findall(r"[a-z0-9]+", title.lower().replace("'", "")) if len(w) > 1]
    for i in range(1, len(words)):
        rest = words[i:]
        if rest == title_words[: len(rest)]:
            return " ".join(words[:i]).title()
    return None


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def jitter(lat: float, lon: float, rng: random.Random, low_m: float = 2.0, high_m: float = 8.0) -> tuple[float, float]:
    """Move a point by a few metres in a random direction (GPS noise between two posts of one unit)."""
    dist = rng.uniform(low_m, high_m)
    angle = rng.uniform(0, 2 * math.pi)
    dlat = dist * math.cos(angle) / 111_320.0
    dlon = dist * math.sin(angle) / (111_320.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def local_dt(posted: str, region: str) -> datetime:
    offset = REGIONS[region][2]
    naive = datetime.strptime(posted, "%Y-%m-%d %H:%M")
    return naive.replace(tzinfo=timezone(timedelta(hours=offset)))


def iso_local(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S%z")


def iso_utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(value: int) -> str:
    return f"${value:,}"


def trim_body(paragraphs: list[str], limit: int) -> list[str]:
    """Keep whole paragraphs up to `limit` characters; cut the last one at a word boundary."""
    out: list[str] = []
    used = 0
    for para in paragraphs:
        if used + len(para) <= limit:
            out.append(para)
            used += len(para)
            continue
        room = limit - used
        if room > 80:
            cut = para[:room].rsplit(" ", 1)[0].rstrip(",;:-")
            out.append(cut + " ...")
        break
    return out or [paragraphs[0][:limit].rsplit(" ", 1)[0] + " ..."] if paragraphs else []


def bath_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def region_medians(rows: list[Row]) -> dict[int, int]:
    """Median monthly rent by bedroom count over a region's monthly, priced rows."""
    groups: dict[int, list[int]] = {}
    for row in rows:
        if row.rent_period == "monthly" and row.bedrooms is not None and 200 <= row.price <= 20000:
            groups.setdefault(row.bedrooms, []).append(row.price)
    return {beds: int(statistics.median(prices)) for beds, prices in groups.items() if len(prices) >= 5}


def is_clean(row: Row, medians: dict[int, int], integer_baths: bool) -> bool:
    """A real row that reads as an ordinary, honest, complete rental listing."""
    if row.latitude is None or row.longitude is None or row.accuracy is None:
        return False
    if row.accuracy not in ("5", "10", "15", "20", "22"):
        return False
    if row.rent_period != "monthly" or row.bedrooms is None or row.bathrooms is None:
        return False
    if integer_baths and not float(row.bathrooms).is_integer():
        return False
    if row.housing_type not in ("apartment", "house", "townhouse", "condo", "duplex", "flat", "loft"):
        return False
    median = medians.get(row.bedrooms)
    if median is None or not (0.6 * median <= row.price <= 1.8 * median):
        return False
    if not row.body or sum(len(p) for p in row.body) < 120 or SUSPICIOUS_BODY.search(" ".join(row.body)):
        return False
    if JUNK_TITLE.search(row.title) or len(row.title) < 8:
        return False
    if city_from_slug(row.slug, row.title) is None:
        return False
    if "$" in row.title:
        return False
    return True


class Spacing:
    """Remembers chosen points so that unrelated properties are never within MIN_SEPARATION_M."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def free(self, lat: float, lon: float) -> bool:
        return all(haversine_m(lat, lon, a, b) >= MIN_SEPARATION_M for a, b in self.points)

    def take(self, lat: float, lon: float) -> None:
        self.points.append((lat, lon))


def exclusive_repost_groups(rows: list[Row], medians: dict[int, int]) -> list[list[Row]]:
    """True reposts in a real table: rows with the same coordinates, title, beds, baths and size under
    different post ids, posted at different times, and no other row at those coordinates (so the
    group is one unit, not several units of one apartment complex)."""
    at_point: dict[tuple[float, float], list[Row]] = {}
    for row in rows:
        if row.latitude is not None and row.longitude is not None:
            at_point.setdefault((row.latitude, row.longitude), []).append(row)
    groups = []
    for point, members in sorted(at_point.items()):
        if not 2 <= len(members) <= 3:
            continue
        keys = {(m.title.lower(), m.bedrooms, m.bathrooms_text, m.sqft) for m in members}
        if len(keys) != 1:
            continue
        if len({m.posted[:10] for m in members}) != len(members):
            continue  # several posts in one minute/day look like spam bursts, not reposts
        if not all(is_clean(m, medians, integer_baths=True) for m in members):
            continue
        groups.append(sorted(members, key=lambda m: m.posted))
    return groups


# ---------------------------------------------------------------------------------------------------
# Postings of the demo site


@dataclass
class Posting:
    post_id: str
    row: Row  # the real row the posting comes from
    role: str  # listing | duplicate | scam | dead_letter
    title: str
    price: int
    latitude: float
    longitude: float
    street_address: str | None
    posted: datetime
    body: list[str]
    property_key: str
    derived: dict[str, str] = field(default_factory=dict)
    dead_reason: str | None = None
    origin: str = "verbatim"
    # The neighbourhood shown beside the title and in the search row; None means the row's own.
    neighborhood_override: str | None = None

    @property
    def neighborhood(self) -> str | None:
        return self.neighborhood_override or self.row.neighborhood

    @property
    def slug(self) -> str:
        if self.post_id == self.row.post_id:
            return self.row.slug
        return make_slug(self.row.city, self.title)

    @property
    def path(self) -> str:
        return f"/apa/d/{self.slug}/{self.post_id}.html"


def new_post_id(base: str, rng: random.Random, taken: set[str]) -> str:
    """A later-looking post id near the base one that no real row or other posting uses."""
    value = int(base)
    while True:
        candidate = str(value + rng.randint(1_000, 900_000))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


TITLE_VARIANTS = [
    lambda t: f"{t} - Available Now",
    lambda t: f"REDUCED! {t}",
    lambda t: t.upper(),
    lambda t: f"{t}!!",
    lambda t: f"** {t} **",
]

SCAM_TEXTS = [
    [
        "Hello, thanks for your interest in my home. I am the owner and I am currently out of the country on a "
        "mission trip with my church, so I am not able to show the property in person.",
        "The {beds} is fully renovated and ready to move in, rent is {price} a month and all utilities are "
        "included. To secure it I need the first month and the deposit sent by wire transfer before viewing, "
        "then I will mail you the keys and the lease the same day by FedEx.",
        "Please e-mail me only at {email}, I do not answer calls.",
    ],
    [
        "I was recently transferred overseas for work and I want a responsible person to look after my house "
        "while I am away. Rent is only {price} because I care more about a good tenant than the money.",
        "Payment of the refundable deposit is by Western Union or Apple/Google Play gift cards, I will then "
        "ship the keys to you. You can drive by the outside but we can not go inside until the deposit is "
        "received.",
        "Text me at {phone} or e-mail {email} with your full name and move-in date.",
    ],
    [
        "God bless you. My husband and I are missionaries in West Africa and our {beds} is empty. We are "
        "not looking for a big rent, just {price} per month to someone who will keep it clean.",
        "Fill the application and send the deposit of one month via wire transfer or Zelle, after that our "
        "agent will mail you the keys. No viewing before payment as we are out of the country.",
        "Contact: {phone}",
    ],
    [
        "Owner relocated abroad for a medical mission. The {beds} comes furnished, pets ok, rent {price}.",
        "To hold it you must buy gift cards for the security deposit and send the codes by e-mail before "
        "viewing; keys and garage remote will be mailed to you by courier.",
        "Reply only to {email}.",
    ],
    [
        "Available immediately, {beds} for {price} a month. I am out of the country for the next two years "
        "(military deployment) so everything is done online.",
        "Deposit must be sent by wire transfer before any viewing, then the keys are mailed to you with the "
        "signed lease. Serious renters only, many people are interested.",
        "Call or text {phone}, e-mail {email}.",
    ],
]
# Invented contacts in ranges reserved for fiction (555-01xx numbers, the example.com domain), so no
# real person can be reached through the sample.
SCAM_EMAIL = "pastor.r.whitfield.homes@example.com"
SCAM_PHONE = "(401) 555-0148"
SCAM_CONTACTS = [  # (uses email, uses phone) per scam text
    (True, False),
    (True, True),
    (False, True),
    (True, False),
    (False, True),
]


def beds_words(beds: int | None) -> str:
    if not beds:
        return "studio"
    return f"{beds} bedroom home"


def build_demo(by_region: dict[str, list[Row]], rng: random.Random) -> tuple[list[Posting], dict]:
    medians = {region: region_medians(rows) for region, rows in by_region.items()}
    taken_ids = {row.post_id for rows in by_region.values() for row in rows}
    spacing = Spacing()
    used_rows: set[str] = set()
    postings: list[Posting] = []
    notes: dict = {"medians": medians, "real_groups_checked": {}}

    # 1. Duplicate groups: real reposts first, then derived reposts of clean rows.
    real_groups: list[list[Row]] = []
    for region in DEMO_REGIONS:
        found = exclusive_repost_groups(by_region[region], medians[region])
        notes["real_groups_checked"][region] = [[m.post_id for m in g] for g in found]
        real_groups.extend(found)
    rng.shuffle(real_groups)
    # Prefer a mix: one group with only coordinates, the others with addresses, at most 2 per region.
    chosen_real: list[list[Row]] = []
    per_region: dict[str, int] = {}
    for group in sorted(real_groups, key=lambda g: (g[0].street_address is not None, g[0].post_id)):
        head = group[0]
        if len(chosen_real) >= 4 or per_region.get(head.region, 0) >= 2:
            continue
        if not spacing.free(head.latitude, head.longitude):
            continue
        chosen_real.append(group)
        per_region[head.region] = per_region.get(head.region, 0) + 1
        spacing.take(head.latitude, head.longitude)
        used_rows.update(m.post_id for m in group)

    group_no = 0
    for group in chosen_real:
        group_no += 1
        key = f"dup-{group_no}"
        for member in group:
            postings.append(
                Posting(
                    post_id=member.post_id,
                    row=member,
                    role="duplicate",
                    title=member.title,
                    price=member.price,
                    latitude=member.latitude,
                    longitude=member.longitude,
                    street_address=member.street_address,
                    posted=local_dt(member.posted, member.region),
                    body=trim_body(member.body, BODY_LIMIT),
                    property_key=key,
                    origin="real_repost",
                )
            )

    clean: dict[str, list[Row]] = {
        region: [r for r in by_region[region] if r.post_id not in used_rows and is_clean(r, medians[region], True)]
        for region in DEMO_REGIONS
    }
    for region in DEMO_REGIONS:
        rng.shuffle(clean[region])

    def pick(region: str, need_address: bool | None = None) -> Row:
        for row in clean[region]:
            if row.post_id in used_rows:
                continue
            if need_address is True and not row.street_address:
                continue
            if need_address is False and row.street_address:
                continue
            if not spacing.free(row.latitude, row.longitude):
                continue
            used_rows.add(row.post_id)
            spacing.take(row.latitude, row.longitude)
            return row
        raise SystemExit(f"not enough clean rows in {region}")

    # Derived groups fill up to eight duplicate groups in all, alternating 3 and 2 postings.
    derived_sizes = [3 if i % 2 == 0 else 2 for i in range(8 - len(chosen_real))]
    for index, size in enumerate(derived_sizes):
        group_no += 1
        key = f"dup-{group_no}"
        region = DEMO_REGIONS[index % len(DEMO_REGIONS)]
        base = pick(region, need_address=True)
        base_time = local_dt(base.posted, base.region)
        postings.append(
            Posting(
                post_id=base.post_id,
                row=base,
                role="duplicate",
                title=base.title,
                price=base.price,
                latitude=base.latitude,
                longitude=base.longitude,
                street_address=base.street_address,
                posted=base_time,
                body=trim_body(base.body, BODY_LIMIT),
                property_key=key,
                origin="derived_repost",
            )
        )
        for copy_no in range(1, size):
            post_id = new_post_id(base.post_id, rng, taken_ids)
            lat, lon = jitter(base.latitude, base.longitude, rng)
            variant = TITLE_VARIANTS[(index + copy_no) % len(TITLE_VARIANTS)]
            title = variant(base.title)
            price = base.price
            derived = {
                "post_id": f"new id for a repost of real post {base.post_id}",
                "title": f"changed from the real title {base.title!r}",
                "latitude": "real latitude moved by 2-8 m (GPS noise between two posts)",
                "longitude": "real longitude moved by 2-8 m",
                "posted": "real posted time plus 2-9 days",
            }
            if copy_no == 1 and index % 2 == 0:
                price = base.price - rng.choice([25, 50, 75, 100])
                derived["price"] = f"lowered from the real {money(base.price)}"
            street = base.street_address
            neighborhood = None
            if copy_no % 2 == 1:
                street = None
                derived["street_address"] = "removed: this repost gives only coordinates"
                if base.neighborhood and base.street_address.lower() in base.neighborhood.lower():
                    neighborhood = base.city
                    derived["neighborhood"] = f"{base.city!r} instead of {base.neighborhood!r}, which holds the address"
            postings.append(
                Posting(
                    post_id=post_id,
                    row=base,
                    role="duplicate",
                    title=title,
                    price=price,
                    latitude=lat,
                    longitude=lon,
                    street_address=street,
                    posted=base_time + timedelta(days=rng.randint(2, 9), minutes=rng.randint(0, 600)),
                    body=trim_body(base.body, BODY_LIMIT),
                    property_key=key,
                    derived=derived,
                    origin="derived_repost",
                    neighborhood_override=neighborhood,
                )
            )

    # 2. Scams: real rows (beds, baths, size, coordinates, title) with a scam story and a price 60-70%
    # below the region's median for that bedroom count; contacts reused across cities.
    scam_regions = ["providence", "hartford", "dallas", "providence", "hartford"]
    for index, region in enumerate(scam_regions):
        base = pick(region, need_address=bool(index % 2))
        median = medians[region][base.bedrooms]
        price = int(round(median * rng.uniform(0.30, 0.40), -1))
        uses_email, uses_phone = SCAM_CONTACTS[index]
        text = [
            p.format(beds=beds_words(base.bedrooms), price=money(price), email=SCAM_EMAIL, phone=SCAM_PHONE)
            for p in SCAM_TEXTS[index]
        ]
        post_id = new_post_id(base.post_id, rng, taken_ids)
        derived = {
            "post_id": f"new id; the scam copies real post {base.post_id}",
            "price": f"{money(price)} = {price / median:.0%} of the {region} median for "
            f"{base.bedrooms} bedrooms ({money(median)}); the real row asked {money(base.price)}",
            "body": "scam text written from published rental-scam patterns (owner abroad, wire/gift-card "
            "deposit before viewing, keys by mail)",
            "contact": ("e-mail " + SCAM_EMAIL if uses_email else "")
            + (" and " if uses_email and uses_phone else "")
            + ("phone " + SCAM_PHONE if uses_phone else ""),
        }
        postings.append(
            Posting(
                post_id=post_id,
                row=base,
                role="scam",
                title=base.title,
                price=price,
                latitude=base.latitude,
                longitude=base.longitude,
                street_address=base.street_address,
                posted=local_dt(base.posted, base.region) + timedelta(hours=rng.randint(1, 30)),
                body=text,
                property_key=f"scam-{index + 1}",
                derived=derived,
            )
        )

    # 3. Dead letters: postings the search pages link that cannot become listings.
    for index, (region, reason) in enumerate(
        [("hartford", "blocked"), ("dallas", "expired"), ("providence", "invalid_coordinates")]
    ):
        base = pick(region)
        posting = Posting(
            post_id=base.post_id,
            row=base,
            role="dead_letter",
            title=base.title,
            price=base.price,
            latitude=base.latitude,
            longitude=base.longitude,
            street_address=base.street_address,
            posted=local_dt(base.posted, base.region),
            body=trim_body(base.body, BODY_LIMIT),
            property_key=f"dead-{index + 1}",
            dead_reason=reason,
        )
        if reason == "blocked":
            posting.derived = {"page": "served the real blocked response (cl_2022_blocked_response.html) verbatim"}
        elif reason == "expired":
            posting.derived = {"page": "served the real expired page (cl_2009_post_expired.html) verbatim"}
        else:
            posting.latitude = 123.4
            posting.derived = {"latitude": f"set to 123.4 (impossible); the real row says {base.latitude}"}
        postings.append(posting)

    # 4. Ordinary listings, spread over the three regions.
    for index in range(36):
        region = DEMO_REGIONS[index % len(DEMO_REGIONS)]
        base = pick(region, need_address=None if index % 4 else False)
        postings.append(
            Posting(
                post_id=base.post_id,
                row=base,
                role="listing",
                title=base.title,
                price=base.price,
                latitude=base.latitude,
                longitude=base.longitude,
                street_address=base.street_address,
                posted=local_dt(base.posted, base.region),
                body=trim_body(base.body, BODY_LIMIT),
                property_key=f"single-{index + 1}",
            )
        )

    for posting in postings:
        served_verbatim = posting.dead_reason in ("blocked", "expired")
        if posting.body != posting.row.body and "body" not in posting.derived and not served_verbatim:
            posting.derived["body"] = f"real body trimmed to about {BODY_LIMIT} characters"
    ids = [p.post_id for p in postings]
    if len(set(ids)) != len(ids):
        raise SystemExit("internal error: a post id is used by two postings")
    # Newest first, as the search pages list them.
    postings.sort(key=lambda p: (p.posted, p.post_id), reverse=True)
    return postings, notes


# ---------------------------------------------------------------------------------------------------
# HTML


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def script_json(value: object) -> str:
    """JSON for a <script> element: `</` escaped so the text cannot close the element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


SCHEMA_TYPE = {"house": "House", "townhouse": "House", "duplex": "House"}

ATTR_LABELS = [
    ("AC", "air conditioning"),
    ("cats_ok", "cats are OK - purrr"),
    ("dogs_ok", "dogs are OK - wooof"),
    ("EV_charging", "EV charging"),
    ("furnished", "furnished"),
]


def posting_page(p: Posting) -> str:
    row = p.row
    city, state = row.city, row.state
    lat = f"{p.latitude:.6f}"
    lon = f"{p.longitude:.6f}"
    housing_type = row.housing_type or "apartment"
    body_text = "\n<br>\n".join(esc(para) + "<br>" for para in p.body)
    description = " ".join(p.body)
    if len(description) > 160:
        description = description[:160].rsplit(" ", 1)[0] + "..."
    posting_ld: dict = {}
    if row.bedrooms:
        posting_ld["numberOfBedrooms"] = str(row.bedrooms)
    posting_ld.update(
        {
            "longitude": lon,
            "name": p.title,
            "@context": "http://schema.org",
            "latitude": lat,
            "numberOfBathroomsTotal": int(row.bathrooms),
            "address": {
                "streetAddress": p.street_address or "",
                "addressCountry": "US",
                "addressLocality": city,
                "postalCode": "",
                "addressRegion": state,
                "@type": "PostalAddress",
            },
        }
    )
    if row.flags.get("cats_ok") or row.flags.get("dogs_ok"):
        posting_ld["petsAllowed"] = True
    posting_ld["@type"] = SCHEMA_TYPE.get(housing_type, "Apartment")
    if row.flags.get("no_smoking"):
        posting_ld["smokingAllowed"] = False
    breadcrumb = {
        "@context": "https://schema.org",
        "itemListElement": [
            {"item": {"name": "craigslist demo", "@id": "/"}, "position": 1, "@type": "ListItem"},
            {"item": {"name": "housing", "@id": "/search/hhh"}, "position": 2, "@type": "ListItem"},
            {"item": {"name": "apartments / housing for rent", "@id": "/search/apa"}, "position": 3, "@type": "ListItem"},
            {"item": {"name": p.title, "@id": p.path}, "position": 4, "@type": "ListItem"},
        ],
        "@type": "BreadcrumbList",
    }
    housing_parts = []
    if row.bedrooms:
        housing_parts.append(f"{row.bedrooms}br")
    if row.sqft:
        housing_parts.append(f"{row.sqft}ft<sup>2</sup>")
    housing_span = f'<span class="housing">/ {" - ".join(housing_parts)} - </span>' if housing_parts else ""
    small = f"<small> ({esc(p.neighborhood)})</small>" if p.neighborhood else ""
    mapaddress = f'\n    <div class="mapaddress">{esc(p.street_address)}</div>' if p.street_address else ""
    bubbles = [f'            <span class="shared-line-bubble"><b>{row.bedrooms}BR</b> / <b>{bath_text(row.bathrooms)}Ba</b></span>']
    if row.sqft:
        bubbles.append(f'             <span class="shared-line-bubble"><b>{row.sqft}</b>ft<sup>2</sup></span>')
    if row.available:
        avail = datetime.strptime(row.available, "%Y-%m-%d")
        label = f"available {avail.strftime('%b').lower()} {avail.day}"
        bubbles.append(
            f'            <span class="housing_movein_now property_date shared-line-bubble" data-date="{row.available}" '
            f'data-today_msg="available now">{label}</span>'
        )
    attrs = [label for key, label in ATTR_LABELS if row.flags.get(key)]
    attrs.append(housing_type)
    if row.laundry:
        attrs.append(row.laundry)
    if row.flags.get("no_smoking"):
        attrs.append("no smoking")
    if row.parking:
        attrs.append(row.parking)
    if row.flags.get("wheelchair_access"):
        attrs.append("wheelchair accessible")
    attr_lines = "\n".join(f"            <span>{esc(a)}</span>\n            <br>" for a in attrs)
    attr_lines += "\n            <span>rent period: <b>monthly</b></span>\n            <br>"
    posted_local = p.posted
    updated = ""
    if row.updated and p.post_id == row.post_id and p.role != "scam":
        up = local_dt(row.updated, row.region)
        updated = (
            f'\n                <p class="postinginfo reveal">updated: <time class="date timeago" '
            f'datetime="{iso_local(up)}">{up.strftime("%Y-%m-%d %H:%M")}</time></p>\n'
        )
    provenance = f"aiqleads demo sample: posting {p.post_id}, role {p.role}, from real row {row.post_id} of " \
        f"craigslist_housing_2022_{row.region}.csv; see jobs/demo-sample/README.md"
    return f"""<!DOCTYPE html>
<html>
<head>
    <!-- {esc(provenance)} -->
	<meta charset="UTF-8">
	<meta http-equiv="X-UA-Compatible" content="IE=Edge">
	<meta name="viewport" content="width=device-width,initial-scale=1">
	<meta property="og:site_name" content="craigslist">
	<meta name="twitter:card" content="preview">
	<meta property="og:title" content="{esc(p.title)} - apts/housing for rent - {esc(housing_type)} rent">
	<meta name="description" content="{esc(description)}">
	<meta property="og:description" content="{esc(description)}">
	<meta property="og:url" content="{esc(p.path)}">
	<meta property="og:type" content="article">
	<meta name="robots" content="noarchive,nofollow">
	<meta name="geo.position" content="{lat};{lon}">
	<meta name="ICBM" content="{lat}, {lon}">
	<meta name="geo.placename" content="{esc(city)}">
	<meta name="geo.region" content="US-{state}">
	<title>{esc(p.title)} - apts/housing for rent - {esc(housing_type)} rent</title>
	<link rel="canonical" href="{esc(p.path)}">

<script type="application/ld+json" id="ld_breadcrumb_data" >
    {script_json(breadcrumb)}
</script>

<script type="application/ld+json" id="ld_posting_data" >
    {script_json(posting_ld)}
</script>
</head>
<body class="posting" >
    <section class="page-container">
<header class="global-header wide">
   <a class="header-logo" name="logoLink" href="/">CL</a>
    <nav class="breadcrumbs-container">
<ul class="breadcrumbs">
        <li class="crumb area"><p><a href="/">{esc(REGIONS[row.region][0].lower())}</a> <span class="breadcrumb-arrow">&gt;</span></p></li>
        <li class="crumb section"><p><a href="/search/hhh">housing</a> <span class="breadcrumb-arrow">&gt;</span></p></li>
        <li class="crumb category"><p><a href="/search/apa">apartments / housing for rent</a></p></li>
</ul>
    </nav>
</header>
        <section class="body">
<header class="dateReplyBar">
    <div class="reply-button-row">
            <p id="display-date" class="postinginfo reveal">
                    Posted
                    <time class="date timeago" datetime="{iso_local(posted_local)}">
                        {posted_local.strftime("%Y-%m-%d %H:%M")}
                    </time>
            </p>
    </div>
</header>

<h1 class="postingtitle">
    <span class="postingtitletext">
<span class="price">{money(p.price)}</span> {housing_span}<span id="titletextonly">{esc(p.title)}</span>{small}    </span>
</h1>
<section class="userbody">
    <div class="mapAndAttrs">
<div class="mapbox">
    <div id="map" class="viewposting" data-latitude="{lat}" data-longitude="{lon}" data-accuracy="{esc(row.accuracy or '22')}"></div>{mapaddress}
    <p class="mapaddress">
        <small>
            (<a target="_blank" href="https://www.google.com/maps/search/{lat},{lon}">google map</a>)
        </small>
    </p>
</div>
    <p class="attrgroup">
{chr(10).join(bubbles)}
    </p>
    <p class="attrgroup">
{attr_lines}
    </p>
    </div>

    <section id="postingbody">
        <div class="print-information print-qrcode-container">
            <p class="print-qrcode-label">QR Code Link to This Post</p>
            <div class="print-qrcode" data-location="{esc(p.path)}"></div>
        </div>
{body_text}
    </section>

<ul class="notices">
            <li>do NOT contact me with unsolicited services or offers</li>
</ul>

    <div class="postinginfos">
            <p class="postinginfo">post id: {p.post_id}</p>
                <p class="postinginfo reveal">posted: <time class="date timeago" datetime="{iso_local(posted_local)}">{posted_local.strftime("%Y-%m-%d %H:%M")}</time></p>
{updated}
    </div>
</section>

<div class="avoid-scams">
<aside class="tsb">
    <a href="https://www.craigslist.org/about/scams">Avoid scams, deal locally!</a>

    <em>DO NOT wire funds (e.g. Western Union)</em>, or buy/rent sight unseen
</aside>
</div>

        </section>
<footer>
    <ul class="clfooter">
        <li>&copy; 2022 <span class="desktop">craigslist</span></li>
        <li><a href="https://www.craigslist.org/about/help/">help</a></li>
        <li><a href="https://www.craigslist.org/about/scams">safety</a></li>
    </ul>
</footer>
    </section>
</body>
</html>
"""


def search_page(items: list[Posting], start: int, total: int, prev_url: str | None, next_url: str | None, own_url: str) -> str:
    ld_items = []
    lis = []
    for position, p in enumerate(items):
        row = p.row
        bedrooms = row.bedrooms or 0
        ld_items.append(
            {
                "@type": "ListItem",
                "position": str(position),
                "item": {
                    "@context": "http://schema.org",
                    "@type": SCHEMA_TYPE.get(row.housing_type or "", "Apartment"),
                    "name": p.title,
                    "numberOfBedrooms": bedrooms,
                    "numberOfBathroomsTotal": int(row.bathrooms),
                    "latitude": p.latitude,
                    "longitude": p.longitude,
                    "address": {
                        "@type": "PostalAddress",
                        "addressCountry": "",
                        "addressLocality": row.city,
                        "addressRegion": row.state,
                        "postalCode": "",
                        "streetAddress": "",
                    },
                },
            }
        )
        location = p.neighborhood or row.city
        lis.append(
            f"""        <li class="cl-static-search-result" title="{esc(p.title)}">
            <a href="{esc(p.path)}">
                <div class="title">{esc(p.title)}</div>

                <div class="details">
                    <div class="price">{money(p.price)}</div>
                    <div class="location">
                        {esc(location)}
                    </div>
                </div>
            </a>
        </li>"""
        )
    ld_page = {
        "@type": "SearchResultsPage",
        "description": "Apartments / Housing For Rent (aiqleads demo sample: Providence, Hartford, Dallas 2022)",
        "@context": "https://schema.org",
        "breadcrumb": {
            "@context": "https://schema.org",
            "itemListElement": [
                {"@type": "ListItem", "name": "craigslist demo", "position": 1, "item": "/"},
                {"@type": "ListItem", "name": "housing", "position": 2, "item": "/search/hhh"},
                {"@type": "ListItem", "name": "apartments / housing for rent", "position": 3, "item": "/search/apa"},
            ],
            "@type": "BreadcrumbList",
        },
    }
    paginator_class = " ".join(
        ["paginator", "buttongroup"] + (["firstpage"] if prev_url is None else []) + (["lastpage"] if next_url is None else [])
    )
    buttons = []
    if prev_url:
        buttons.append(f'<a href="{esc(prev_url)}" class="button prev" title="previous page">&lt; prev</a>')
    else:
        buttons.append('<span class="button prev" title="previous page">&lt; prev</span>')
    buttons.append(
        f'<span class="button pagenum"><span class="range"><span class="rangeFrom">{start + 1}</span> - '
        f'<span class="rangeTo">{start + len(items)}</span></span> / <span class="totalcount">{total}</span></span>'
    )
    if next_url:
        buttons.append(f'<a href="{esc(next_url)}" class="button next" title="next page">next &gt; </a>')
    else:
        buttons.append('<span class="button next" title="next page"> next &gt; </span>')
    head_links = ""
    if prev_url:
        head_links += f'\n	<link rel="prev" href="{esc(prev_url)}">'
    if next_url:
        head_links += f'\n	<link rel="next" href="{esc(next_url)}">'
    title = "apartments / housing for rent - craigslist"
    items_html = "\n".join(lis)
    button_html = "\n            ".join(buttons)
    return f"""<!DOCTYPE html>
<html>
<head>
    <!-- aiqleads demo sample search page {esc(own_url)}; markup of cl_2026_search_apa_milwaukee_wauwatosa.html, paginator of cl_2021_search_apa_burnaby_result-row.html; see jobs/demo-sample/README.md -->
	<meta charset="UTF-8">
	<meta http-equiv="X-UA-Compatible" content="IE=Edge">
	<meta name="viewport" content="width=device-width,initial-scale=1">
	<meta property="og:site_name" content="craigslist">
	<meta property="og:title" content="{title}">
	<meta name="description" content="{title}">
	<meta property="og:url" content="{esc(own_url)}">
	<title>{title}</title>
	<link rel="canonical" href="{esc(own_url)}">{head_links}

<script type="application/ld+json" id="ld_searchpage_data" >
    {script_json(ld_page)}
</script>

<script type="application/ld+json" id="ld_searchpage_results" >
    {script_json({"@type": "ItemList", "itemListElement": ld_items, "@context": "https://schema.org"})}
</script>

    <style>
        body {{
            margin: 0;
            border: 0;
            padding: 0;
            font-family: sans-serif;
        }}

        ol.cl-static-search-results, .cl-static-header {{
            display:none;
        }}

        .no-js ol.cl-static-search-results, .no-js .cl-static-header {{
            display:block;
        }}
    </style>
</head>

<body  class="no-js"  >
    <div class="cl-static-header">
        <a href="/">craigslist</a>
            <h1>Apartments / Housing For Rent</h1>
    </div>

    <ol class="cl-static-search-results">
        <li class="cl-static-hub-links">
            <div>see also</div>
                <p>
                    <a href="/search/apa">
                        apartments / housing for rent
                    </a>
                </p>
        </li>
{items_html}
    </ol>

    <div class="{paginator_class}">
        <span class="buttons">
            {button_html}
        </span>
    </div>
</body>
</html>
"""


ROBOTS = """# aiqleads demo sample site: the demo crawler may fetch search and posting pages.
User-agent: *
Allow: /search/apa
Allow: /apa/
Disallow: /reply/
Disallow: /flag/
"""


# ---------------------------------------------------------------------------------------------------
# Self-check of the generated HTML with html.parser


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Element] = []
        # Text and child elements in document order, so text() reads like a browser's textContent.
        self.content: list[Element | str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text() for part in self.content)

    def add(self, child: Element) -> None:
        self.children.append(child)
        self.content.append(child)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def select(self, tag: str, cls: str | None = None, ident: str | None = None) -> list[Element]:
        return [
            e
            for e in self.walk()
            if e.tag == tag and (cls is None or cls in e.classes) and (ident is None or e.attrs.get("id") == ident)
        ]


class TreeBuilder(HTMLParser):
    """A strict little tree builder: every non-void element must be closed by its own end tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, None)
        self.current = self.root
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: (v or "") for k, v in attrs}, self.current)
        self.current.add(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.add(Element(tag, {k: (v or "") for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.current.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.current.tag}>")
            node = self.current
            while node is not None and node.tag != tag:
                node = node.parent
            if node is None:
                return
            self.current = node
        self.current = self.current.parent or self.root

    def handle_data(self, data):
        self.current.content.append(data)


def parse_tree(text: str) -> tuple[Element, list[str]]:
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    errors = list(builder.errors)
    if builder.current is not builder.root:
        errors.append(f"<{builder.current.tag}> never closed")
    return builder.root, errors


def one(root: Element, tag: str, cls: str | None = None, ident: str | None = None) -> Element:
    found = root.select(tag, cls, ident)
    if len(found) != 1:
        raise AssertionError(f"expected one {tag}.{cls or ''}#{ident or ''}, found {len(found)}")
    return found[0]


def check_posting(text: str, truth: dict) -> None:
    root, errors = parse_tree(text)
    if errors:
        raise AssertionError(f"unbalanced HTML: {errors[:3]}")
    price = one(root, "span", "price").text().strip()
    assert int(price.replace("$", "").replace(",", "")) == truth["price"], price
    assert one(root, "span", ident="titletextonly").text() == truth["title"]
    assert len(root.select("p", "attrgroup")) == 2
    body = one(root, "section", ident="postingbody").text()
    assert len(body.strip()) > 40
    the_map = one(root, "div", ident="map")
    assert float(the_map.attrs["data-latitude"]) == truth["latitude"], the_map.attrs
    assert float(the_map.attrs["data-longitude"]) == truth["longitude"]
    assert the_map.attrs.get("data-accuracy")
    infos = [e.text() for e in root.select("p", "postinginfo")]
    assert any(t.strip() == f"post id: {truth['post_id']}" for t in infos), infos
    times = [e for e in root.select("time", "timeago") if "date" in e.classes]
    assert times and all(t.attrs.get("datetime") for t in times)
    posted = datetime.strptime(times[0].attrs["datetime"], "%Y-%m-%dT%H:%M:%S%z")
    assert iso_utc(posted) == truth["posted_at"]
    ld = json.loads(one(root, "script", ident="ld_posting_data").text())
    assert ld["name"] == truth["title"]
    assert float(ld["latitude"]) == truth["latitude"]
    assert (ld["address"]["streetAddress"] or None) == truth["street_address"]
    if truth["bedrooms"]:
        assert int(ld["numberOfBedrooms"]) == truth["bedrooms"]
        housing = one(root, "span", "housing").text()
        assert f"{truth['bedrooms']}br" in housing
    bubble = root.select("span", "shared-line-bubble")[0].text()
    assert bubble == f"{truth['bedrooms']}BR / {bath_text(truth['bathrooms'])}Ba", bubble
    if truth["sqft"]:
        assert any(b.text() == f"{truth['sqft']}ft2" for b in root.select("span", "shared-line-bubble"))
    json.loads(one(root, "script", ident="ld_breadcrumb_data").text())


def check_search(text: str, expected_paths: list[str], next_url: str | None) -> None:
    root, errors = parse_tree(text)
    if errors:
        raise AssertionError(f"unbalanced HTML: {errors[:3]}")
    ol = one(root, "ol", "cl-static-search-results")
    rows = ol.select("li", "cl-static-search-result")
    hrefs = [one(li, "a").attrs["href"] for li in rows]
    assert hrefs == expected_paths, (hrefs[:3], expected_paths[:3])
    for li in rows:
        one(li, "div", "title")
        one(li, "div", "price")
    ld = json.loads(one(root, "script", ident="ld_searchpage_results").text())
    assert len(ld["itemListElement"]) == len(rows)
    for li, item in zip(rows, ld["itemListElement"]):
        assert item["item"]["name"] == li.attrs["title"]
    nexts = [a for a in root.select("a", "next") if "button" in a.classes]
    if next_url:
        assert [a.attrs["href"] for a in nexts] == [next_url]
    else:
        assert not nexts


# ---------------------------------------------------------------------------------------------------
# Demo sample output


def posting_truth(p: Posting) -> dict:
    row = p.row
    return {
        "post_id": p.post_id,
        "url": p.path,
        "role": p.role,
        "property": p.property_key,
        "region": row.region,
        "title": p.title,
        "price": p.price,
        "bedrooms": row.bedrooms,
        "bathrooms": row.bathrooms,
        "sqft": row.sqft,
        "latitude": p.latitude,
        "longitude": p.longitude,
        "street_address": p.street_address,
        "city": row.city,
        "state": row.state,
        "housing_type": row.housing_type,
        "laundry": row.laundry,
        "parking": row.parking,
        "posted_at": iso_utc(p.posted),
        "source_row": {"table": f"tables/craigslist_housing_2022_{row.region}.csv", "post_id": row.post_id},
        "origin": p.origin if p.role == "duplicate" else ("derived" if p.derived and p.role == "scam" else "verbatim"),
        "derived_fields": dict(sorted(p.derived.items())),
        "dead_letter_reason": p.dead_reason,
    }


def render_demo(postings: list[Posting], notes: dict, data: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    blocked = (data / "html" / "craigslist" / "cl_2022_blocked_response.html").read_bytes()
    expired = (data / "html" / "craigslist" / "cl_2009_post_expired.html").read_bytes()
    truths = [posting_truth(p) for p in postings]
    pages = [{"url": "/robots.txt", "file": "site/robots.txt", "kind": "robots", "content_type": "text/plain"}]
    files["site/robots.txt"] = ROBOTS.encode()

    page1, page2 = postings[:SEARCH_PAGE_SIZE], postings[SEARCH_PAGE_SIZE:]
    url1, url2 = "/search/apa", f"/search/apa?s={SEARCH_PAGE_SIZE}"
    search = [
        (url1, "site/search/apa.html", page1, 0, None, url2),
        (url2, f"site/search/apa-s{SEARCH_PAGE_SIZE}.html", page2, SEARCH_PAGE_SIZE, url1, None),
    ]
    for url, path, items, start, prev_url, next_url in search:
        text = search_page(items, start, len(postings), prev_url, next_url, url)
        check_search(text, [p.path for p in items], next_url)
        files[path] = text.encode()
        pages.append(
            {
                "url": url,
                "file": path,
                "kind": "search",
                "content_type": "text/html; charset=utf-8",
                "links": [p.path for p in items],
                "next": next_url,
            }
        )
    for p, truth in zip(postings, truths):
        path = f"site{p.path}"
        if p.dead_reason == "blocked":
            content = blocked
        elif p.dead_reason == "expired":
            content = expired
        else:
            text = posting_page(p)
            check_posting(text, truth)
            content = text.encode()
        files[path] = content
        pages.append(
            {
                "url": p.path,
                "file": path,
                "kind": "posting" if p.dead_reason is None else "dead_letter",
                "content_type": "text/html; charset=utf-8",
            }
        )
    pages.sort(key=lambda e: (e["kind"] != "robots", e["kind"] != "search", e["url"]))

    listings = [t for t in truths if t["role"] != "dead_letter"]
    groups: dict[str, list[str]] = {}
    for t in truths:
        if t["role"] == "duplicate":
            groups.setdefault(t["property"], []).append(t["post_id"])
    duplicate_groups = [
        {
            "property": key,
            "post_ids": sorted(ids),
            "origin": next(t["origin"] for t in truths if t["property"] == key),
        }
        for key, ids in sorted(groups.items(), key=lambda kv: int(kv[0].split("-")[1]))
    ]
    scams = sorted(t["post_id"] for t in truths if t["role"] == "scam")
    properties = {t["property"] for t in listings}
    expected = {
        "about": "Ground truth of the aiqleads demo sample; regenerate with `python3 scripts/make_demo_sample.py`.",
        "seed": SEED,
        "start_url": url1,
        "counts": {
            "search_pages": len(search),
            "posting_pages": len(postings),
            "postings_linked": len(postings),
            "listings_expected": len(listings),
            "dead_letters_expected": len(postings) - len(listings),
            "unique_properties_expected": len(properties),
            "unique_properties_excluding_scams": len(properties) - len(scams),
            "duplicate_groups": len(duplicate_groups),
            "postings_in_duplicate_groups": sum(len(g["post_ids"]) for g in duplicate_groups),
            "scams": len(scams),
            "active_leads_expected": len(properties) - len(scams),
        },
        "pages": pages,
        "dead_letters": [
            {"post_id": t["post_id"], "url": t["url"], "reason_kind": t["dead_letter_reason"]}
            for t in truths
            if t["role"] == "dead_letter"
        ],
        "duplicate_groups": duplicate_groups,
        "scam_post_ids": scams,
        "scam_contacts": {"email": SCAM_EMAIL, "phone": SCAM_PHONE},
        "region_median_rent_by_bedrooms": {
            region: {str(k): v for k, v in sorted(notes["medians"][region].items())} for region in DEMO_REGIONS
        },
        "real_repost_groups_found": notes["real_groups_checked"],
        "postings": truths,
    }
    files["expected.json"] = (json.dumps(expected, indent=1, ensure_ascii=False) + "\n").encode()
    files["README.md"] = demo_readme(expected, postings).encode()
    return files


def demo_readme(expected: dict, postings: list[Posting]) -> str:
    c = expected["counts"]
    lines = [
        "# Demo sample site (`aiqleads demo`)",
        "",
        "A small Craigslist-like site built from **real** 2022 Craigslist apartment listings, served on",
        "127.0.0.1 by `aiqleads demo` and crawled with the real Craigslist connector. Regenerate everything",
        "here (site, `expected.json`, this README) with:",
        "",
        "    python3 scripts/make_demo_sample.py",
        "",
        "The generator is deterministic (seed "
        f"{SEED}) and checks every page it writes with Python's `html.parser` (balanced tags, the selectors",
        "below present, values equal to `expected.json`). `--check` regenerates in memory and fails if the",
        "committed files differ.",
        "",
        "## Counts",
        "",
        "| what | count |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in c.items()]
    lines += [
        "",
        "## URL layout",
        "",
        "| URL | file | what |",
        "| --- | --- | --- |",
        "| `/robots.txt` | `site/robots.txt` | allows `/search/apa` and `/apa/` |",
        f"| `/search/apa` | `site/search/apa.html` | search page 1: postings 1-{SEARCH_PAGE_SIZE}, newest first |",
        f"| `/search/apa?s={SEARCH_PAGE_SIZE}` | `site/search/apa-s{SEARCH_PAGE_SIZE}.html` | search page 2: the rest |",
        "| `/apa/d/<slug>/<post_id>.html` | `site/apa/d/<slug>/<post_id>.html` | one posting (or a dead letter) |",
        "",
        "`expected.json` `pages` lists every URL with its file, so the demo server can map a request",
        "(including the `?s=` query) to a file. All links are root-relative (`/apa/d/...`), so the site works",
        "on any port; the real site uses absolute `https://<area>.craigslist.org/...` links. Every page is",
        "meant to be served with status 200: the connector must recognise blocked and expired pages by their",
        "content (the real site answered such pages with 200 or 403/404 depending on the year).",
        "",
        "## Markup",
        "",
        "* **Search pages** copy the current static search markup of",
        "  `html/craigslist/cl_2026_search_apa_milwaukee_wauwatosa.html`: `ol.cl-static-search-results >",
        "  li.cl-static-search-result[title] > a[href] > div.title, div.details > div.price, div.location`,",
        "  plus `script#ld_searchpage_data` and `script#ld_searchpage_results` (an `ItemList` whose items are in",
        "  the same order as the `li` rows, with name, bedrooms, bathrooms, coordinates and an empty",
        "  `streetAddress`, as on the real page). The inline CSS/JS bundles, the curtain and the iframe were",
        "  removed; the small `no-js` style block was kept.",
        "* **Pagination**: the real 2026 static page has *no* next-page link (the JavaScript app pages",
        "  through a URL fragment). We therefore added the most plausible real form, the paginator of the",
        "  previous search generation (`cl_2021_search_apa_burnaby_result-row.html`): `div.paginator >",
        "  span.buttons > a.button.next[href]` with the classic `s=<offset>` query parameter, plus",
        "  `<link rel=\"next\">` / `<link rel=\"prev\">` in the head. On the last page the next button is a",
        "  `span.button.next` without a link (the real 2021 last page has an `a` with an empty `href`, which",
        "  a crawler would resolve to the page itself; we left that out on purpose). Page size is",
        f"  {SEARCH_PAGE_SIZE} (the real site used 120).",
        "* **Posting pages** copy the 2022 posting markup of `html/craigslist/cl_2022_post_apa_*.html`:",
        "  `script#ld_posting_data` (strings for coordinates and bedrooms, integer bathrooms, as on the real",
        "  pages), `span.price`, `span.housing` (`/ 2br - 900ft<sup>2</sup> - `, absent for studios as on the",
        "  real Chicago studio page), `span#titletextonly`, `div#map[data-latitude][data-longitude]",
        "  [data-accuracy]`, `div.mapaddress` (only when the posting gives a street address), two",
        "  `p.attrgroup`, `section#postingbody` (still holding the real page's `QR Code Link to This Post`",
        "  block, which a parser must drop), `p.postinginfo` with `post id: N` and",
        "  `time.date.timeago[datetime]`. The image gallery, scripts, CSS, reply/flag widgets and most of",
        "  the footer were removed. Like every real page, each page carries the site-wide warning",
        "  `DO NOT wire funds (e.g. Western Union)` outside `#postingbody`: a fraud check must only read the",
        "  posting body.",
        "* Each generated page starts with an HTML comment naming the real row it came from.",
        "",
        "## Content and provenance",
        "",
        "Rows come from `shared/data/tables/craigslist_housing_2022_{providence,hartford,dallas}.csv`",
        "(scraped by the `asl7168/craigslist_housing` project, mid 2022). Verbatim from the row: title, price,",
        "bedrooms, bathrooms, sqft, coordinates, map accuracy, street address, neighbourhood, posted/updated",
        "time, availability, housing type, laundry, parking and the yes/no attributes. Bodies are the real",
        f"body trimmed to about {BODY_LIMIT} characters at a paragraph or word boundary. The city is the",
        "first part of the real URL slug (e.g. `providence-east-side-...` -> Providence); the state comes from",
        "the row's census GEOID. Posted times are the table's local wall-clock times with the region's",
        "August 2022 UTC offset (-04:00 for Providence and Hartford, -05:00 for Dallas).",
        "",
        "Selection rules for ordinary listings (`role: listing`): monthly rent, map accuracy <= 22,",
        "whole-number bathrooms (a 1.5 bath cannot be written faithfully in the real JSON-LD, which only",
        "holds integers), a price between 0.6x and 1.8x of the region's median for that bedroom count, no",
        "scam wording in the body, no junk-symbol titles, and at least 150 m from every other chosen",
        "property so that no location-based dedupe rule can merge two of them by accident.",
        "",
        "The tables do contain true reposts. `repost_dates` only lists earlier dates of the *same* post id,",
        "so it cannot link two post ids; instead the generator looks for rows with identical coordinates,",
        "title, bedrooms, bathrooms and size under different post ids, posted on different days, with no",
        "other row at those coordinates (so not several units of one complex). Those found are listed in",
        "`expected.json` `real_repost_groups_found`; up to four of them are used verbatim",
        "(`origin: real_repost`). The remaining groups are derived from one real row each (`origin:",
        "derived_repost`): a new post id, a slightly changed title, coordinates moved 2-8 m, a later posted",
        "time, a lower price on some, and every other copy giving only coordinates (empty `streetAddress`,",
        "no `div.mapaddress`).",
        "",
        "Note: the 2022 tables also hold bursts of near-identical postings created in the same minute with",
        "consecutive post ids at roughly half the local rent and junk-symbol titles (e.g. `@@`, `##`,",
        "`+++`); they look like real scam campaigns. They are excluded from the clean pool and not labelled.",
        "",
        "Scams (`role: scam`) keep a real row's title, beds, baths, size and coordinates, get a new post",
        "id, a price 60-70% below the region's median rent for that bedroom count, and a body written",
        "after published rental-scam patterns (owner abroad or a missionary, deposit by wire transfer or",
        "gift cards before any viewing, keys by mail). One e-mail and one phone number are reused across",
        "the scams in different cities. The contacts are invented in ranges reserved for fiction",
        f"(`{SCAM_EMAIL}`, `{SCAM_PHONE}`).",
        "",
        "Dead letters (`role: dead_letter`) are linked from the search pages like any posting:",
        "",
        "* `blocked`: serves `html/craigslist/cl_2022_blocked_response.html` byte for byte.",
        "* `expired`: serves `html/craigslist/cl_2009_post_expired.html` byte for byte.",
        "* `invalid_coordinates`: a normal posting page whose `#map` and JSON-LD say latitude 123.4.",
        "",
        "## Pipeline fixture (`jobs/tests/fixtures/listings.jsonl`)",
        "",
        "The same script writes about 300 JSON lines of raw listings for `aiqleads pipeline --input`,",
        "with ground truth in `listings.expected.json` (line counts, dead letters by reason code, unique",
        "properties, duplicate groups as `source:source_listing_id`, scam ids, the pair that must not",
        "merge, and per record its true price, beds, baths, size and coordinates plus its provenance and",
        "derived fields). Values keep raw text forms (`\"$1,606\"`, `\"$1,224/mo\"`, `\"1br\"`, `\"Studio\"`,",
        "`\"2Ba\"`, `\"750ft2\"`, `\"800 ft²\"`, `\"1.38E+06\"`, `\"20141013T000000\"`) or plain numbers.",
        "",
        "* Craigslist rows from all five 2022 tables (rent). Real repost groups found as above; three",
        "  groups of a Craigslist row and an invented `file` re-listing of it whose street suffix is written",
        "  the other way (`St` vs `Street`, `Ln.` vs `Lane`) and whose coordinates are rounded to 4",
        "  decimals; two derived reposts with a new post id, a changed price and coordinates moved 2-8 m.",
        "* `fsbo` rows from `tables/fsbo_forsalebyowner_2023_ca.csv` (sale), including the real pair",
        "  `512 Tamarind Way, Unit C` / `Unit D`: same building, price, beds and baths, two different",
        "  units that must NOT merge. Addresses that appear several times in that table (new-build tracts",
        "  listing many plans at one address) are left out because their truth is unknown.",
        "* `file` rows from `tables/kc_house_sales_2014_2015.csv` (sale): real repeat sales of one house",
        "  (same King County id, two dates, usually two prices) form duplicate groups; the title is",
        "  composed from the row's columns, and the table has no street address.",
        "* Five scams derived as for the site, with the shared e-mail / phone in `contact_email` /",
        "  `contact_phone`, in five different cities.",
        "* Five malformed lines: a truncated object and a JSON array (`invalid_json`), an object without",
        "  `source_listing_id` (`missing_listing_id`), `source: kijiji` (`unknown_source`) and latitude 999",
        "  (`invalid_coordinates`).",
        "",
        "## Every posting",
        "",
        "| post id | role | property | real row | region | changed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in sorted(postings, key=lambda p: (p.property_key, p.post_id)):
        changed = "; ".join(f"{k}: {v}" for k, v in sorted(p.derived.items())) or "nothing"
        changed = changed.replace("|", "/")
        lines.append(f"| {p.post_id} | {p.role} | {p.property_key} | {p.row.post_id} | {p.row.region} | {changed} |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Pipeline fixture (JSON lines of raw listings)


def raw_price(value: int, rng: random.Random) -> object:
    form = rng.randrange(4)
    if form == 0:
        return money(value)
    if form == 1:
        return str(value)
    if form == 2:
        return f"{money(value)}/mo"
    return value


def raw_beds(value: int | None, rng: random.Random) -> object:
    if value is None:
        return None
    if value == 0:
        return rng.choice(["Studio", "0br"])
    return rng.choice([f"{value}br", f"{value}BR", str(value), value])


def raw_baths(value: float | None, rng: random.Random) -> object:
    if value is None:
        return None
    text = bath_text(value)
    return rng.choice([f"{text}Ba", text, value])


def raw_sqft(value: int | None, rng: random.Random) -> object:
    if value is None:
        return None
    return rng.choice([f"{value}ft2", f"{value} ft\u00b2", str(value), value])


def raw_coord(value: float | None, rng: random.Random) -> object:
    if value is None:
        return None
    return rng.choice([value, str(value)])


def craigslist_record(row: Row, rng: random.Random, **overrides) -> dict:
    posted = local_dt(row.posted, row.region)
    rec = {
        "source": "craigslist",
        "source_listing_id": row.post_id,
        "url": row.url,
        "listing_kind": "rent",
        "list_price": raw_price(row.price, rng),
        "bedrooms_total": raw_beds(row.bedrooms, rng),
        "bathrooms_total": raw_baths(row.bathrooms, rng),
        "living_area_sqft": raw_sqft(row.sqft, rng),
        "street_address": row.street_address,
        "city": row.city,
        "state_or_province": row.state,
        "postal_code": None,
        "latitude": raw_coord(row.latitude, rng),
        "longitude": raw_coord(row.longitude, rng),
        "title": row.title,
        "description": "\n\n".join(trim_body(row.body, FIXTURE_BODY_LIMIT)),
        "posted_at": rng.choice([iso_local(posted), row.posted]),
        "contact_phone": None,
        "contact_email": None,
        "property_type": row.housing_type,
        "laundry": row.laundry,
        "parking": row.parking,
    }
    rec.update(overrides)
    return rec


def truth_of(rec: dict, prop: str, role: str, provenance: str, derived: dict | None = None, **values) -> dict:
    return {
        "source": rec["source"],
        "source_listing_id": rec["source_listing_id"],
        "property": prop,
        "role": role,
        "provenance": provenance,
        "derived_fields": derived or {},
        **values,
    }


STREET_SUFFIX = [
    (r"\bSt\.?$", "Street"),
    (r"\bAve\.?$", "Avenue"),
    (r"\bRd\.?$", "Road"),
    (r"\bDr\.?$", "Drive"),
    (r"\bLn\.?$", "Lane"),
    (r"\bStreet$", "St"),
    (r"\bAvenue$", "Ave"),
    (r"\bRoad$", "Rd"),
    (r"\bDrive$", "Dr"),
    (r"\bLane$", "Ln"),
]


def address_variant(address: str) -> str | None:
    for pattern, replacement in STREET_SUFFIX:
        if re.search(pattern, address.strip()):
            return re.sub(pattern, replacement, address.strip())
    return None


def load_fsbo(data: Path) -> list[dict]:
    with (data / "tables" / "fsbo_forsalebyowner_2023_ca.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_kc(data: Path) -> list[dict]:
    with (data / "tables" / "kc_house_sales_2014_2015.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def fsbo_record(rec: dict, rng: random.Random) -> dict:
    listing_id = rec["URL"].rstrip("/").split("/")[-1]
    price = int(rec["Price"])
    sqft = int(rec["SquareFt"]) if rec["SquareFt"] not in ("", "0") else None
    return {
        "source": "fsbo",
        "source_listing_id": listing_id,
        "url": rec["URL"],
        "listing_kind": "sale",
        "list_price": rng.choice([money(price), rec["Price"], price]),
        "bedrooms_total": rec["Bed"] or None,
        "bathrooms_total": rec["Bath"] or None,
        "living_area_sqft": sqft,
        "street_address": rec["Address"],
        "city": rec["City"],
        "state_or_province": rec["State"],
        "postal_code": rec["Zip"],
        "latitude": None,
        "longitude": None,
        "title": rec["Name"],
        "description": None,
        "posted_at": None,
        "contact_phone": None,
        "contact_email": None,
    }


def kc_price(text: str) -> int:
    return int(round(float(text)))


def kc_record(rec: dict, rng: random.Random) -> dict:
    date = rec["date"]
    return {
        "source": "file",
        "source_listing_id": f"kc-{rec['id']}-{date[:8]}",
        "url": f"file://tables/kc_house_sales_2014_2015.csv#id={rec['id']}&date={date[:8]}",
        "listing_kind": "sale",
        "list_price": rng.choice([rec["price"], kc_price(rec["price"])]),
        "bedrooms_total": rec["bedrooms"],
        "bathrooms_total": rec["bathrooms"],
        "living_area_sqft": rec["sqft_living"],
        "street_address": None,
        "city": None,
        "state_or_province": "WA",
        "postal_code": rec["zipcode"],
        "latitude": rng.choice([rec["lat"], float(rec["lat"])]),
        "longitude": rng.choice([rec["long"], float(rec["long"])]),
        "title": f"{rec['bedrooms']} bd {rec['bathrooms']} ba house, {rec['sqft_living']} sqft, built {rec['yr_built']}",
        "description": None,
        "posted_at": date,
        "contact_phone": None,
        "contact_email": None,
    }


def build_fixture(by_region: dict[str, list[Row]], data: Path, rng: random.Random) -> tuple[list[str], dict]:
    medians = {region: region_medians(rows) for region, rows in by_region.items()}
    taken_ids = {row.post_id for rows in by_region.values() for row in rows}
    spacing = Spacing()
    used: set[str] = set()
    lines: list[tuple[str, dict | None]] = []  # (json line, truth or None for malformed)
    groups: dict[str, list[str]] = {}

    def add(rec: dict, truth: dict) -> None:
        lines.append((json.dumps(rec, ensure_ascii=False), truth))
        if truth["role"] == "duplicate":
            groups.setdefault(truth["property"], []).append(f"{rec['source']}:{rec['source_listing_id']}")

    def values(row: Row, **over) -> dict:
        base = {
            "list_price": row.price,
            "bedrooms": row.bedrooms,
            "bathrooms": row.bathrooms,
            "sqft": row.sqft,
            "latitude": row.latitude,
            "longitude": row.longitude,
        }
        base.update(over)
        return base

    # Real Craigslist repost groups (all regions), up to 4.
    real_groups = []
    for region in REGIONS:
        real_groups.extend(exclusive_repost_groups(by_region[region], medians[region]))
    real_groups.sort(key=lambda g: g[0].post_id)
    rng.shuffle(real_groups)
    group_no = 0
    for group in real_groups:
        head = group[0]
        if group_no >= 4 or not spacing.free(head.latitude, head.longitude):
            continue
        group_no += 1
        spacing.take(head.latitude, head.longitude)
        for member in group:
            used.add(member.post_id)
            add(
                craigslist_record(member, rng),
                truth_of(
                    {"source": "craigslist", "source_listing_id": member.post_id},
                    f"dup-{group_no}",
                    "duplicate",
                    f"real repost: {member.region} row {member.post_id}",
                    **values(member),
                ),
            )

    clean = {
        region: [r for r in rows if r.post_id not in used and is_clean(r, medians[region], integer_baths=False)]
        for region, rows in by_region.items()
    }
    for region in clean:
        rng.shuffle(clean[region])

    def pick(region: str, want=lambda r: True) -> Row:
        for row in clean[region]:
            if row.post_id in used or not want(row) or not spacing.free(row.latitude, row.longitude):
                continue
            used.add(row.post_id)
            spacing.take(row.latitude, row.longitude)
            return row
        raise SystemExit(f"not enough clean rows in {region}")

    # Same property on Craigslist and in a file re-listing, the address written differently.
    for region in ["providence", "hartford", "dallas"]:
        group_no += 1
        row = pick(region, lambda r: bool(r.street_address and re.match(r"^\d+ ", r.street_address) and address_variant(r.street_address)))
        variant = address_variant(row.street_address)
        add(
            craigslist_record(row, rng),
            truth_of({"source": "craigslist", "source_listing_id": row.post_id}, f"dup-{group_no}", "duplicate",
                     f"real row {region} {row.post_id}", **values(row)),
        )
        relist = {
            "source": "file",
            "source_listing_id": f"relist-{row.post_id}",
            "url": f"file://relistings.csv#{row.post_id}",
            "listing_kind": "rent",
            "list_price": row.price,
            "bedrooms_total": row.bedrooms,
            "bathrooms_total": row.bathrooms,
            "living_area_sqft": row.sqft,
            "street_address": variant,
            "city": row.city,
            "state_or_province": row.state,
            "postal_code": None,
            "latitude": round(row.latitude, 4),
            "longitude": round(row.longitude, 4),
            "title": row.title,
            "description": None,
            "posted_at": iso_local(local_dt(row.posted, row.region) + timedelta(days=3)),
            "contact_phone": None,
            "contact_email": None,
        }
        add(
            relist,
            truth_of(relist, f"dup-{group_no}", "duplicate", f"derived from {region} row {row.post_id}",
                     {"street_address": f"{row.street_address!r} written as {variant!r}",
                      "latitude": "rounded to 4 decimals", "longitude": "rounded to 4 decimals",
                      "source_listing_id": "new id of an invented file re-listing", "posted_at": "real + 3 days"},
                     **values(row, latitude=round(row.latitude, 4), longitude=round(row.longitude, 4))),
        )

    # Derived reposts with a changed price.
    for region in ["sanmarcos", "muncie"]:
        group_no += 1
        row = pick(region)
        add(
            craigslist_record(row, rng),
            truth_of({"source": "craigslist", "source_listing_id": row.post_id}, f"dup-{group_no}", "duplicate",
                     f"real row {region} {row.post_id}", **values(row)),
        )
        post_id = new_post_id(row.post_id, rng, taken_ids)
        lat, lon = jitter(row.latitude, row.longitude, rng)
        price = row.price + rng.choice([-100, -50, 25, 50])
        rec = craigslist_record(
            row, rng, source_listing_id=post_id, url=row.url.replace(row.post_id, post_id),
            list_price=money(price), latitude=lat, longitude=lon, title=TITLE_VARIANTS[1](row.title),
        )
        add(
            rec,
            truth_of(rec, f"dup-{group_no}", "duplicate", f"derived repost of {region} row {row.post_id}",
                     {"source_listing_id": "new post id", "list_price": f"changed from {money(row.price)}",
                      "latitude": "moved 2-8 m", "longitude": "moved 2-8 m", "title": "prefixed REDUCED!", "url": "new post id"},
                     **values(row, list_price=price, latitude=lat, longitude=lon)),
        )

    # Scams: real rows in five cities, price 60-70% below the area median, shared contacts.
    scam_ids = []
    scam_plan = [("dallas", True, True), ("hartford", True, False), ("providence", True, True),
                 ("muncie", False, True), ("sanmarcos", True, False)]
    for index, (region, use_email, use_phone) in enumerate(scam_plan):
        row = pick(region, lambda r: (r.bedrooms or 0) >= 1)
        median = medians[region][row.bedrooms]
        price = int(round(median * rng.uniform(0.30, 0.40), -1))
        post_id = new_post_id(row.post_id, rng, taken_ids)
        text = " ".join(
            p.format(beds=beds_words(row.bedrooms), price=money(price), email=SCAM_EMAIL, phone=SCAM_PHONE)
            for p in SCAM_TEXTS[index]
        )
        rec = craigslist_record(
            row, rng, source_listing_id=post_id, url=row.url.replace(row.post_id, post_id),
            list_price=money(price), description=text,
            contact_email=SCAM_EMAIL if use_email else None,
            contact_phone=SCAM_PHONE if use_phone else None,
        )
        scam_ids.append(f"craigslist:{post_id}")
        derived = {
            "source_listing_id": "new post id",
            "url": "new post id",
            "list_price": f"{price / median:.0%} of the {region} {row.bedrooms}-bedroom median {money(median)}; "
            f"the real row asked {money(row.price)}",
            "description": "scam text after published rental-scam patterns",
        }
        if use_email:
            derived["contact_email"] = "invented (reserved example.com domain), reused across scams"
        if use_phone:
            derived["contact_phone"] = "invented (fictional 555-01xx number), reused across scams"
        add(
            rec,
            truth_of(rec, f"scam-{index + 1}", "scam", f"derived from {region} row {row.post_id}", derived,
                     **values(row, list_price=price)),
        )

    # Ordinary Craigslist rows.
    quota = {"dallas": 44, "hartford": 50, "providence": 46, "muncie": 25, "sanmarcos": 34}
    single_no = 0
    for region, count in quota.items():
        for _ in range(count):
            row = pick(region)
            single_no += 1
            add(
                craigslist_record(row, rng),
                truth_of({"source": "craigslist", "source_listing_id": row.post_id}, f"single-{single_no}",
                         "listing", f"real row {region} {row.post_id}", **values(row)),
            )

    # FSBO (California, for sale): the real two-unit pair and single rows with one unique address.
    fsbo = load_fsbo(data)
    base_counts: dict[str, int] = {}
    for rec in fsbo:
        base_counts[rec["Address"].split(",")[0].strip().lower()] = base_counts.get(rec["Address"].split(",")[0].strip().lower(), 0) + 1
    pair = [r for r in fsbo if r["Address"].startswith("512 Tamarind Way, Unit ")]
    pair_ids = []
    for index, rec in enumerate(sorted(pair, key=lambda r: r["Address"])):
        out = fsbo_record(rec, rng)
        pair_ids.append(f"fsbo:{out['source_listing_id']}")
        add(out, truth_of(out, f"unit-{index + 1}", "listing", "real fsbo row (two units of one building)",
                          list_price=int(rec["Price"]), bedrooms=int(rec["Bed"]), bathrooms=float(rec["Bath"]),
                          sqft=out["living_area_sqft"], latitude=None, longitude=None))
    single_fsbo = [
        r for r in fsbo
        if r["State"] == "CA" and r["Price"].isdigit() and r["Bed"] and r["Bath"]
        and re.match(r"^\d+ ", r["Address"]) and base_counts[r["Address"].split(",")[0].strip().lower()] == 1
        and not re.search(r"#|unit|space|spc|apt", r["Address"], re.IGNORECASE)
    ]
    rng.shuffle(single_fsbo)
    for rec in single_fsbo[:30]:
        out = fsbo_record(rec, rng)
        single_no += 1
        add(out, truth_of(out, f"single-{single_no}", "listing", "real fsbo row",
                          list_price=int(rec["Price"]), bedrooms=int(float(rec["Bed"])), bathrooms=float(rec["Bath"]),
                          sqft=out["living_area_sqft"], latitude=None, longitude=None))

    # King County sales: real repeat sales of one house (same id, two dates) and single sales.
    kc = load_kc(data)
    by_id: dict[str, list[dict]] = {}
    for rec in kc:
        by_id.setdefault(rec["id"], []).append(rec)
    repeat = sorted(i for i, recs in by_id.items() if len(recs) == 2)
    rng.shuffle(repeat)
    kc_spacing = Spacing()
    chosen_repeat = 0
    for house in repeat:
        recs = by_id[house]
        lat, lon = float(recs[0]["lat"]), float(recs[0]["long"])
        if chosen_repeat >= 3 or not kc_spacing.free(lat, lon):
            continue
        chosen_repeat += 1
        group_no += 1
        kc_spacing.take(lat, lon)
        for rec in sorted(recs, key=lambda r: r["date"]):
            out = kc_record(rec, rng)
            add(out, truth_of(out, f"dup-{group_no}", "duplicate", f"real repeat sale of King County house {house}",
                              {"title": "composed from the row's columns", "url": "file reference, no web page"},
                              list_price=kc_price(rec["price"]), bedrooms=int(rec["bedrooms"]),
                              bathrooms=float(rec["bathrooms"]), sqft=int(rec["sqft_living"]), latitude=lat, longitude=lon))
    singles_kc = sorted(i for i, recs in by_id.items() if len(recs) == 1)
    rng.shuffle(singles_kc)
    taken_kc = 0
    for house in singles_kc:
        rec = by_id[house][0]
        lat, lon = float(rec["lat"]), float(rec["long"])
        if taken_kc >= 35 or not kc_spacing.free(lat, lon):
            continue
        taken_kc += 1
        kc_spacing.take(lat, lon)
        out = kc_record(rec, rng)
        single_no += 1
        add(out, truth_of(out, f"single-{single_no}", "listing", f"real King County sale {house}",
                          {"title": "composed from the row's columns", "url": "file reference, no web page"},
                          list_price=kc_price(rec["price"]), bedrooms=int(rec["bedrooms"]),
                          bathrooms=float(rec["bathrooms"]), sqft=int(rec["sqft_living"]), latitude=lat, longitude=lon))

    # Shuffle valid lines so duplicates are not adjacent, then put malformed lines at fixed places.
    rng.shuffle(lines)
    spare = pick("providence")
    spare2 = pick("dallas")
    malformed = [
        ("invalid_json", '{"source": "craigslist", "source_listing_id": "' + spare.post_id + '", "list_price": "$1,'),
        ("invalid_json", json.dumps([craigslist_record(spare2, rng)], ensure_ascii=False)),
        ("missing_listing_id", json.dumps({k: v for k, v in craigslist_record(pick("hartford"), rng).items() if k != "source_listing_id"}, ensure_ascii=False)),
        ("unknown_source", json.dumps(craigslist_record(pick("muncie"), rng, source="kijiji"), ensure_ascii=False)),
        ("invalid_coordinates", json.dumps(craigslist_record(pick("sanmarcos"), rng, latitude=999), ensure_ascii=False)),
    ]
    positions = [17, 58, 121, 200, 263]
    dead = []
    for (code, text), position in zip(malformed, positions):
        lines.insert(position, (text, None))
        dead.append({"code": code, "text": text})
    out_lines = [text for text, _ in lines]
    dead_letters = []
    for number, (text, truth) in enumerate(lines, start=1):
        if truth is None:
            code = next(d["code"] for d in dead if d["text"] == text)
            dead_letters.append({"line": number, "code": code})

    truths = [t for _, t in lines if t is not None]
    properties = {t["property"] for t in truths}
    duplicate_groups = [sorted(ids) for _, ids in sorted(groups.items(), key=lambda kv: int(kv[0].split("-")[1]))]
    by_code: dict[str, int] = {}
    for d in dead_letters:
        by_code[d["code"]] = by_code.get(d["code"], 0) + 1
    expected = {
        "about": "Ground truth of listings.jsonl; regenerate with `python3 scripts/make_demo_sample.py`.",
        "seed": SEED,
        "lines": len(out_lines),
        "valid": len(truths),
        "dead_letters": len(dead_letters),
        "dead_letters_by_reason": dict(sorted(by_code.items())),
        "dead_letter_lines": dead_letters,
        "unique_properties": len(properties),
        "duplicate_groups": duplicate_groups,
        "scam_ids": sorted(scam_ids),
        "scam_contacts": {"email": SCAM_EMAIL, "phone": SCAM_PHONE},
        "non_merging_pairs": [sorted(pair_ids)],
        "by_source": {s: sum(1 for t in truths if t["source"] == s) for s in sorted({t["source"] for t in truths})},
        "records": sorted(truths, key=lambda t: (t["source"], t["source_listing_id"])),
    }
    return out_lines, expected


# ---------------------------------------------------------------------------------------------------


def generate(data: Path) -> dict[Path, bytes]:
    by_region = load_craigslist(data)
    postings, notes = build_demo(by_region, random.Random(SEED))
    files = {SAMPLE_DIR / name: content for name, content in render_demo(postings, notes, data).items()}
    lines, expected = build_fixture(by_region, data, random.Random(SEED + 1))
    files[FIXTURE_DIR / "listings.jsonl"] = ("\n".join(lines) + "\n").encode()
    files[FIXTURE_DIR / "listings.expected.json"] = (json.dumps(expected, indent=1, ensure_ascii=False) + "\n").encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared/data folder")
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ from a fresh run")
    args = parser.parse_args()
    if not (args.data / "tables").is_dir():
        print(f"cannot find the real data tables under {args.data}/tables", file=sys.stderr)
        return 2
    files = generate(args.data)
    if args.check:
        stale = [p for p, content in files.items() if not p.exists() or p.read_bytes() != content]
        site = SAMPLE_DIR / "site"
        expected_site = {p for p in files if site in p.parents}
        extra = [p for p in site.rglob("*") if p.is_file() and p not in expected_site] if site.exists() else []
        for path in stale + extra:
            print(f"out of date: {path.relative_to(REPO)}", file=sys.stderr)
        return 1 if stale or extra else 0
    site = SAMPLE_DIR / "site"
    if site.exists():
        for path in sorted(site.rglob("*"), reverse=True):
            if path.is_file():
                path.unlink()
            else:
                path.rmdir()
    for path, content in sorted(files.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    sample_size = sum(len(c) for p, c in files.items() if SAMPLE_DIR in p.parents)
    print(f"wrote {len(files)} files; demo sample {sample_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

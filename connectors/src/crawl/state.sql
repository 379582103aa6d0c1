-- The crawl state: one row per crawl for its current run, one row per URL ever discovered.
CREATE TABLE IF NOT EXISTS crawl_runs (
    crawl      TEXT PRIMARY KEY,
    run        INTEGER NOT NULL,
    finished   INTEGER NOT NULL,
    start_url  TEXT NOT NULL,
    started_at INTEGER NOT NULL
);

-- state: queued | in_flight | done | failed | disallowed.
-- run: the run in which the row was last queued; a row done in the current run is in the seen-set.
-- kind: search | posting | rejected once fetched; search pages are always revisited, others only
-- when stale. fetched_at: Unix milliseconds.
CREATE TABLE IF NOT EXISTS crawl_frontier (
    seq           INTEGER PRIMARY KEY,
    crawl         TEXT NOT NULL,
    url           TEXT NOT NULL,
    depth         INTEGER NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    run           INTEGER NOT NULL,
    found_on      TEXT,
    kind          TEXT,
    etag          TEXT,
    last_modified TEXT,
    content_hash  INTEGER,
    fetched_at    INTEGER,
    UNIQUE (crawl, url)
);

CREATE INDEX IF NOT EXISTS crawl_frontier_queue ON crawl_frontier (crawl, state, seq);
CREATE INDEX IF NOT EXISTS crawl_frontier_found_on ON crawl_frontier (crawl, found_on);

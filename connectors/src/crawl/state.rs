//! The crawl's memory between runs: a small SQLite database holding the frontier (every URL found,
//! whether it is queued, being fetched, done or failed) and each page's validators (ETag,
//! Last-Modified, a hash of the body). A crawl that is killed resumes from it without fetching done
//! pages again; a later crawl of the same name revisits pages conditionally. Only a batch of the
//! frontier is in memory at a time.

use std::path::Path;
use std::str::FromStr;

use chrono::Utc;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::CrawlError;

const SCHEMA: &str = include_str!("state.sql");

/// The persistent state of crawls, keyed by crawl name (one database may hold many crawls).
#[derive(Clone, Debug)]
pub struct CrawlState {
    pool: SqlitePool,
    crawl: String,
}

/// How many frontier rows are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrontierCounts {
    pub queued: u64,
    pub in_flight: u64,
    pub done: u64,
    pub failed: u64,
    pub disallowed: u64,
}

/// One frontier row taken for fetching, with what is known of the page from earlier fetches.
#[derive(Clone, Debug)]
pub(crate) struct FrontierEntry {
    pub(crate) url: String,
    pub(crate) depth: i64,
    pub(crate) kind: Option<String>,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    pub(crate) content_hash: Option<i64>,
}

/// Where a crawl starts: a new run, or the unfinished one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunStart {
    pub(crate) run: i64,
    pub(crate) resumed: bool,
    /// Pages that were being fetched when the previous process stopped, queued again.
    pub(crate) requeued_in_flight: u64,
}

/// How a page ended.
pub(crate) enum Completion<'a> {
    /// Fetched and parsed (or turned into a dead letter); links found on it join the frontier.
    Fetched {
        kind: Option<&'static str>,
        etag: Option<&'a str>,
        last_modified: Option<&'a str>,
        content_hash: i64,
        links: &'a [String],
    },
    /// Answered 304 or the same body as last time.
    Unchanged,
    /// No usable answer after every retry; tried again in the next run.
    Failed,
    /// robots.txt disallows it.
    Disallowed,
}

fn state_error(action: &'static str) -> impl FnOnce(sqlx::Error) -> CrawlError {
    move |source| CrawlError::State { action, source }
}

impl CrawlState {
    /// Opens (creating if missing) the state database at `path` for the crawl called `crawl`.
    pub async fn open(path: &Path, crawl: &str) -> Result<CrawlState, CrawlError> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(state_error("open the state database"))?
            .filename(path)
            .create_if_missing(true)
            // WAL without a sync per commit: a power cut may lose the last few done marks (those
            // pages are fetched again), never corrupt the frontier.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        Self::connect(options, crawl).await
    }

    /// A state that lives as long as this value: the crawl has a seen-set and conditional requests
    /// within the run, but nothing survives the process.
    pub async fn in_memory(crawl: &str) -> Result<CrawlState, CrawlError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(state_error("open an in-memory state"))?;
        Self::connect(options, crawl).await
    }

    async fn connect(options: SqliteConnectOptions, crawl: &str) -> Result<CrawlState, CrawlError> {
        // One connection: the crawl loop is the only writer, and an in-memory database exists once
        // per connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(state_error("open the state database"))?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(state_error("create the state tables"))?;
        Ok(CrawlState {
            pool,
            crawl: crawl.to_owned(),
        })
    }

    /// The crawl's name.
    pub fn name(&self) -> &str {
        &self.crawl
    }

    /// Closes the database, writing everything out.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Frontier rows by state.
    pub async fn counts(&self) -> Result<FrontierCounts, CrawlError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM crawl_frontier WHERE crawl = ?1 GROUP BY state",
        )
        .bind(&self.crawl)
        .fetch_all(&self.pool)
        .await
        .map_err(state_error("count the frontier"))?;
        let mut counts = FrontierCounts::default();
        for row in rows {
            let n = u64::try_from(row.get::<i64, _>("n")).unwrap_or(0);
            match row.get::<String, _>("state").as_str() {
                "queued" => counts.queued = n,
                "in_flight" => counts.in_flight = n,
                "done" => counts.done = n,
                "failed" => counts.failed = n,
                "disallowed" => counts.disallowed = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Whether any page is queued.
    pub(crate) async fn has_queued(&self) -> Result<bool, CrawlError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM crawl_frontier WHERE crawl = ?1 AND state = 'queued')",
        )
        .bind(&self.crawl)
        .fetch_one(&self.pool)
        .await
        .map_err(state_error("look for queued pages"))
    }

    /// Resumes the unfinished run, or starts the next one from `start` (pages done in earlier runs
    /// are revisited when they are search pages or were fetched at or before `revisit_cutoff`,
    /// Unix milliseconds).
    pub(crate) async fn begin_run(
        &self,
        start: &str,
        revisit_cutoff: i64,
    ) -> Result<RunStart, CrawlError> {
        let mut tx = self.begin().await?;
        let current: Option<(i64, i64)> =
            sqlx::query_as("SELECT run, finished FROM crawl_runs WHERE crawl = ?1")
                .bind(&self.crawl)
                .fetch_optional(&mut *tx)
                .await
                .map_err(state_error("read the run"))?;
        let now = Utc::now().timestamp_millis();
        let (run, resumed) = match current {
            Some((run, 0)) => (run, true),
            Some((run, _)) => (run + 1, false),
            None => (1, false),
        };
        sqlx::query(
            "INSERT INTO crawl_runs (crawl, run, finished, start_url, started_at)
             VALUES (?1, ?2, 0, ?3, ?4)
             ON CONFLICT (crawl) DO UPDATE SET run = excluded.run, finished = 0,
                 start_url = excluded.start_url,
                 started_at = CASE WHEN crawl_runs.run = excluded.run THEN crawl_runs.started_at
                                   ELSE excluded.started_at END",
        )
        .bind(&self.crawl)
        .bind(run)
        .bind(start)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(state_error("record the run"))?;
        let requeued = sqlx::query(
            "UPDATE crawl_frontier SET state = 'queued' WHERE crawl = ?1 AND state = 'in_flight'",
        )
        .bind(&self.crawl)
        .execute(&mut *tx)
        .await
        .map_err(state_error("queue interrupted pages again"))?
        .rows_affected();
        self.discover(&mut tx, start, 0, None, run, revisit_cutoff)
            .await?;
        tx.commit()
            .await
            .map_err(state_error("commit the run start"))?;
        Ok(RunStart {
            run,
            resumed,
            requeued_in_flight: requeued,
        })
    }

    /// Takes up to `limit` queued rows, oldest first, marking them in flight.
    pub(crate) async fn claim(&self, limit: usize) -> Result<Vec<FrontierEntry>, CrawlError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "UPDATE crawl_frontier SET state = 'in_flight'
             WHERE seq IN (SELECT seq FROM crawl_frontier WHERE crawl = ?1 AND state = 'queued'
                           ORDER BY seq LIMIT ?2)
             RETURNING seq, url, depth, kind, etag, last_modified, content_hash",
        )
        .bind(&self.crawl)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(state_error("take pages from the frontier"))?;
        let mut entries: Vec<(i64, FrontierEntry)> = rows
            .into_iter()
            .map(|row| {
                (
                    row.get("seq"),
                    FrontierEntry {
                        url: row.get("url"),
                        depth: row.get("depth"),
                        kind: row.get("kind"),
                        etag: row.get("etag"),
                        last_modified: row.get("last_modified"),
                        content_hash: row.get("content_hash"),
                    },
                )
            })
            .collect();
        // RETURNING gives no order guarantee; the frontier is breadth-first by discovery.
        entries.sort_unstable_by_key(|(seq, _)| *seq);
        Ok(entries.into_iter().map(|(_, entry)| entry).collect())
    }

    /// Records how a page ended, and queues the links found on it, in one transaction.
    pub(crate) async fn complete(
        &self,
        entry: &FrontierEntry,
        completion: Completion<'_>,
        run: i64,
        revisit_cutoff: i64,
    ) -> Result<(), CrawlError> {
        let now = Utc::now().timestamp_millis();
        let mut tx = self.begin().await?;
        match completion {
            Completion::Fetched {
                kind,
                etag,
                last_modified,
                content_hash,
                links,
            } => {
                sqlx::query(
                    "UPDATE crawl_frontier SET state = 'done', attempts = attempts + 1,
                         kind = COALESCE(?3, kind), etag = ?4, last_modified = ?5,
                         content_hash = ?6, fetched_at = ?7
                     WHERE crawl = ?1 AND url = ?2",
                )
                .bind(&self.crawl)
                .bind(&entry.url)
                .bind(kind)
                .bind(etag)
                .bind(last_modified)
                .bind(content_hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(state_error("record a fetched page"))?;
                for link in links {
                    self.discover(
                        &mut tx,
                        link,
                        entry.depth + 1,
                        Some(&entry.url),
                        run,
                        revisit_cutoff,
                    )
                    .await?;
                }
            }
            Completion::Unchanged => {
                sqlx::query(
                    "UPDATE crawl_frontier SET state = 'done', attempts = attempts + 1,
                         fetched_at = ?3
                     WHERE crawl = ?1 AND url = ?2",
                )
                .bind(&self.crawl)
                .bind(&entry.url)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(state_error("record an unchanged page"))?;
                // The links of an unchanged search page are those found on it last time.
                if entry.kind.as_deref() == Some(PAGE_KIND_SEARCH) {
                    self.rediscover_links_of(&mut tx, &entry.url, run, revisit_cutoff)
                        .await?;
                }
            }
            Completion::Failed | Completion::Disallowed => {
                let state = if matches!(completion, Completion::Failed) {
                    "failed"
                } else {
                    "disallowed"
                };
                sqlx::query(
                    "UPDATE crawl_frontier SET state = ?3, attempts = attempts + 1
                     WHERE crawl = ?1 AND url = ?2",
                )
                .bind(&self.crawl)
                .bind(&entry.url)
                .bind(state)
                .execute(&mut *tx)
                .await
                .map_err(state_error("record a failed page"))?;
            }
        }
        tx.commit()
            .await
            .map_err(state_error("commit a page's outcome"))
    }

    /// Puts rows taken but not fetched (the page budget ran out) back in the queue.
    pub(crate) async fn release(&self, entries: &[FrontierEntry]) -> Result<(), CrawlError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for entry in entries {
            sqlx::query(
                "UPDATE crawl_frontier SET state = 'queued'
                 WHERE crawl = ?1 AND url = ?2 AND state = 'in_flight'",
            )
            .bind(&self.crawl)
            .bind(&entry.url)
            .execute(&mut *tx)
            .await
            .map_err(state_error("queue unfetched pages again"))?;
        }
        tx.commit()
            .await
            .map_err(state_error("commit released pages"))
    }

    /// Marks the run finished: the next crawl of this name starts a new run.
    pub(crate) async fn finish_run(&self, run: i64) -> Result<(), CrawlError> {
        sqlx::query("UPDATE crawl_runs SET finished = 1 WHERE crawl = ?1 AND run = ?2")
            .bind(&self.crawl)
            .bind(run)
            .execute(&self.pool)
            .await
            .map_err(state_error("finish the run"))?;
        Ok(())
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, CrawlError> {
        self.pool
            .begin()
            .await
            .map_err(state_error("start a transaction"))
    }

    /// Adds a URL to the frontier, or queues a known one again for this run when it is due: a search
    /// page, a page that failed or was never finished, or a page fetched at or before `revisit_cutoff`.
    /// A URL already queued or done in this run is left alone: the seen-set.
    async fn discover(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        url: &str,
        depth: i64,
        found_on: Option<&str>,
        run: i64,
        revisit_cutoff: i64,
    ) -> Result<(), CrawlError> {
        sqlx::query(
            "INSERT INTO crawl_frontier (crawl, url, depth, state, attempts, run, found_on)
             VALUES (?1, ?2, ?3, 'queued', 0, ?4, ?5)
             ON CONFLICT (crawl, url) DO UPDATE SET state = 'queued', run = excluded.run
             WHERE crawl_frontier.run < excluded.run
               AND (crawl_frontier.state != 'done'
                    OR crawl_frontier.kind IS 'search'
                    OR COALESCE(crawl_frontier.fetched_at, 0) <= ?6)",
        )
        .bind(&self.crawl)
        .bind(url)
        .bind(depth)
        .bind(run)
        .bind(found_on)
        .bind(revisit_cutoff)
        .execute(&mut **tx)
        .await
        .map_err(state_error("add a page to the frontier"))?;
        Ok(())
    }

    async fn rediscover_links_of(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        found_on: &str,
        run: i64,
        revisit_cutoff: i64,
    ) -> Result<(), CrawlError> {
        sqlx::query(
            "UPDATE crawl_frontier SET state = 'queued', run = ?3
             WHERE crawl = ?1 AND found_on = ?2 AND run < ?3
               AND (state != 'done' OR kind IS 'search' OR COALESCE(fetched_at, 0) <= ?4)",
        )
        .bind(&self.crawl)
        .bind(found_on)
        .bind(run)
        .bind(revisit_cutoff)
        .execute(&mut **tx)
        .await
        .map_err(state_error("queue the links of an unchanged page"))?;
        Ok(())
    }
}

/// The `kind` stored for listing pages.
pub(crate) const PAGE_KIND_POSTING: &str = "posting";
/// The `kind` stored for pages that held no listing (expired, deleted, unreadable): revisited only
/// when stale, like postings.
pub(crate) const PAGE_KIND_REJECTED: &str = "rejected";
/// The `kind` stored for search and result pages.
pub(crate) const PAGE_KIND_SEARCH: &str = "search";

#[cfg(test)]
mod tests {
    use super::*;

    fn completion_fetched<'a>(kind: &'static str, links: &'a [String]) -> Completion<'a> {
        Completion::Fetched {
            kind: Some(kind),
            etag: Some("\"v1\""),
            last_modified: None,
            content_hash: 42,
            links,
        }
    }

    #[tokio::test]
    async fn a_run_resumes_until_finished_then_the_next_revisits_only_what_is_due() {
        let state = CrawlState::in_memory("t").await.unwrap();
        let far_past = 0;
        let first = state.begin_run("http://a/search", far_past).await.unwrap();
        assert_eq!((first.run, first.resumed), (1, false));

        let search = state.claim(10).await.unwrap();
        assert_eq!(search.len(), 1);
        let links = vec!["http://a/p/1".to_owned(), "http://a/p/2".to_owned()];
        state
            .complete(
                &search[0],
                completion_fetched(PAGE_KIND_SEARCH, &links),
                1,
                far_past,
            )
            .await
            .unwrap();
        // Links already seen in this run are not queued twice.
        state
            .complete(
                &search[0],
                completion_fetched(PAGE_KIND_SEARCH, &links),
                1,
                far_past,
            )
            .await
            .unwrap();
        let postings = state.claim(10).await.unwrap();
        assert_eq!(postings.len(), 2);
        assert_eq!(postings[0].depth, 1);
        state
            .complete(
                &postings[0],
                completion_fetched(PAGE_KIND_POSTING, &[]),
                1,
                far_past,
            )
            .await
            .unwrap();

        // The process dies with one posting in flight: the same run resumes with it queued again.
        let resumed = state.begin_run("http://a/search", far_past).await.unwrap();
        assert_eq!(
            (resumed.run, resumed.resumed, resumed.requeued_in_flight),
            (1, true, 1)
        );
        let again = state.claim(10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].url, "http://a/p/2");
        state
            .complete(
                &again[0],
                completion_fetched(PAGE_KIND_POSTING, &[]),
                1,
                far_past,
            )
            .await
            .unwrap();
        assert!(state.claim(10).await.unwrap().is_empty());
        state.finish_run(1).await.unwrap();

        // Next run, postings fresh: the search page is revisited with its validators; when it is
        // unchanged, its fresh postings are not.
        let second = state.begin_run("http://a/search", far_past).await.unwrap();
        assert_eq!((second.run, second.resumed), (2, false));
        let search = state.claim(10).await.unwrap();
        assert_eq!(search.len(), 1);
        assert_eq!(search[0].etag.as_deref(), Some("\"v1\""));
        assert_eq!(search[0].content_hash, Some(42));
        state
            .complete(&search[0], Completion::Unchanged, 2, far_past)
            .await
            .unwrap();
        assert!(state.claim(10).await.unwrap().is_empty());
        state.finish_run(2).await.unwrap();

        // Next run with every posting stale: an unchanged search page queues its postings again.
        let stale_cutoff = Utc::now().timestamp_millis() + 10_000;
        let third = state
            .begin_run("http://a/search", stale_cutoff)
            .await
            .unwrap();
        assert_eq!(third.run, 3);
        let search = state.claim(10).await.unwrap();
        state
            .complete(&search[0], Completion::Unchanged, 3, stale_cutoff)
            .await
            .unwrap();
        let revisits = state.claim(10).await.unwrap();
        assert_eq!(revisits.len(), 2);
        assert!(
            revisits
                .iter()
                .all(|e| e.kind.as_deref() == Some(PAGE_KIND_POSTING))
        );
        assert_eq!(
            state.counts().await.unwrap(),
            FrontierCounts {
                in_flight: 2,
                done: 1,
                ..FrontierCounts::default()
            }
        );
    }

    #[tokio::test]
    async fn released_rows_are_queued_again_and_crawls_are_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let one = CrawlState::open(&path, "one").await.unwrap();
        let two = CrawlState::open(&path, "two").await.unwrap();
        one.begin_run("http://a/", 0).await.unwrap();
        let taken = one.claim(5).await.unwrap();
        one.release(&taken).await.unwrap();
        assert_eq!(one.counts().await.unwrap().queued, 1);
        assert_eq!(two.counts().await.unwrap(), FrontierCounts::default());
        one.close().await;
        two.close().await;
        let reopened = CrawlState::open(&path, "one").await.unwrap();
        assert_eq!(reopened.counts().await.unwrap().queued, 1);
    }
}

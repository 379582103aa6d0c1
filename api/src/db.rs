//! The database, chosen by URL (`sqlite://` embedded default, `postgres://`), behind one small
//! interface so every handler runs the same code on both.
//!
//! SQL is written once with numbered parameters (`$1`), which both Postgres and sqlx's SQLite
//! driver read; values are bound from [`Param`]s and rows read through [`DbRow`]. Where the
//! dialects differ (full-text search) the caller asks [`Db::backend`]. Integer columns that are
//! `INTEGER` (32-bit) on Postgres are read through `CAST(.. AS BIGINT)`, JSON through `CAST(.. AS
//! TEXT)`, so one Rust type decodes both.

use std::str::FromStr;
use std::time::Duration;

use aiq_schemas::migrations::{Migration, POSTGRES, SQLITE, sqlite_busy};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Decode, Executor, PgPool, Postgres, Row, Sqlite, SqlitePool, Transaction, Type};

use crate::{Error, Result};

/// Key of the advisory lock that serialises migrations between processes: the same key the jobs'
/// store takes ("AIQLeads" in ASCII), so the API and the jobs never migrate at the same time.
const MIGRATION_LOCK_KEY: i64 = 0x4149_514c_6561_6473;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A pool on either backend.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A bound value.
#[derive(Clone, Debug)]
pub(crate) enum Param {
    I64(i64),
    F64(f64),
    Text(String),
    Time(DateTime<Utc>),
    Bool(bool),
    OptI64(Option<i64>),
    OptText(Option<String>),
}

impl Db {
    /// Connects and applies every migration not yet applied (the same bookkeeping as the jobs'
    /// store: `schema_migrations`, one transaction, a lock against concurrent migrators).
    pub(crate) async fn open(url: &str, max_connections: u32) -> Result<Db> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| Error::Config(format!("store.url `{url}`: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(parent) = options
                .get_filename()
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Error::Config(format!("cannot create folder {}: {e}", parent.display()))
                })?;
            }
            // Another process opening the same new file (the jobs, a second API) can hold it for a
            // moment outside the busy handler: such an open is retried for as long as the timeout.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let attempt = async {
                    let pool = SqlitePoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect_with(options.clone())
                        .await?;
                    let db = Db::Sqlite(pool);
                    match db.migrate().await {
                        Ok(()) => Ok(db),
                        Err(failure) => {
                            db.close().await;
                            Err(failure)
                        }
                    }
                }
                .await;
                match attempt {
                    Ok(db) => return Ok(db),
                    Err(failure) if failure.is_busy() && std::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(failure) => return Err(failure.into()),
                }
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(3))
                .connect(url)
                .await?;
            let db = Db::Postgres(pool);
            db.migrate().await?;
            Ok(db)
        } else {
            Err(Error::Config(format!(
                "store.url `{url}` must start with sqlite:// or postgres://"
            )))
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    async fn migrate(&self) -> std::result::Result<(), OpenFailure> {
        match self {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                    .execute(&mut *tx)
                    .await?;
                for migration in SQLITE {
                    let applied =
                        sqlx::query("SELECT version FROM schema_migrations WHERE version = ?")
                            .bind(migration.version)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if applied.is_none() {
                        (&mut *tx)
                            .execute(migration.sql)
                            .await
                            .map_err(|e| migrate_error(migration, e))?;
                        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
                            .bind(migration.version)
                            .bind(migration.name)
                            .bind(Utc::now())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
                    .execute(&mut *tx)
                    .await?;
                for migration in POSTGRES {
                    let applied =
                        sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                            .bind(migration.version)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if applied.is_none() {
                        (&mut *tx)
                            .execute(migration.sql)
                            .await
                            .map_err(|e| migrate_error(migration, e))?;
                        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                            .bind(migration.version)
                            .bind(migration.name)
                            .bind(Utc::now())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// A trivial round trip (readiness).
    pub(crate) async fn ping(&self) -> Result<()> {
        self.fetch_all("SELECT 1 AS one", &[]).await.map(drop)
    }

    pub(crate) async fn fetch_all(&self, sql: &str, params: &[Param]) -> Result<Vec<DbRow>> {
        Ok(match self {
            Db::Sqlite(pool) => bind_sqlite(sqlx::query(sql), params)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(DbRow::Sqlite)
                .collect(),
            Db::Postgres(pool) => bind_pg(sqlx::query(sql), params)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(DbRow::Postgres)
                .collect(),
        })
    }

    pub(crate) async fn fetch_optional(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<DbRow>> {
        Ok(match self {
            Db::Sqlite(pool) => bind_sqlite(sqlx::query(sql), params)
                .fetch_optional(pool)
                .await?
                .map(DbRow::Sqlite),
            Db::Postgres(pool) => bind_pg(sqlx::query(sql), params)
                .fetch_optional(pool)
                .await?
                .map(DbRow::Postgres),
        })
    }

    pub(crate) async fn execute(&self, sql: &str, params: &[Param]) -> Result<u64> {
        Ok(match self {
            Db::Sqlite(pool) => bind_sqlite(sqlx::query(sql), params)
                .execute(pool)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => bind_pg(sqlx::query(sql), params)
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so two
    /// concurrent checkouts queue instead of failing when both try to upgrade a read lock.
    pub(crate) async fn begin(&self) -> Result<DbTx> {
        Ok(match self {
            Db::Sqlite(pool) => DbTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => DbTx::Postgres(pool.begin().await?),
        })
    }

    /// A read-only transaction that sees one snapshot throughout (Postgres `REPEATABLE READ`; a
    /// deferred SQLite transaction in WAL mode holds its first read's snapshot).
    pub(crate) async fn begin_snapshot(&self) -> Result<DbTx> {
        Ok(match self {
            Db::Sqlite(pool) => DbTx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                DbTx::Postgres(tx)
            }
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

fn migrate_error(migration: &'static Migration, error: sqlx::Error) -> OpenFailure {
    OpenFailure::Migration(migration, error)
}

/// Why an open failed, before it becomes an [`Error`] (a busy SQLite file is retried).
enum OpenFailure {
    Database(sqlx::Error),
    Migration(&'static Migration, sqlx::Error),
}

impl OpenFailure {
    fn is_busy(&self) -> bool {
        let (OpenFailure::Database(error) | OpenFailure::Migration(_, error)) = self;
        matches!(error, sqlx::Error::Database(e) if sqlite_busy(e.code().as_deref()))
    }
}

impl From<sqlx::Error> for OpenFailure {
    fn from(error: sqlx::Error) -> Self {
        OpenFailure::Database(error)
    }
}

impl From<OpenFailure> for Error {
    fn from(failure: OpenFailure) -> Self {
        match failure {
            OpenFailure::Database(error) => Error::database(error),
            OpenFailure::Migration(migration, error) => Error::Internal(format!(
                "migration {}-{} failed: {error}",
                migration.version, migration.name
            )),
        }
    }
}

/// An open transaction on either backend; dropped without `commit` it rolls back.
pub(crate) enum DbTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl DbTx {
    pub(crate) async fn fetch_all(&mut self, sql: &str, params: &[Param]) -> Result<Vec<DbRow>> {
        Ok(match self {
            DbTx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), params)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(DbRow::Sqlite)
                .collect(),
            DbTx::Postgres(tx) => bind_pg(sqlx::query(sql), params)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(DbRow::Postgres)
                .collect(),
        })
    }

    pub(crate) async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<DbRow>> {
        Ok(match self {
            DbTx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), params)
                .fetch_optional(&mut **tx)
                .await?
                .map(DbRow::Sqlite),
            DbTx::Postgres(tx) => bind_pg(sqlx::query(sql), params)
                .fetch_optional(&mut **tx)
                .await?
                .map(DbRow::Postgres),
        })
    }

    pub(crate) async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        Ok(match self {
            DbTx::Sqlite(tx) => bind_sqlite(sqlx::query(sql), params)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            DbTx::Postgres(tx) => bind_pg(sqlx::query(sql), params)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            DbTx::Sqlite(tx) => tx.commit().await?,
            DbTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

fn bind_sqlite<'q>(
    mut query: Query<'q, Sqlite, SqliteArguments<'q>>,
    params: &'q [Param],
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    for param in params {
        query = match param {
            Param::I64(v) => query.bind(*v),
            Param::F64(v) => query.bind(*v),
            Param::Text(v) => query.bind(v.as_str()),
            Param::Time(v) => query.bind(*v),
            Param::Bool(v) => query.bind(*v),
            Param::OptI64(v) => query.bind(*v),
            Param::OptText(v) => query.bind(v.as_deref()),
        };
    }
    query
}

fn bind_pg<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    params: &'q [Param],
) -> Query<'q, Postgres, PgArguments> {
    for param in params {
        query = match param {
            Param::I64(v) => query.bind(*v),
            Param::F64(v) => query.bind(*v),
            Param::Text(v) => query.bind(v.as_str()),
            Param::Time(v) => query.bind(*v),
            Param::Bool(v) => query.bind(*v),
            Param::OptI64(v) => query.bind(*v),
            Param::OptText(v) => query.bind(v.as_deref()),
        };
    }
    query
}

/// A row of either backend.
pub(crate) enum DbRow {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl DbRow {
    /// Column `name` as `T` (a type both drivers decode).
    pub(crate) fn get<T>(&self, name: &str) -> Result<T>
    where
        T: for<'r> Decode<'r, Sqlite>
            + Type<Sqlite>
            + for<'r> Decode<'r, Postgres>
            + Type<Postgres>,
    {
        match self {
            DbRow::Sqlite(row) => row.try_get(name),
            DbRow::Postgres(row) => row.try_get(name),
        }
        .map_err(|e| Error::Internal(format!("reading column {name}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes starting together on a new file (the API and the jobs, say) all open and migrate
    /// it, and each migration is recorded once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opens_of_a_new_file_at_the_same_moment_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("new.db").display());
        let opens = (0..8).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Db::open(&url, 2).await })
        });
        let opened: Vec<Db> = futures_util::future::join_all(opens)
            .await
            .into_iter()
            .map(|joined| joined.unwrap().expect("every open succeeds"))
            .collect();
        let rows = opened[0]
            .fetch_all(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap();
        let versions: Vec<i64> = rows.iter().map(|r| r.get("version").unwrap()).collect();
        assert_eq!(
            versions,
            SQLITE.iter().map(|m| m.version).collect::<Vec<_>>()
        );
        for db in opened {
            db.close().await;
        }
    }
}

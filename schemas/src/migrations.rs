//! SQL migrations, one numbered file per change and one folder per backend.
//!
//! The two folders define the same tables; Postgres uses its native types (`JSONB`, `TIMESTAMPTZ`,
//! `DOUBLE PRECISION`), SQLite their closest equivalents. Migrations only ever add (see the evolution
//! rule in the crate docs), so a newer binary can run against an older database after migrating.

/// Whether a SQLite error code (as drivers report it, e.g. `"5"` or `"517"`) is SQLITE_BUSY or
/// SQLITE_LOCKED: another process holds the file, and trying again shortly may succeed. Processes
/// opening a new file at the same moment meet it outside the busy handler (switching the journal to
/// WAL needs the file to themselves), so both the jobs and the API retry their open on it.
pub fn sqlite_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// One migration: its number, a name, and the SQL.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($backend:literal, $version:literal, $file:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(
                "../migrations/",
                $backend,
                "/",
                $file,
                "-",
                $name,
                ".sql"
            )),
        }
    };
}

/// Migrations for SQLite, the embedded default.
pub const SQLITE: &[Migration] = &[
    migration!("sqlite", 10, "010", "leads"),
    migration!("sqlite", 20, "020", "marketplace"),
    migration!("sqlite", 30, "030", "market-stats"),
    migration!("sqlite", 40, "040", "catalog-revisions"),
    migration!("sqlite", 50, "050", "sink-owners"),
];

/// Migrations for Postgres.
pub const POSTGRES: &[Migration] = &[
    migration!("postgres", 10, "010", "leads"),
    migration!("postgres", 20, "020", "marketplace"),
    migration!("postgres", 30, "030", "market-stats"),
    migration!("postgres", 40, "040", "catalog-revisions"),
    migration!("postgres", 50, "050", "sink-owners"),
];

//! SQL migrations, one numbered file per change and one folder per backend.
//!
//! The two folders define the same tables; Postgres uses its native types (`JSONB`, `TIMESTAMPTZ`,
//! `DOUBLE PRECISION`), SQLite their closest equivalents. Migrations only ever add (see the evolution
//! rule in the crate docs), so a newer binary can run against an older database after migrating.

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

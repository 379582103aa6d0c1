use std::path::PathBuf;

/// Errors of the jobs layer. Each variant says which side is at fault and whether retrying may help;
/// bad *records* never appear here (they become dead letters), only failures of the job itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("store migration failed: {0}")]
    Migrate(String),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Bus(#[from] aiq_kafka::Error),
    #[error("crawl: {0}")]
    Crawl(String),
    #[error(
        "{stream}/{partition} was taken over by another member since this one claimed it \
         (generation {generation}); this member lost the partition without noticing and stops \
         rather than write for it"
    )]
    Fenced {
        stream: String,
        partition: i32,
        generation: i64,
    },
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Whether running the same operation again may succeed (a store or broker that was briefly away).
    pub fn retryable(&self) -> bool {
        match self {
            Error::Store(e) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            ),
            Error::Bus(e) => e.retryable(),
            Error::Crawl(_) => true,
            Error::Io { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

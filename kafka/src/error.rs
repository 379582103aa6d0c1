/// Errors of the bus. Bad records never appear here; only failures of the bus itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bus configuration: {0}")]
    Config(String),
    #[error("bus: {0}")]
    Bus(String),
}

impl Error {
    /// Whether the same operation may succeed later (a broker that was briefly away).
    pub fn retryable(&self) -> bool {
        matches!(self, Error::Bus(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

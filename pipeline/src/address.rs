//! US postal addresses in USPS Publication 28 form: delivery lines, unit designators, state codes,
//! ZIP codes, and splitting one-line addresses.
//!
//! ```
//! use aiq_pipeline::address::{normalise_street, split_one_line_address, state_code};
//!
//! let street = normalise_street("123 North Main Street, Apt. #4b").unwrap();
//! assert_eq!(street.display(), "123 N Main St Apt 4B");
//! assert_eq!(street.unit_number.as_deref(), Some("4B"));
//!
//! let parts = split_one_line_address("123 Main Street, Boston, MA 02134").unwrap();
//! assert_eq!((parts.street, parts.city, parts.state), ("123 Main Street", Some("Boston"), Some("MA")));
//! assert_eq!(state_code("Massachusetts"), Some("MA"));
//! ```

mod region;
mod street;
mod tables;

pub use region::{OneLineAddress, normalise_zip, split_one_line_address, state_code};
pub use street::{NormalisedStreet, normalise_street, normalise_unit};

//! Small helpers that several site parsers and both HTTP clients share, kept in one place so a fix
//! reaches every site at once.

pub(crate) mod bot_check;
pub(crate) mod json;
pub(crate) mod links;
pub(crate) mod retry;

//! `odradek-ffi`: the C ABI of the odradek client, for Go (cgo), .NET (P/Invoke) and C.
//!
//! The header `include/odradek.h` is generated from this crate by cbindgen and checked in;
//! `tests/header.rs` fails when it is stale. Every exported function:
//! - catches panics ([`guard`]) so that none crosses the boundary;
//! - returns `*mut OdradekError` (null on success) owned by the caller;
//! - only borrows its pointer arguments for the duration of the call.
//!
//! `unsafe` is confined to this crate's pointer helpers and the exported functions, each use
//! with a `// SAFETY:` note; the contract the caller upholds is written in the header.

#![allow(unsafe_code)]
// The safety contract is the same for every exported function and is written once, in the
// header's preamble and in each function's documentation.
#![allow(clippy::missing_safety_doc)]

mod admin;
mod admin_cluster;
mod admin_configs;
mod admin_groups;
mod admin_security;
mod broker;
mod consumer;
mod consumer_times;
mod error;
mod logging;
mod observability;
mod producer;
mod share;
mod test_cluster;
mod token;
mod transaction;
mod util;

pub use admin::*;
pub use admin_cluster::*;
pub use admin_configs::*;
pub use admin_groups::*;
pub use admin_security::*;
pub use broker::*;
pub use consumer::*;
pub use consumer_times::*;
pub use error::*;
pub use logging::*;
pub use observability::*;
pub use producer::*;
pub use share::*;
pub use test_cluster::*;
pub use token::*;
pub use transaction::*;
pub use util::{
    OdradekCancel, OdradekConfigEntry, odradek_cancel_free, odradek_cancel_new,
    odradek_cancel_trigger,
};

use std::ffi::c_char;

// The core's special offsets (`odradek::consumer::OFFSET_*`); cbindgen needs literals, so
// they are written out and checked against the core at compile time.
/// Offset constant: the first offset of the partition (librdkafka's RD_KAFKA_OFFSET_BEGINNING).
pub const ODRADEK_OFFSET_BEGINNING: i64 = -2;
/// Offset constant: the end of the partition, only new records (RD_KAFKA_OFFSET_END).
pub const ODRADEK_OFFSET_END: i64 = -1;
/// Offset constant: the group's committed offset, else `auto.offset.reset`
/// (RD_KAFKA_OFFSET_STORED).
pub const ODRADEK_OFFSET_STORED: i64 = -1000;
/// Offset constant: "no offset" (a position not known yet, nothing committed).
pub const ODRADEK_OFFSET_INVALID: i64 = -1001;
const _: () = assert!(
    ODRADEK_OFFSET_BEGINNING == odradek::consumer::OFFSET_BEGINNING
        && ODRADEK_OFFSET_END == odradek::consumer::OFFSET_END
        && ODRADEK_OFFSET_STORED == odradek::consumer::OFFSET_STORED
        && ODRADEK_OFFSET_INVALID == odradek::consumer::OFFSET_INVALID
);

/// The library version, a static NUL-terminated string (never freed).
#[unsafe(no_mangle)]
pub extern "C" fn odradek_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

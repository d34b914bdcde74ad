//! Ingest: decoding what senders write (remote_write 1.0 and 2.0, the text
//! exposition formats, Pushgateway paths, OTLP metrics) into batches the
//! storage engine takes. Nothing here knows about HTTP or about storage internals.

pub mod otlp;
pub mod proto;
pub mod push;
pub mod remote_write;
pub mod text;

mod error;
pub use error::IngestError;

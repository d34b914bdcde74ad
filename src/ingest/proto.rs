//! Hand-written prost message types for remote_write 1.0 and 2.0, used by
//! senders (the load generator, tests). The server decodes with the
//! zero-copy decoder in [`super::remote_write`] instead.
//!
//! STUB: to be implemented.

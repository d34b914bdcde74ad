//! The inverted label index: label name → value → roaring bitmap of series ids.
//!
//! * [`Matcher`]: Prometheus label matchers, with regexes analysed so that
//!   literals, alternations of literals and literal prefixes are answered
//!   from the index without running the regex per series.
//! * [`MemPostings`]: the head's mutable index.
//! * [`IndexWriter`] / [`IndexReader`]: a block's immutable on-disk index
//!   (symbols, series with chunk metas, postings as serialized roaring
//!   bitmaps), read through `mmap`.
//! * [`PostingsSource`] and [`select`]: matcher resolution shared by both.

mod block_index;
mod matcher;
mod postings;
mod regex_analysis;
mod select;

#[cfg(test)]
mod matcher_tests;
#[cfg(test)]
mod select_tests;

pub(crate) use block_index::{ChunkMeta, IndexReader, IndexWriter};
pub use matcher::{MatchOp, Matcher};
pub use regex_analysis::{compile_regex, MAX_REGEX_COMPILED_BYTES, MAX_REGEX_DFA_BYTES};
pub(crate) use postings::MemPostings;
#[cfg(test)]
pub(crate) use select::PostingsSource;
pub(crate) use select::{label_names, label_values, select};

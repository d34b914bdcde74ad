//! Gorilla XOR chunk: delta-of-delta timestamps and XOR-compressed floats.
//!
//! STUB: to be implemented. The API below is fixed; the head depends on it.

use super::ChunkDecodeError;
use crate::model::Sample;

/// Appends samples to a Gorilla chunk held in a fixed-capacity buffer.
///
/// The buffer is allocated once, with the capacity given to
/// [`XorAppender::with_capacity`]; the head cuts a new chunk when
/// [`XorAppender::has_room`] is false, so appending never reallocates.
#[derive(Debug, Clone)]
pub(crate) struct XorAppender {
    _todo: (),
}

impl XorAppender {
    /// The most bytes a single append can add to the buffer.
    pub const MAX_SAMPLE_BYTES: usize = 20;

    /// An empty chunk whose buffer holds `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> XorAppender {
        let _ = capacity;
        todo!()
    }

    /// Appends a sample. `t` must be greater than the last appended timestamp.
    pub fn append(&mut self, t: i64, v: f64) {
        let _ = (t, v);
        todo!()
    }

    /// Whether one more sample surely fits without growing the buffer.
    pub fn has_room(&self) -> bool {
        todo!()
    }

    /// Number of samples appended.
    pub fn num_samples(&self) -> usize {
        todo!()
    }

    /// The encoded bytes so far (a valid chunk for [`XorIter`]).
    pub fn bytes(&self) -> &[u8] {
        todo!()
    }

    /// The last appended sample.
    pub fn last(&self) -> Option<Sample> {
        todo!()
    }

    /// Capacity of the buffer in bytes.
    pub fn capacity(&self) -> usize {
        todo!()
    }
}

/// Iterates over the samples of a Gorilla chunk.
pub(crate) struct XorIter<'a> {
    _b: &'a [u8],
}

impl<'a> XorIter<'a> {
    /// Decodes `count` samples from `bytes`.
    pub fn new(bytes: &'a [u8], count: usize) -> XorIter<'a> {
        let _ = count;
        XorIter { _b: bytes }
    }
}

impl Iterator for XorIter<'_> {
    type Item = Result<Sample, ChunkDecodeError>;
    fn next(&mut self) -> Option<Self::Item> {
        todo!()
    }
}

//! Where a block file's bytes come from: a memory map of a local file, or
//! ranges of an object in the bucket read through the on-disk cache
//! (`storage/bucket/remote.rs`). Readers ask for `(offset, len)` and get
//! either a slice of the map or bytes fetched for them; a range past the
//! end is a `DataCorruption` naming the file and offset, never a panic.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use crate::storage::error::{Result, StorageError};

/// Random access to one immutable block file.
pub(crate) trait ByteSource: Send + Sync {
    /// The file's name for error messages.
    fn name(&self) -> &str;
    /// The file's length in bytes.
    fn len(&self) -> u64;
    /// `len` bytes at `off`; a range past the end is `DataCorruption`.
    fn read(&self, off: u64, len: usize) -> Result<Cow<'_, [u8]>>;
}

/// A local block file mapped into memory.
pub(crate) struct MappedFile {
    name: String,
    map: Mmap,
}

impl MappedFile {
    /// Maps the file at `path`.
    pub fn open(path: &Path) -> Result<MappedFile> {
        let f = File::open(path).map_err(|e| StorageError::io(path, e))?;
        // SAFETY: block files are immutable once published; nothing writes them while mapped.
        let map = unsafe { Mmap::map(&f) }.map_err(|e| StorageError::io(path, e))?;
        Ok(MappedFile {
            name: path.display().to_string(),
            map,
        })
    }
}

/// The bytes `[off, off + len)` of `buf`, or a corruption error for `name`.
pub(crate) fn slice_at<'a>(buf: &'a [u8], name: &str, off: u64, len: usize) -> Result<&'a [u8]> {
    usize::try_from(off)
        .ok()
        .and_then(|start| buf.get(start..start.checked_add(len)?))
        .ok_or_else(|| {
            StorageError::corruption(name, off, format!("{len} bytes past the end of the file"))
        })
}

impl ByteSource for MappedFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> u64 {
        self.map.len() as u64
    }

    fn read(&self, off: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        slice_at(&self.map, &self.name, off, len).map(Cow::Borrowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_refuses_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let m = MappedFile::open(&p).unwrap();
        assert_eq!(m.len(), 10);
        for (off, len, want) in [
            (0, 0, Some(&b""[..])),
            (0, 10, Some(&b"0123456789"[..])),
            (9, 1, Some(&b"9"[..])),
            (10, 0, Some(&b""[..])),
            (10, 1, None),
            (3, usize::MAX, None),
            (u64::MAX, 1, None),
        ] {
            let got = m.read(off, len).ok();
            assert_eq!(got.as_deref(), want, "read({off}, {len})");
        }
    }
}

// TEMPORARY until the index branch merges.
use super::{IndexReader, MemPostings, PostingsSource};
use crate::storage::error::Result;
use roaring::RoaringBitmap;
impl PostingsSource for MemPostings {
    fn all_series(&self) -> Result<RoaringBitmap> {
        todo!()
    }
    fn postings(&self, _: &str, _: &str) -> Result<RoaringBitmap> {
        todo!()
    }
    fn scan_values(
        &self,
        _: &str,
        _: &str,
        _: &mut dyn FnMut(&str, &RoaringBitmap) -> bool,
    ) -> Result<()> {
        todo!()
    }
    fn names(&self) -> Result<Vec<String>> {
        todo!()
    }
}
impl PostingsSource for IndexReader {
    fn all_series(&self) -> Result<RoaringBitmap> {
        todo!()
    }
    fn postings(&self, _: &str, _: &str) -> Result<RoaringBitmap> {
        todo!()
    }
    fn scan_values(
        &self,
        _: &str,
        _: &str,
        _: &mut dyn FnMut(&str, &RoaringBitmap) -> bool,
    ) -> Result<()> {
        todo!()
    }
    fn names(&self) -> Result<Vec<String>> {
        todo!()
    }
}

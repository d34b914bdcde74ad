//! The head's in-memory postings.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::select::PostingsSource;
use crate::storage::error::Result;

/// Mutable postings for the head: name → value → bitmap of series ids.
/// Strings are `Arc<str>` shared with the head's symbol table.
///
/// Values sit in a `BTreeMap` so that a prefix matcher walks one byte-ordered
/// range instead of every value of the label.
#[derive(Debug, Default)]
pub(crate) struct MemPostings {
    by_name: HashMap<Arc<str>, BTreeMap<Arc<str>, RoaringBitmap>>,
    all: RoaringBitmap,
}

impl MemPostings {
    /// Adds series `id` under each of its label pairs.
    ///
    /// Empty values are skipped: an empty value means the label is absent,
    /// and absent labels are found by subtraction, never looked up.
    pub fn add(&mut self, id: u32, labels: &[(Arc<str>, Arc<str>)]) {
        for (name, value) in labels.iter().filter(|(_, v)| !v.is_empty()) {
            self.by_name
                .entry(Arc::clone(name))
                .or_default()
                .entry(Arc::clone(value))
                .or_default()
                .insert(id);
        }
        self.all.insert(id);
    }

    /// Removes series `id` from each of its label pairs, dropping emptied entries.
    pub fn remove(&mut self, id: u32, labels: &[(Arc<str>, Arc<str>)]) {
        for (name, value) in labels {
            let Some(values) = self.by_name.get_mut(&**name) else {
                continue;
            };
            if let Some(ids) = values.get_mut(&**value) {
                ids.remove(id);
                if ids.is_empty() {
                    values.remove(&**value);
                }
            }
            if values.is_empty() {
                self.by_name.remove(&**name);
            }
        }
        self.all.remove(id);
    }

    #[cfg(test)]
    /// Number of distinct series ids.
    pub fn num_series(&self) -> u64 {
        self.all.len()
    }
}

impl PostingsSource for MemPostings {
    fn all_series(&self) -> Result<RoaringBitmap> {
        Ok(self.all.clone())
    }

    fn postings(&self, name: &str, value: &str) -> Result<RoaringBitmap> {
        let found = self.by_name.get(name).and_then(|values| values.get(value));
        Ok(found.cloned().unwrap_or_default())
    }

    fn scan_values(
        &self,
        name: &str,
        from: &str,
        f: &mut dyn FnMut(&str, &RoaringBitmap) -> bool,
    ) -> Result<()> {
        let Some(values) = self.by_name.get(name) else {
            return Ok(());
        };
        for (v, ids) in values.range::<str, _>((Bound::Included(from), Bound::Unbounded)) {
            if !f(v, ids) {
                break;
            }
        }
        Ok(())
    }

    fn names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.by_name.keys().map(|n| String::from(&**n)).collect();
        names.sort_unstable();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(Arc<str>, Arc<str>)> {
        p.iter()
            .map(|(n, v)| (Arc::from(*n), Arc::from(*v)))
            .collect()
    }

    fn values(p: &MemPostings, name: &str, from: &str) -> Vec<(String, Vec<u32>)> {
        let mut out = Vec::new();
        p.scan_values(name, from, &mut |v, ids| {
            out.push((v.to_string(), ids.iter().collect()));
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn empty() {
        let p = MemPostings::default();
        assert_eq!(p.num_series(), 0);
        assert!(p.all_series().unwrap().is_empty());
        assert!(p.postings("a", "b").unwrap().is_empty());
        assert!(p.names().unwrap().is_empty());
        assert!(values(&p, "a", "").is_empty());
    }

    #[test]
    fn add_scan_and_remove() {
        let mut p = MemPostings::default();
        p.add(1, &pairs(&[("job", "api"), ("env", "prod")]));
        p.add(2, &pairs(&[("job", "web"), ("env", "prod"), ("skip", "")]));
        p.add(3, &pairs(&[("job", "api")]));
        assert_eq!(p.num_series(), 3);
        assert_eq!(p.names().unwrap(), ["env", "job"]);
        assert_eq!(
            p.postings("job", "api").unwrap().iter().collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(
            values(&p, "job", ""),
            [("api".into(), vec![1, 3]), ("web".into(), vec![2])]
        );
        assert_eq!(values(&p, "job", "b"), [("web".into(), vec![2])]);
        assert_eq!(values(&p, "job", "web"), [("web".into(), vec![2])]);
        assert!(values(&p, "job", "wf").is_empty());

        p.remove(2, &pairs(&[("job", "web"), ("env", "prod")]));
        assert_eq!(p.num_series(), 2);
        assert_eq!(values(&p, "job", ""), [("api".into(), vec![1, 3])]);
        p.remove(1, &pairs(&[("job", "api"), ("env", "prod")]));
        assert_eq!(p.names().unwrap(), ["job"], "emptied names are dropped");
        p.remove(3, &pairs(&[("job", "api")]));
        assert!(p.by_name.is_empty());
        assert_eq!(p.num_series(), 0);
    }

    #[test]
    fn scan_stops_when_asked() {
        let mut p = MemPostings::default();
        for (i, v) in ["a", "b", "c", "d"].iter().enumerate() {
            p.add(i as u32, &pairs(&[("l", v)]));
        }
        let mut seen = Vec::new();
        p.scan_values("l", "b", &mut |v, _| {
            seen.push(v.to_string());
            v < "c"
        })
        .unwrap();
        assert_eq!(seen, ["b", "c"]);
    }

    #[test]
    fn removing_unknown_pairs_is_harmless() {
        let mut p = MemPostings::default();
        p.add(1, &pairs(&[("a", "1")]));
        p.remove(1, &pairs(&[("a", "2"), ("b", "1")]));
        assert_eq!(p.postings("a", "1").unwrap().len(), 1);
        assert_eq!(p.num_series(), 0);
    }
}

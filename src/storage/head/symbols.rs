//! Per-tenant string interning for label names and values.

use std::collections::HashMap;
use std::sync::Arc;

/// Interned id of a label string inside one tenant's head.
pub(crate) type Sym = u32;

/// Each distinct label string is stored once per tenant; series hold
/// [`Sym`] pairs (8 bytes a label) instead of strings. The `Arc<str>` is
/// shared with the postings index, so the index adds no second copy.
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    ids: HashMap<Arc<str>, Sym>,
    strs: Vec<Arc<str>>,
}

impl Symbols {
    /// The id of `s`, interning it if new.
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strs.len() as Sym;
        let a: Arc<str> = Arc::from(s);
        self.strs.push(a.clone());
        self.ids.insert(a, id);
        id
    }

    /// The id of `s` if it is interned.
    #[cfg(test)]
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    /// The string for `id`. Ids come only from [`Symbols::intern`], so this
    /// cannot miss; an unknown id resolves to the empty string rather than panic.
    /// A plain `&str`, so `to_string` copies it directly: on `&Arc<str>` it
    /// went through `Display` (18% of a series lookup's CPU).
    pub fn resolve(&self, id: Sym) -> &str {
        self.shared(id)
    }

    /// [`Symbols::resolve`] as the shared string, for the postings index.
    pub fn shared(&self, id: Sym) -> &Arc<str> {
        static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        self.strs
            .get(id as usize)
            .unwrap_or_else(|| EMPTY.get_or_init(|| Arc::from("")))
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.strs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once() {
        let mut s = Symbols::default();
        let a = s.intern("job");
        let b = s.intern("node");
        assert_ne!(a, b);
        assert_eq!(s.intern("job"), a);
        assert_eq!(s.get("node"), Some(b));
        assert_eq!(s.get("nope"), None);
        assert_eq!(s.resolve(a), "job");
        assert_eq!(s.resolve(999), "");
        assert_eq!(&**s.shared(a), "job");
        assert_eq!(s.len(), 2);
    }
}

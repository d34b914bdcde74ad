//! Structural check of a serialized roaring bitmap before `roaring` sees it.
//!
//! `RoaringBitmap::deserialize_from` rejects most bad input, but it trusts
//! container keys to ascend and does not insist that the input ends where the
//! bitmap does. This pass checks the whole layout the writer produces (the
//! standard format without run containers, as `serialize_into` emits it), so
//! a postings list that decodes is exactly one the writer could have written.

/// `serialize_into`'s cookie: standard format, no run containers.
const COOKIE_NO_RUN: u32 = 12346;
/// Containers with more values than this are 8 KiB bitmaps, else sorted arrays.
const ARRAY_LIMIT: usize = 4096;
const BITMAP_BYTES: usize = 8192;
/// At most one container per high 16 bits of a u32.
const MAX_CONTAINERS: usize = 1 << 16;

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Checks `b` is one well-formed bitmap; on failure gives the offset within
/// `b` and the reason.
pub(super) fn check(b: &[u8]) -> Result<(), (usize, String)> {
    let short = |at: usize| (at, format!("roaring bitmap truncated ({} bytes)", b.len()));
    if le_u32(b, 0).ok_or_else(|| short(0))? != COOKIE_NO_RUN {
        return Err((0, "unexpected roaring cookie".into()));
    }
    let n = le_u32(b, 4).ok_or_else(|| short(4))? as usize;
    if n > MAX_CONTAINERS {
        return Err((4, format!("{n} roaring containers")));
    }
    let descriptions = 8usize;
    let offsets = descriptions + 4 * n;
    let mut at = offsets + 4 * n;
    let mut prev_key: Option<u16> = None;
    for i in 0..n {
        let key = le_u16(b, descriptions + 4 * i).ok_or_else(|| short(descriptions))?;
        let card =
            usize::from(le_u16(b, descriptions + 4 * i + 2).ok_or_else(|| short(descriptions))?)
                + 1;
        if prev_key.is_some_and(|p| p >= key) {
            return Err((
                descriptions + 4 * i,
                "roaring container keys do not ascend".into(),
            ));
        }
        prev_key = Some(key);
        if le_u32(b, offsets + 4 * i).ok_or_else(|| short(offsets))? as usize != at {
            return Err((offsets + 4 * i, "roaring container offset is wrong".into()));
        }
        at = container(b, at, card)?;
    }
    if at != b.len() {
        return Err((
            at,
            format!("roaring bitmap ends at {at} of {} bytes", b.len()),
        ));
    }
    Ok(())
}

/// Checks one container at `at` holding `card` values; returns its end.
fn container(b: &[u8], at: usize, card: usize) -> Result<usize, (usize, String)> {
    if card <= ARRAY_LIMIT {
        let mut prev: Option<u16> = None;
        for j in 0..card {
            let v = le_u16(b, at + 2 * j).ok_or((at, "roaring array truncated".to_string()))?;
            if prev.is_some_and(|p| p >= v) {
                return Err((at + 2 * j, "roaring array values do not ascend".into()));
            }
            prev = Some(v);
        }
        return Ok(at + 2 * card);
    }
    let end = at + BITMAP_BYTES;
    let words = b
        .get(at..end)
        .ok_or((at, "roaring bitmap container truncated".to_string()))?;
    let ones: usize = words.iter().map(|w| w.count_ones() as usize).sum();
    if ones != card {
        return Err((
            at,
            format!("roaring bitmap container holds {ones} values, not {card}"),
        ));
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use roaring::RoaringBitmap;

    fn bytes(ids: impl IntoIterator<Item = u32>) -> Vec<u8> {
        let bm: RoaringBitmap = ids.into_iter().collect();
        let mut out = Vec::new();
        bm.serialize_into(&mut out).unwrap();
        out
    }

    #[test]
    fn accepts_what_roaring_writes() {
        for b in [
            bytes([]),
            bytes([0]),
            bytes([u32::MAX]),
            bytes(0..5000),
            bytes((0..200_000).step_by(3)),
        ] {
            assert_eq!(check(&b), Ok(()));
        }
    }

    #[test]
    fn rejects_bad_layouts() {
        let ok = bytes([1, 2, 70_000]);
        let mut trailing = ok.clone();
        trailing.push(0);
        let mut swapped_keys = bytes([1, 70_000]);
        swapped_keys.swap(8, 12);
        let mut unsorted = bytes([5, 9]);
        let n = unsorted.len();
        unsorted.swap(n - 4, n - 2);
        let mut many = ok.clone();
        many[4..8].copy_from_slice(&70_000u32.to_le_bytes());
        for (name, b) in [
            ("empty", vec![]),
            ("truncated", ok[..ok.len() - 1].to_vec()),
            ("trailing", trailing),
            ("cookie", vec![0; 8]),
            ("keys", swapped_keys),
            ("array order", unsorted),
            ("too many", many),
        ] {
            assert!(check(&b).is_err(), "{name}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(ids in prop::collection::vec(any::<u32>(), 0..64), dense in 0u32..10_000) {
            let b = bytes(ids.iter().copied().chain(0..dense));
            prop_assert_eq!(check(&b), Ok(()));
        }

        #[test]
        fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..64)) {
            if check(&b).is_ok() {
                RoaringBitmap::deserialize_from(&b[..]).unwrap();
            }
        }

        #[test]
        fn mutated_bitmaps_never_panic(ids in prop::collection::vec(0u32..300_000, 0..40), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
            let mut b = bytes(ids);
            for (i, x) in flips {
                let i = i.index(b.len());
                b[i] ^= x;
            }
            if check(&b).is_ok() {
                prop_assert!(RoaringBitmap::deserialize_from(&b[..]).is_ok());
            }
        }
    }
}

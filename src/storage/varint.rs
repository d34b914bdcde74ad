//! Varint and zigzag helpers shared by every encoder in the storage layer.
//!
//! Unsigned varints are LEB128 (7 bits a byte, low group first), as in
//! protobuf. Signed values are zigzag-mapped first.

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-mapped as an unsigned varint.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Maps a signed value onto an unsigned one so small magnitudes stay small.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Reads an unsigned varint from `buf[*pos..]`, advancing `pos`.
/// Returns `None` on a truncated or over-long (more than 10 bytes) varint.
#[inline]
pub(crate) fn get_uvarint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Reads a zigzag varint.
#[inline]
pub(crate) fn get_varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    get_uvarint(buf, pos).map(unzigzag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn uvarint_round_trip(v in any::<u64>()) {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            let mut p = 0;
            prop_assert_eq!(get_uvarint(&b, &mut p), Some(v));
            prop_assert_eq!(p, b.len());
        }

        #[test]
        fn varint_round_trip(v in any::<i64>()) {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut p = 0;
            prop_assert_eq!(get_varint(&b, &mut p), Some(v));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut p = 0;
            let _ = get_uvarint(&bytes, &mut p);
        }
    }

    #[test]
    fn boundaries() {
        for (v, len) in [(0u64, 1), (127, 1), (128, 2), (u64::MAX, 10)] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), len, "{v}");
        }
        assert_eq!(get_uvarint(&[0x80], &mut 0), None);
        assert_eq!(get_uvarint(&[], &mut 0), None);
        assert_eq!(get_uvarint(&[0xff; 11], &mut 0), None);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }
}

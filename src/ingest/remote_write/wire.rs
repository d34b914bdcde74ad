//! A borrowing protobuf wire-format reader.
//!
//! Every read is bounds-checked and every failure names the absolute byte
//! offset in the decompressed body, so a reader over a sub-message reports
//! positions in the same coordinates as the top-level reader.

use crate::ingest::IngestError;

/// Largest field number protobuf allows (2^29 - 1).
const MAX_FIELD: u64 = (1 << 29) - 1;

/// The wire types this reader understands. Groups (3, 4) are deprecated
/// since proto3 and never appear in the remote_write schemas, so they are
/// refused rather than skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

impl WireType {
    fn name(self) -> &'static str {
        match self {
            WireType::Varint => "varint",
            WireType::Fixed64 => "fixed64",
            WireType::Len => "length-delimited",
            WireType::Fixed32 => "fixed32",
        }
    }
}

/// A field key: its number, wire type and where the key started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) number: u32,
    pub(crate) wire: WireType,
    pub(crate) at: usize,
}

/// A cursor over `buf[pos..end]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

pub(crate) type WireResult<T> = Result<T, Box<IngestError>>;

/// The corruption error every decoder returns (boxed so that the hot
/// `Result`s stay two words wide).
#[cold]
#[inline(never)]
pub(crate) fn corrupt(offset: usize, reason: impl Into<String>) -> Box<IngestError> {
    Box::new(IngestError::Protobuf {
        offset,
        reason: reason.into(),
    })
}

#[cold]
#[inline(never)]
fn overrun(start: usize, n: usize, end: usize, what: &str) -> Box<IngestError> {
    let left = end.saturating_sub(start);
    corrupt(
        start,
        format!("{what} of {n} bytes overruns the {left} bytes left"),
    )
}

impl<'a> Reader<'a> {
    /// A reader over the whole buffer.
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// Current absolute offset.
    #[cfg(test)]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Whether unread bytes remain in this (sub-)message.
    #[inline(always)]
    pub(crate) fn has_more(&self) -> bool {
        self.pos < self.end
    }

    /// Reads a base-128 varint of at most 10 bytes.
    #[inline(always)]
    pub(crate) fn varint(&mut self) -> WireResult<u64> {
        // Fast path: most keys, lengths and refs fit in one byte.
        if self.pos < self.end {
            if let Some(&b) = self.buf.get(self.pos) {
                if b < 0x80 {
                    self.pos += 1;
                    return Ok(u64::from(b));
                }
            }
        }
        self.varint_slow()
    }

    #[cold]
    fn varint_slow(&mut self) -> WireResult<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let at = start.wrapping_add(i as usize);
            let b = match self.buf.get(at) {
                Some(&b) if at < self.end => b,
                _ => return Err(corrupt(start, "truncated varint")),
            };
            // The tenth byte may only carry the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(corrupt(start, "varint overflows 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.pos = at + 1;
                return Ok(value);
            }
        }
        Err(corrupt(start, "varint longer than 10 bytes"))
    }

    /// Reads a field key.
    #[inline(always)]
    pub(crate) fn field(&mut self) -> WireResult<Field> {
        let at = self.pos;
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > MAX_FIELD {
            return Err(corrupt(at, format!("invalid field number {number}")));
        }
        let wire = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            3 | 4 => {
                return Err(corrupt(
                    at,
                    format!("field {number}: groups are not supported"),
                ))
            }
            w => {
                return Err(corrupt(
                    at,
                    format!("field {number}: invalid wire type {w}"),
                ))
            }
        };
        Ok(Field {
            number: number as u32,
            wire,
            at,
        })
    }

    #[inline(always)]
    fn take(&mut self, n: usize, what: &'static str) -> WireResult<&'a [u8]> {
        let start = self.pos;
        let bytes = start
            .checked_add(n)
            .filter(|&stop| stop <= self.end)
            .and_then(|stop| self.buf.get(start..stop));
        match bytes {
            Some(b) => {
                self.pos = start + b.len();
                Ok(b)
            }
            None => Err(overrun(start, n, self.end, what)),
        }
    }

    #[inline]
    fn fixed64(&mut self) -> WireResult<u64> {
        let b = self.take(8, "fixed64")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Reads the payload of a length-delimited field.
    #[inline(always)]
    fn len_delimited(&mut self) -> WireResult<&'a [u8]> {
        let at = self.pos;
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| corrupt(at, format!("length {n} too large")))?;
        self.take(n, "length-delimited payload")
    }

    /// Checks that `f` has wire type `want`.
    #[inline(always)]
    pub(crate) fn expect(&self, f: Field, want: WireType) -> WireResult<()> {
        if f.wire == want {
            Ok(())
        } else {
            Err(corrupt(
                f.at,
                format!(
                    "field {}: wire type {}, expected {}",
                    f.number,
                    f.wire.name(),
                    want.name()
                ),
            ))
        }
    }

    /// Reads a varint-typed scalar field.
    #[inline]
    pub(crate) fn read_varint(&mut self, f: Field) -> WireResult<u64> {
        self.expect(f, WireType::Varint)?;
        self.varint()
    }

    /// Reads a `double` field, bit-exact.
    #[inline]
    pub(crate) fn read_double(&mut self, f: Field) -> WireResult<f64> {
        self.expect(f, WireType::Fixed64)?;
        Ok(f64::from_bits(self.fixed64()?))
    }

    /// Reads a `string` or `bytes` field, borrowing the buffer.
    #[inline(always)]
    pub(crate) fn read_bytes(&mut self, f: Field) -> WireResult<&'a [u8]> {
        self.expect(f, WireType::Len)?;
        self.len_delimited()
    }

    /// Reads an embedded message field as a sub-reader.
    #[inline(always)]
    pub(crate) fn read_message(&mut self, f: Field) -> WireResult<Reader<'a>> {
        self.expect(f, WireType::Len)?;
        let bytes = self.len_delimited()?;
        let end = self.pos;
        Ok(Reader {
            buf: self.buf,
            pos: end - bytes.len(),
            end,
        })
    }

    /// Reads one element (unpacked) or a packed run of a repeated varint
    /// field, calling `each` with every value.
    #[inline]
    pub(crate) fn read_packed_varints(
        &mut self,
        f: Field,
        mut each: impl FnMut(u64),
    ) -> WireResult<()> {
        match f.wire {
            WireType::Varint => {
                each(self.varint()?);
                Ok(())
            }
            WireType::Len => {
                let mut sub = self.read_message(f)?;
                while sub.has_more() {
                    each(sub.varint()?);
                }
                Ok(())
            }
            _ => self.expect(f, WireType::Len),
        }
    }

    /// Like [`Self::read_packed_varints`] for a repeated `double` field.
    #[inline]
    pub(crate) fn read_packed_doubles(
        &mut self,
        f: Field,
        mut each: impl FnMut(f64),
    ) -> WireResult<()> {
        match f.wire {
            WireType::Fixed64 => {
                each(f64::from_bits(self.fixed64()?));
                Ok(())
            }
            WireType::Len => {
                let at = self.pos;
                let mut sub = self.read_message(f)?;
                if (sub.end - sub.pos) % 8 != 0 {
                    return Err(corrupt(at, "packed doubles not a multiple of 8 bytes"));
                }
                while sub.has_more() {
                    each(f64::from_bits(sub.fixed64()?));
                }
                Ok(())
            }
            _ => self.expect(f, WireType::Len),
        }
    }

    /// Skips a field this decoder does not need.
    #[inline]
    pub(crate) fn skip(&mut self, f: Field) -> WireResult<()> {
        match f.wire {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.take(8, "fixed64").map(drop),
            WireType::Fixed32 => self.take(4, "fixed32").map(drop),
            WireType::Len => self.len_delimited().map(drop),
        }
    }
}

/// Protobuf `sint32` (zigzag, truncated to 32 bits as the reference
/// implementations do).
pub(crate) fn zigzag32(v: u64) -> i32 {
    let n = v as u32;
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

/// Protobuf `sint64`.
pub(crate) fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_of(bytes: &[u8]) -> WireResult<(u64, usize)> {
        let mut r = Reader::new(bytes);
        let v = r.varint()?;
        Ok((v, r.pos()))
    }

    #[test]
    fn varint_table() {
        let ok: &[(&[u8], u64, usize)] = &[
            (&[0x00], 0, 1),
            (&[0x7f], 127, 1),
            (&[0x80, 0x01], 128, 2),
            (&[0xff, 0xff, 0x03], 65535, 3),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                u64::MAX,
                10,
            ),
            (&[0x96, 0x01, 0xff], 150, 2),
        ];
        for &(bytes, want, len) in ok {
            assert_eq!(varint_of(bytes).unwrap(), (want, len), "{bytes:?}");
        }
        let bad: &[&[u8]] = &[
            &[],
            &[0x80],
            &[0xff, 0xff],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[0xff; 11],
        ];
        for &bytes in bad {
            assert!(matches!(
                varint_of(bytes).map_err(|e| *e),
                Err(IngestError::Protobuf { offset: 0, .. })
            ));
        }
    }

    #[test]
    fn field_keys() {
        type Case = (&'static [u8], Option<(u32, WireType)>);
        let cases: &[Case] = &[
            (&[0x08], Some((1, WireType::Varint))),
            (&[0x11], Some((2, WireType::Fixed64))),
            (&[0x2a], Some((5, WireType::Len))),
            (&[0x0d], Some((1, WireType::Fixed32))),
            (&[0x00], None), // field 0
            (&[0x0b], None), // start group
            (&[0x0c], None), // end group
            (&[0x0e], None), // wire type 6
            (
                &[0xf8, 0xff, 0xff, 0xff, 0x0f],
                Some(((1 << 29) - 1, WireType::Varint)),
            ),
            (&[0x80, 0x80, 0x80, 0x80, 0x10], None), // field 2^29 is too large
        ];
        for &(bytes, want) in cases {
            let got = Reader::new(bytes).field().ok().map(|f| (f.number, f.wire));
            assert_eq!(got, want, "{bytes:?}");
        }
    }

    #[test]
    fn skip_every_wire_type() {
        // varint 1, fixed64 2, len 3 ("ab"), fixed32 4, then varint 5 = 7.
        let buf = [
            0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1a, 2, b'a', b'b', 0x25, 1, 2, 3, 4,
            0x28, 7,
        ];
        let mut r = Reader::new(&buf);
        for _ in 0..4 {
            let f = r.field().unwrap();
            r.skip(f).unwrap();
        }
        let f = r.field().unwrap();
        assert_eq!(r.read_varint(f).unwrap(), 7);
        assert!(!r.has_more());
    }

    #[test]
    fn truncated_payloads_name_their_offset() {
        // len field claiming 5 bytes with 2 left; the length varint is at 1.
        let mut r = Reader::new(&[0x0a, 5, 1, 2]);
        let f = r.field().unwrap();
        let err = r.read_bytes(f).unwrap_err();
        assert!(
            matches!(*err, IngestError::Protobuf { offset: 2, .. }),
            "{err}"
        );
        let mut r = Reader::new(&[0x09, 1, 2, 3]);
        let f = r.field().unwrap();
        assert!(r.read_double(f).is_err());
        let mut r = Reader::new(&[0x08, 1]);
        let f = r.field().unwrap();
        let err = r.read_bytes(f).unwrap_err();
        assert!(err.to_string().contains("wire type varint"), "{err}");
    }

    #[test]
    fn sub_message_cannot_read_past_its_end() {
        // message of 2 bytes containing a len field claiming 3 bytes.
        let buf = [0x0a, 2, 0x0a, 3, b'x', b'y', b'z'];
        let mut r = Reader::new(&buf);
        let f = r.field().unwrap();
        let mut sub = r.read_message(f).unwrap();
        let f = sub.field().unwrap();
        assert!(sub.read_bytes(f).is_err());
        assert_eq!(r.pos(), 4);
    }

    #[test]
    fn packed_and_unpacked_repeated() {
        let mut got = Vec::new();
        // packed [1, 300], then unpacked 5.
        let buf = [0x0a, 3, 1, 0xac, 0x02, 0x08, 5];
        let mut r = Reader::new(&buf);
        while r.has_more() {
            let f = r.field().unwrap();
            r.read_packed_varints(f, |v| got.push(v)).unwrap();
        }
        assert_eq!(got, [1, 300, 5]);
        let mut r = Reader::new(&[0x0a, 3, 0, 0, 0]);
        let f = r.field().unwrap();
        assert!(r.read_packed_doubles(f, |_| ()).is_err());
    }

    #[test]
    fn zigzag_table() {
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(1), -1);
        assert_eq!(zigzag32(2), 1);
        assert_eq!(zigzag32(u64::from(u32::MAX)), i32::MIN);
        assert_eq!(zigzag64(u64::MAX), i64::MIN);
        assert_eq!(zigzag64(u64::MAX - 1), i64::MAX);
    }
}

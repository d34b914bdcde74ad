//! Remote read's streamed answer, as a client reads it: frames of
//! `uvarint(len) | crc32c(msg) big-endian | msg`, each checksum checked.

use prost::Message;
use tessera::ingest::proto::read::ChunkedReadResponse;

/// The frames of a streamed body, each checked against its CRC32C.
pub fn frames(mut body: &[u8]) -> Vec<ChunkedReadResponse> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let mut len = 0usize;
        let mut n = 0;
        loop {
            let b = body[n];
            len |= usize::from(b & 0x7f) << (7 * n);
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let crc = u32::from_be_bytes(body[n..n + 4].try_into().unwrap());
        let msg = &body[n + 4..n + 4 + len];
        assert_eq!(crc32c::crc32c(msg), crc, "frame checksum");
        out.push(ChunkedReadResponse::decode(msg).unwrap());
        body = &body[n + 4 + len..];
    }
    out
}

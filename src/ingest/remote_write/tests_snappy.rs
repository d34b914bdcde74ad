//! Snappy block decompression: limits and corruption.

use prost::Message;

use super::*;
use crate::ingest::proto::{encode_snappy, v2};

#[test]
fn snappy_round_trip_and_limit() {
    let req = v2::RequestBuilder::new().build();
    let body = encode_snappy(&req);
    assert_eq!(
        snappy_decompress(&body, 1 << 20).unwrap(),
        req.encode_to_vec()
    );
    let raw = vec![7u8; 1000];
    let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
    assert_eq!(snappy_decompress(&body, 1000).unwrap(), raw);
    assert_eq!(
        snappy_decompress(&body, 999),
        Err(IngestError::TooLarge {
            size: 1000,
            limit: 999
        })
    );
    assert_eq!(snappy_decompress(&[0], 0).unwrap(), Vec::<u8>::new());
}

#[test]
fn snappy_refuses_a_huge_header_before_allocating() {
    // Header declares 2^32 - 1 bytes; there is no data behind it.
    let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
    let err = snappy_decompress(&body, DEFAULT_MAX_DECOMPRESSED).unwrap_err();
    assert_eq!(
        err,
        IngestError::TooLarge {
            size: u32::MAX as usize,
            limit: DEFAULT_MAX_DECOMPRESSED
        }
    );
}

#[test]
fn snappy_corruption_is_reported() {
    let body = snap::raw::Encoder::new().compress_vec(&[1u8; 100]).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated", body[..body.len() - 1].to_vec()),
        ("not snappy", b"{\"json\": true}".to_vec()),
        ("bad header varint", vec![0xff; 11]),
    ];
    for (name, b) in cases {
        match snappy_decompress(&b, 1 << 20) {
            Err(IngestError::Snappy(msg)) => assert!(!msg.is_empty(), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

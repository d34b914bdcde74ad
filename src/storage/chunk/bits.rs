//! Bit-level writer and reader for the XOR chunk.

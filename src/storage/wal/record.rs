//! Record framing and payload codecs.

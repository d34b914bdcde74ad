//! Segment files: naming, creation, reading.

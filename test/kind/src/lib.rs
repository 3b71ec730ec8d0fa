//! The end-to-end suite lives in `tests/`; this crate has no library code.

//! Nothing here: see `tests/fork.rs`.

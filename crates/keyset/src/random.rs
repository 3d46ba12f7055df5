//! Randomness that does not repeat across `fork()`.
//!
//! Nonces and data keys come from `stream-random`: a ChaCha20
//! fast-key-erasure generator per thread whose state lives in a page the
//! kernel wipes in a forked child (`MADV_WIPEONFORK`), so a child seeds
//! itself from the operating system before its first draw, whatever
//! process id it gets. (A pid check before each draw was tried first and
//! missed a grandchild that got the original pid back; one `getrandom`
//! call per draw came next and cost about 1 µs per envelope on a loaded
//! day.) Keys of a keyset come straight from the operating system; an
//! envelope's data keys are drawn like nonces, so their secrecy rests on
//! the thread generator's too (its state is erased as it is used). See
//! `docs/DECISIONS.md`, "Fork-safe randomness".

use crate::error::{Error, Result};

/// Fills `buf` (nonces, data keys) from the thread's fork-safe generator.
///
/// # Errors
/// [`Error::Randomness`] when the operating system's generator cannot be
/// reached to seed it; nothing usable was drawn.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    stream_random::fill(buf).map_err(|_| Error::Randomness)
}

/// Fills `buf` with key material straight from the operating system, for
/// key generation, whose API cannot fail: without the operating system's
/// generator no key can be made safely, and the process stops, as
/// BoringSSL's `RAND_bytes` and `rand::rng()` do when they cannot draw.
/// Unreachable on a working system: `getrandom` blocks until the kernel's
/// generator is seeded, and falls back to `/dev/urandom` where the system
/// call is missing.
pub(crate) fn fill_or_abort(buf: &mut [u8]) {
    if stream_random::fill_from_os(buf).is_err() {
        std::process::abort();
    }
}

/// A random `u32` (key ids; not secret, unique within a keyset).
pub(crate) fn next_u32() -> u32 {
    let mut bytes = [0u8; 4];
    fill_or_abort(&mut bytes);
    u32::from_be_bytes(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// Two draws differ (the generator is not stuck).
    #[test]
    fn draws_differ() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        super::fill(&mut a).unwrap();
        super::fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}

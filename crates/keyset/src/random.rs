//! Randomness that does not repeat across `fork()`.
//!
//! Nonces, data keys and key material come straight from the operating
//! system's generator (`getrandom`), with no state in user space: a forked
//! child has nothing to inherit, so parent and child never draw the same
//! nonces. (A thread generator reseeded when the process id changes was
//! tried first; a review showed it misses a fork when a child that never
//! drew forks a grandchild that gets the original process id back, pid
//! reuse or a new pid namespace.) An envelope draws its data key and both
//! nonces in one call. Cost: about 330 ns per draw here (see
//! `docs/PERFORMANCE.md`).

use crate::error::{Error, Result};

/// Fills `buf` from the operating system's generator.
///
/// # Errors
/// [`Error::Randomness`] when the operating system's generator cannot be
/// reached; nothing was drawn.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Randomness)
}

/// Fills `buf` for key generation, whose API cannot fail: without the
/// operating system's generator no key can be made safely, and the process
/// stops (as `rand` does when it cannot seed at all). Unreachable on a
/// working system: `getrandom` blocks until the kernel's generator is
/// seeded.
pub(crate) fn fill_or_abort(buf: &mut [u8]) {
    if fill(buf).is_err() {
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

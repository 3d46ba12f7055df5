//! Randomness that does not repeat across `fork()`.
//!
//! Nonces, data keys and key material come from the thread's
//! cryptographically secure generator (`rand::rng()`: ChaCha12 seeded from
//! the operating system, reseeded periodically), which a forked child would
//! otherwise inherit with its whole state: parent and child would draw the
//! same nonces (keystream reuse, and with GCM the authentication key). So
//! before every draw the process id is compared with the one the thread's
//! generator was last (re)seeded in; a different one means this is a child
//! (the only thread of a child is a copy of the forking thread, with its
//! thread-local state), and the generator is reseeded from the operating
//! system first. A child never has its parent's id while the parent runs,
//! and a recorded id belongs to the process that reseeded, so the check
//! cannot miss a fork. Cost: one `getpid` per draw (about 75 ns here).

use std::cell::Cell;

use rand::RngCore as _;

use crate::error::{Error, Result};

thread_local! {
    /// The process id this thread's generator was last reseeded in.
    static SEEDED_IN: Cell<u32> = const { Cell::new(0) };
}

/// The thread's generator, reseeded first if this is a forked child;
/// `None` if it needed reseeding and the operating system's generator
/// could not be reached (drawing then would repeat the parent's stream).
fn generator() -> Option<rand::rngs::ThreadRng> {
    let mut rng = rand::rng();
    let pid = std::process::id();
    if SEEDED_IN.with(Cell::get) != pid {
        rng.reseed().ok()?;
        SEEDED_IN.with(|s| s.set(pid));
    }
    Some(rng)
}

/// Fills `buf` with random bytes, fork-safe.
///
/// # Errors
/// [`Error::Randomness`] when the generator must be reseeded (a forked
/// child) and the operating system's generator cannot be reached.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    generator().ok_or(Error::Randomness)?.fill_bytes(buf);
    Ok(())
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

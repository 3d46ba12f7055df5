//! Random bytes for nonces and data keys: fast, and never repeated across
//! `fork()`.
//!
//! ```
//! let mut nonce = [0u8; 12];
//! stream_random::fill(&mut nonce)?;
//! # Ok::<(), stream_random::Error>(())
//! ```
//!
//! # Design
//!
//! Each thread has a ChaCha20 generator with *fast key erasure*
//! (D. J. Bernstein, "Fast-key-erasure random-number generators", 2017): a
//! 32-byte key expands into 512 bytes of keystream, whose first 32 bytes
//! replace the key at once and whose other 480 are handed out, each byte
//! wiped as it leaves. Whoever reads the state afterwards learns nothing of
//! what was drawn before. The key is seeded from the operating system's
//! generator and replaced by a fresh seed every 4,096 refills (about
//! 1.9 MiB of output).
//!
//! The state lives in a page of its own that the kernel zeroes in a forked
//! child (`MADV_WIPEONFORK`, Linux 4.14+); a zero state is an unseeded one,
//! so a child seeds itself from the operating system before its first draw
//! and never repeats its parent's bytes, whatever process ids it gets. This
//! is the scheme of AWS-LC and of glibc 2.41's `getrandom` vDSO. Where the
//! kernel cannot wipe on fork (another system, an older kernel, a thread
//! being torn down), every byte comes straight from the operating system.
//!
//! Not covered: a virtual machine snapshot restored twice (both copies
//! continue the same state), and a process that forks inside a signal
//! handler that interrupted a draw and then draws in the child from that
//! same interrupted thread.
//!
//! # Cost
//!
//! A draw of up to 480 bytes is a copy and a wipe; a refill is eight
//! ChaCha20 blocks. See `docs/PERFORMANCE.md` ("Fork-safe randomness").

#[cfg(any(target_os = "linux", target_os = "android"))]
mod page;

use chacha20::cipher::{KeyIvInit as _, StreamCipher as _};
use zeroize::Zeroize;

/// The operating system's generator could not be reached (`getrandom`
/// failed); the output buffer holds nothing usable. Unreachable on a
/// working Linux: `getrandom` blocks until the kernel is seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error;

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(
            "the operating system's random generator could not be reached: \
             check that getrandom(2) or /dev/urandom is available to the process",
        )
    }
}

impl std::error::Error for Error {}

/// Fills `buf` with random bytes from this thread's fork-safe generator.
///
/// # Errors
/// [`Error`] when the operating system's generator, needed to seed or
/// reseed, could not be reached; `buf` must then not be used.
pub fn fill(buf: &mut [u8]) -> Result<(), Error> {
    if buf.is_empty() {
        return Ok(());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(drawn) = thread::draw(buf) {
        return drawn;
    }
    fill_from_os(buf)
}

/// Fills `buf` straight from the operating system's generator, with no
/// state in this process (key generation, where a system call costs
/// nothing that matters).
///
/// # Errors
/// [`Error`] when the operating system's generator could not be reached.
pub fn fill_from_os(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| Error)
}

/// Whether this thread's draws come from the wipe-on-fork generator
/// (`true`) or straight from the operating system (`false`). Both are
/// fork-safe; the answer only says which cost is paid.
pub fn uses_wipe_on_fork() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        thread::has_page()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        false
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod thread {
    use crate::page::Page;
    use crate::Error;
    use std::cell::RefCell;

    enum Slot {
        /// This thread has not drawn yet.
        Unset,
        /// The wipe-on-fork page.
        Page(Page),
        /// The kernel refused the page: use the operating system.
        Unavailable,
    }

    thread_local! {
        static SLOT: RefCell<Slot> = const { RefCell::new(Slot::Unset) };
    }

    fn with_page<T>(f: impl FnOnce(&mut Page) -> T) -> Option<T> {
        SLOT.try_with(|slot| {
            // A draw cannot re-enter itself; if it ever did, the
            // operating system serves the inner one.
            let mut slot = slot.try_borrow_mut().ok()?;
            if matches!(*slot, Slot::Unset) {
                *slot = Page::new().map_or(Slot::Unavailable, Slot::Page);
            }
            match &mut *slot {
                Slot::Page(page) => Some(f(page)),
                Slot::Unset | Slot::Unavailable => None,
            }
        })
        // The thread is being torn down: no page any more.
        .ok()
        .flatten()
    }

    /// A draw from this thread's page, or `None` when there is none.
    pub(crate) fn draw(buf: &mut [u8]) -> Option<Result<(), Error>> {
        with_page(|page| page.state().draw(buf))
    }

    pub(crate) fn has_page() -> bool {
        with_page(|_| ()).is_some()
    }
}

/// Bytes of keystream per refill: eight ChaCha20 blocks.
const BLOCK: usize = 512;
/// The generator key, the first bytes of each refill.
const KEY: usize = 32;
/// Refills between two seeds from the operating system.
const RESEED_AFTER: u32 = 4096;
/// The nonce of every refill: each key is used for one refill only.
const NONCE: [u8; 12] = [0; 12];

/// The generator's state. All zero is a valid, unseeded state: it is what
/// a fresh page and a forked child's page hold.
#[repr(C)]
#[derive(Zeroize)]
pub(crate) struct State {
    /// The key of the next refill.
    key: [u8; KEY],
    /// The current refill; bytes before `pos` are already wiped.
    block: [u8; BLOCK],
    /// The next byte of `block` to hand out (`< KEY` or `>= BLOCK`: none).
    pos: usize,
    /// Refills left before the next seed.
    refills_left: u32,
    /// Non-zero once seeded; zero in a forked child.
    seeded: u32,
}

impl State {
    /// Fills `out`, seeding first if needed.
    fn draw(&mut self, mut out: &mut [u8]) -> Result<(), Error> {
        if self.seeded == 0 {
            self.seed()?;
        }
        while !out.is_empty() {
            if self.pos < KEY || self.pos >= BLOCK {
                self.refill()?;
            }
            let n = out.len().min(BLOCK - self.pos);
            let (head, rest) = out.split_at_mut(n);
            let source = &mut self.block[self.pos..self.pos + n];
            head.copy_from_slice(source);
            source.zeroize();
            self.pos += n;
            out = rest;
        }
        Ok(())
    }

    /// A fresh key from the operating system; the current refill is
    /// dropped.
    fn seed(&mut self) -> Result<(), Error> {
        self.block.zeroize();
        self.pos = BLOCK;
        fill_from_os(&mut self.key)?;
        self.refills_left = RESEED_AFTER;
        self.seeded = 1;
        Ok(())
    }

    /// The next 512 bytes of keystream; the first 32 become the key.
    fn refill(&mut self) -> Result<(), Error> {
        if self.refills_left == 0 {
            self.seed()?;
        }
        self.refills_left -= 1;
        let expanded = self.expand();
        // The cipher's backends leave copies of its state and keystream in
        // stack buffers they do not wipe (`cipher`'s block buffers, the
        // SSE2 backend's spills): wipe the stack they used.
        wipe_stack();
        expanded?;
        self.key.copy_from_slice(&self.block[..KEY]);
        self.block[..KEY].zeroize();
        self.pos = KEY;
        Ok(())
    }

    /// `block` = ChaCha20 keystream of `key` (nonce 0, counters 0 to 7).
    #[inline(never)]
    fn expand(&mut self) -> Result<(), Error> {
        self.block.zeroize();
        // The lengths are the constants ChaCha20 takes, so this cannot
        // fail; if it did, nothing would be handed out (`pos` unchanged,
        // `block` all zero).
        let mut cipher =
            chacha20::ChaCha20::new_from_slices(&self.key, &NONCE).map_err(|_| Error)?;
        cipher.apply_keystream(&mut self.block);
        Ok(())
    }
}

/// Bytes of stack below the caller that [`wipe_stack`] zeroes: more than
/// the cipher's frames use. Checked by scanning the dead stack after a
/// refill: release builds of the AVX2 and SSE2 backends leave key and
/// keystream copies up to about 1.6 KiB deep, debug builds up to 11 KiB.
const STACK_WIPE: usize = if cfg!(debug_assertions) { 16384 } else { 4096 };

/// Zeroes the `STACK_WIPE` bytes of stack that the frames of a call made
/// just before from the same frame occupied.
#[inline(never)]
fn wipe_stack() {
    let mut stack = [0u64; STACK_WIPE / 8];
    stack.zeroize();
    core::hint::black_box(&stack);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A seeded state with a known key (no operating system involved).
    fn seeded(key: [u8; KEY]) -> Box<State> {
        Box::new(State {
            key,
            block: [0; BLOCK],
            pos: BLOCK,
            refills_left: RESEED_AFTER,
            seeded: 1,
        })
    }

    /// The fast-key-erasure stream written out independently: ChaCha20
    /// keystream of each key, 32 bytes to the next key, 480 out.
    fn reference(mut key: [u8; KEY], len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < len {
            let mut block = [0u8; BLOCK];
            let mut c = chacha20::ChaCha20::new(&key.into(), &NONCE.into());
            c.apply_keystream(&mut block);
            key.copy_from_slice(&block[..KEY]);
            out.extend_from_slice(&block[KEY..]);
        }
        out.truncate(len);
        out
    }

    proptest! {
        /// However the output is requested, it is the reference stream.
        #[test]
        fn chunking_does_not_change_the_stream(
            key in any::<[u8; KEY]>(),
            sizes in proptest::collection::vec(0usize..1500, 0..20),
        ) {
            let total: usize = sizes.iter().sum();
            let mut state = seeded(key);
            let mut drawn = Vec::new();
            for size in &sizes {
                let mut part = vec![0u8; *size];
                state.draw(&mut part).unwrap();
                drawn.extend_from_slice(&part);
            }
            prop_assert_eq!(drawn, reference(key, total));
        }

        /// Nothing handed out stays in the state, and the key in the state
        /// is not the one that produced what was handed out.
        #[test]
        fn drawn_bytes_are_erased(key in any::<[u8; KEY]>(), size in 1usize..2000) {
            let mut state = seeded(key);
            let mut out = vec![0u8; size];
            state.draw(&mut out).unwrap();
            prop_assert!(state.block[..state.pos].iter().all(|b| *b == 0));
            prop_assert_ne!(state.key, key);
        }
    }

    /// An all-zero state (a forked child's) seeds itself before drawing.
    #[test]
    fn zero_state_seeds_from_the_system() {
        let mut state: Box<State> = seeded([0; KEY]);
        state.zeroize();
        let mut out = [0u8; 64];
        state.draw(&mut out).unwrap();
        assert_eq!(state.seeded, 1);
        assert_ne!(&out[..], &reference([0; KEY], 64)[..]);
    }

    /// After `RESEED_AFTER` refills the key comes from the system again.
    #[test]
    fn reseeds_after_the_limit() {
        let mut state = seeded([7; KEY]);
        state.refills_left = 1;
        let mut out = vec![0u8; 2 * (BLOCK - KEY)];
        state.draw(&mut out).unwrap();
        assert_eq!(&out[..BLOCK - KEY], &reference([7; KEY], BLOCK - KEY)[..]);
        assert_ne!(out, reference([7; KEY], out.len()));
        assert_eq!(state.refills_left, RESEED_AFTER - 1);
    }

    /// The thread's generator works, uses the page here, and two draws
    /// differ.
    #[test]
    fn thread_draws_differ() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, b);
    }

    /// Threads do not share a stream.
    #[test]
    fn threads_differ() {
        let draw = || {
            let mut a = [0u8; 32];
            fill(&mut a).unwrap();
            a
        };
        let other = std::thread::spawn(draw).join().unwrap();
        assert_ne!(draw(), other);
    }
}

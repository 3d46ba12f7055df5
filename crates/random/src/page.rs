//! The generator's state in a page of its own that the kernel zeroes in a
//! forked child (`MADV_WIPEONFORK`, Linux 4.14 and later).
//!
//! This is the workspace's only `unsafe` code: three system calls (`mmap`,
//! `madvise`, `munmap`) and the reference to the mapped state. Each block
//! says why it is sound. Where the kernel cannot wipe on fork (an older
//! kernel, another operating system), [`Page::new`] returns `None` and the
//! caller takes every byte from the operating system's generator instead;
//! on other operating systems this module is not built at all.

use crate::State;

/// A private anonymous mapping holding one [`State`], wiped by the kernel in
/// any child created by `fork()` (or `clone()` without `CLONE_VM`).
///
/// Owned by one thread (`NonNull` makes it neither `Send` nor `Sync`), so
/// the `&mut State` it hands out is never aliased.
pub(crate) struct Page {
    state: core::ptr::NonNull<State>,
    len: usize,
}

#[allow(unsafe_code)]
impl Page {
    /// Maps and marks a new page; `None` when the kernel refuses either
    /// step (nothing stays mapped then).
    pub(crate) fn new() -> Option<Page> {
        // SAFETY: `sysconf` reads a constant of the system; no memory is
        // touched.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page_size = usize::try_from(page_size).ok()?;
        let len = core::mem::size_of::<State>()
            .div_ceil(page_size)
            .checked_mul(page_size)?;
        // SAFETY: a new private anonymous mapping at an address the kernel
        // picks; it cannot overlap memory Rust already uses. The result is
        // checked before use.
        let addr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return None;
        }
        let state = core::ptr::NonNull::new(addr.cast::<State>())?;
        let page = Page { state, len };
        // Some environments (QEMU user mode, as BoringSSL and AWS-LC note)
        // answer every `madvise` with success and do nothing: trust the
        // answer to `MADV_WIPEONFORK` only where advice that does not
        // exist is refused. (If this returns `None`, `page` is dropped and
        // unmapped.)
        // SAFETY: advice on the mapping made above; an unknown advice value
        // changes nothing but the return code.
        let bogus = unsafe { libc::madvise(addr, len, -1) };
        if bogus == 0 {
            return None;
        }
        // SAFETY: `addr..addr + len` is the mapping made above, page
        // aligned as `mmap` returns it; the advice changes what a child
        // inherits, not this process's memory.
        let wiped = unsafe { libc::madvise(addr, len, libc::MADV_WIPEONFORK) };
        if wiped != 0 {
            return None;
        }
        // Best effort: keep the generator out of core dumps and swap. Their
        // failure (a memory-lock limit) changes nothing about fork safety.
        // SAFETY: advice on the mapping made here.
        let _ = unsafe { libc::madvise(addr, len, libc::MADV_DONTDUMP) };
        // SAFETY: locks the pages of the mapping made here in memory.
        let _ = unsafe { libc::mlock(addr, len) };
        Some(page)
    }

    /// The state, all zero when fresh and in a forked child.
    pub(crate) fn state(&mut self) -> &mut State {
        // SAFETY: the pointer is the start of a live mapping of at least
        // `size_of::<State>()` bytes, page aligned (more than `State`'s
        // alignment); the memory is initialised (zero-filled by the kernel)
        // and every bit pattern of zeros is a valid `State` (arrays of
        // bytes and integers only). `&mut self` makes this the only
        // reference for its lifetime. The kernel writes the page only in a
        // new child at `fork()`, where the reference is not live: the
        // forking thread is not inside a draw, and the other threads do not
        // exist in the child. (The one exception, a signal handler that
        // forks while its thread was inside a draw and then draws again in
        // the child, is excluded in the crate's documentation; the child
        // would then see zeros where it had bytes, never another process's
        // bytes.)
        unsafe { self.state.as_mut() }
    }
}

#[allow(unsafe_code)]
impl Drop for Page {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.state());
        // SAFETY: unmaps exactly the mapping made in `new`; no reference
        // into it outlives `self`. A failure leaves a mapping of zeros.
        let _ = unsafe { libc::munmap(self.state.as_ptr().cast(), self.len) };
    }
}

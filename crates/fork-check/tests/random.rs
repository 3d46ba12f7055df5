//! The generator of `stream-random` itself across `fork()`: a child's first
//! bytes are not its parent's next ones, also two forks down, and the child
//! still uses the wipe-on-fork page (so these tests exercise it, not the
//! operating system fallback).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// Runs `f` in a forked child and returns what it wrote.
fn in_child(f: fn() -> Vec<u8>) -> Vec<u8> {
    let (mut parent_end, mut child_end) = UnixStream::pair().unwrap();
    // SAFETY: the child only draws, forks in turn, writes to its socket and
    // leaves with `_exit`, without returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // A panic must not unwind into the harness's copy in the child.
        let code = match std::panic::catch_unwind(f) {
            Ok(message) => i32::from(child_end.write_all(&message).is_err()),
            Err(_) => 2,
        };
        // SAFETY: ends the child at once, as above.
        unsafe { libc::_exit(code) };
    }
    drop(child_end);
    let mut message = Vec::new();
    parent_end.read_to_end(&mut message).unwrap();
    let mut status = 0;
    // SAFETY: waits for the child made above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(status, 0, "the child failed");
    message
}

fn draw() -> Vec<u8> {
    let mut bytes = vec![0u8; 64];
    stream_random::fill(&mut bytes).unwrap();
    bytes
}

/// A child draws, and says whether it used the page.
fn child() -> Vec<u8> {
    let mut message = draw();
    message.push(u8::from(stream_random::uses_wipe_on_fork()));
    message
}

/// A child that never draws forks a grandchild, then draws after it.
fn child_of_child() -> Vec<u8> {
    let mut message = in_child(child);
    message.extend_from_slice(&child());
    message
}

#[test]
fn a_child_does_not_repeat_its_parent() {
    // Seeded and in use before the fork: this state is what a child would
    // inherit without the wipe.
    let _ = draw();
    assert!(stream_random::uses_wipe_on_fork());
    let from_child = in_child(child);
    let from_parent = draw();
    assert_eq!(from_child.len(), 65);
    assert_eq!(from_child[64], 1, "the child did not use the page");
    assert_ne!(
        &from_child[..64],
        &from_parent[..],
        "the child repeated the parent's bytes"
    );
}

#[test]
fn a_grandchild_does_not_repeat_anyone() {
    let _ = draw();
    let message = in_child(child_of_child);
    let from_parent = draw();
    assert_eq!(message.len(), 130);
    let (grandchild, child) = message.split_at(65);
    assert_eq!((grandchild[64], child[64]), (1, 1));
    let draws = [&grandchild[..64], &child[..64], &from_parent[..]];
    for (i, a) in draws.iter().enumerate() {
        for b in &draws[i + 1..] {
            assert_ne!(a, b, "two processes drew the same bytes");
        }
    }
}

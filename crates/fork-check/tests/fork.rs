//! A parent and its forked child encrypt with the same keyset right after
//! the fork: their nonces (and the data keys of their envelopes) must
//! differ, and the XOR of their ciphertexts must not be the XOR of their
//! plaintexts (no keystream reuse).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use stream_keyset::{Algorithm, Keyset, Template, NONCE_LEN, PREFIX_LEN};

/// What one process draws: an AEAD ciphertext of `plaintext` and an
/// envelope ciphertext.
fn draw(keyset: &Keyset, plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let aead = keyset.aead().unwrap();
    let envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();
    (
        aead.encrypt(plaintext, b"fork").unwrap(),
        envelope.encrypt(plaintext, b"fork").unwrap(),
    )
}

fn run(template: Template) {
    let keyset = Keyset::generate(template);
    // The parent's generator is in use before the fork: its state is what
    // the child inherits.
    let _ = draw(&keyset, b"warm up");
    let (mut parent_end, mut child_end) = UnixStream::pair().unwrap();
    let parent_text = [0x00u8; 64];
    let child_text = [0xffu8; 64];
    // SAFETY: the child only encrypts, writes to its socket and exits with
    // `_exit`, without returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let (aead, envelope) = draw(&keyset, &child_text);
        let mut message = (aead.len() as u32).to_be_bytes().to_vec();
        message.extend_from_slice(&aead);
        message.extend_from_slice(&envelope);
        let code = i32::from(child_end.write_all(&message).is_err());
        unsafe { libc::_exit(code) };
    }
    drop(child_end);
    let (aead, envelope) = draw(&keyset, &parent_text);
    let mut message = Vec::new();
    parent_end.read_to_end(&mut message).unwrap();
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(status, 0, "the child failed");
    let len = u32::from_be_bytes(message[..4].try_into().unwrap()) as usize;
    let (child_aead, child_envelope) = message[4..].split_at(len);

    let nonce = |c: &[u8]| c[PREFIX_LEN..PREFIX_LEN + NONCE_LEN].to_vec();
    assert_ne!(
        nonce(&aead),
        nonce(child_aead),
        "{template:?}: the same nonce after fork"
    );
    // Keystream reuse would make the XOR of the ciphertexts the XOR of the
    // plaintexts (all 0xff here).
    let body = |c: &[u8]| c[PREFIX_LEN + NONCE_LEN..PREFIX_LEN + NONCE_LEN + 64].to_vec();
    let xor: Vec<u8> = body(&aead)
        .iter()
        .zip(body(child_aead))
        .map(|(a, b)| a ^ b)
        .collect();
    assert_ne!(
        xor,
        vec![0xffu8; 64],
        "{template:?}: keystream reuse after fork"
    );
    // Envelopes: different wrapped data keys, different payload nonces.
    assert_ne!(
        envelope[..40],
        child_envelope[..40],
        "{template:?}: the same envelope start"
    );
}

#[test]
fn a_forked_child_draws_other_nonces_and_keys() {
    for template in [Template::AES256_GCM_SIV, Template::AES256_GCM] {
        run(template);
    }
}

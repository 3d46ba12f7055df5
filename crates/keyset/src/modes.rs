//! The Tink AEADs that RustCrypto offers no ready AEAD type for, built from
//! block-cipher modes of the same generation (`aes`, `ctr`, `cmac`, `hmac`):
//!
//! - AES-EAX (`AesEaxKey`): the `eax` crate takes 16-byte nonces only, Tink
//!   also makes 12-byte ones, and the `eax` crate keeps its raw key without
//!   zeroizing it. EAX is three OMACs and CTR, written out below.
//! - AES-CTR-HMAC (`AesCtrHmacAeadKey`): Tink's encrypt-then-MAC,
//!   `iv || AES-CTR(plaintext) || HMAC(aad || iv || ciphertext ||
//!   u64be(8 * len(aad)))` truncated to the key's tag size.
//!
//! Every key schedule zeroizes on drop (the `zeroize` features of `aes`,
//! `cmac`, `hmac`). Tags are compared in constant time.

use aes::{Aes128, Aes256};
use cmac::Cmac;
use ctr::cipher::{InnerIvInit as _, StreamCipher as _};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroize as _;

use crate::error::{Error, Result};

/// An AES key schedule of either size.
#[derive(Clone)]
enum Aes {
    A128(Aes128),
    A256(Aes256),
}

impl Aes {
    fn new(key: &[u8]) -> Option<Aes> {
        match key.len() {
            16 => Aes128::new_from_slice(key).ok().map(Aes::A128),
            32 => Aes256::new_from_slice(key).ok().map(Aes::A256),
            _ => None,
        }
    }

    /// XORs the AES-CTR keystream from `counter` (a 128-bit big-endian
    /// counter, as Java's `AES/CTR/NoPadding` and EAX use) into `buf`.
    fn ctr(&self, counter: &[u8; 16], buf: &mut [u8]) {
        match self {
            Aes::A128(aes) => ctr::Ctr128BE::<Aes128>::from_core(ctr::CtrCore::inner_iv_init(
                aes.clone(),
                counter.into(),
            ))
            .apply_keystream(buf),
            Aes::A256(aes) => ctr::Ctr128BE::<Aes256>::from_core(ctr::CtrCore::inner_iv_init(
                aes.clone(),
                counter.into(),
            ))
            .apply_keystream(buf),
        }
    }
}

/// A keyed CMAC of either AES size.
#[derive(Clone)]
enum Omac {
    A128(Cmac<Aes128>),
    A256(Cmac<Aes256>),
}

impl Omac {
    fn new(key: &[u8]) -> Option<Omac> {
        match key.len() {
            16 => Cmac::<Aes128>::new_from_slice(key).ok().map(Omac::A128),
            32 => Cmac::<Aes256>::new_from_slice(key).ok().map(Omac::A256),
            _ => None,
        }
    }

    /// EAX's `OMAC^t(data)`: CMAC of the block `[0; 15] || t`, then `data`.
    fn omac(&self, t: u8, data: &[u8]) -> [u8; 16] {
        let mut block = [0u8; 16];
        block[15] = t;
        match self {
            Omac::A128(m) => {
                let mut m = m.clone();
                m.update(&block);
                m.update(data);
                m.finalize().into_bytes().into()
            }
            Omac::A256(m) => {
                let mut m = m.clone();
                m.update(&block);
                m.update(data);
                m.finalize().into_bytes().into()
            }
        }
    }
}

/// Length of an EAX tag in Tink.
pub(crate) const EAX_TAG_LEN: usize = 16;

/// AES-EAX with Tink's 12- or 16-byte nonces and 16-byte tags.
pub(crate) struct Eax {
    aes: Aes,
    omac: Omac,
    nonce_len: usize,
}

impl Eax {
    /// `None` unless `key` is 16 or 32 bytes and `nonce_len` 12 or 16.
    pub(crate) fn new(key: &[u8], nonce_len: usize) -> Option<Eax> {
        if nonce_len != 12 && nonce_len != 16 {
            return None;
        }
        Some(Eax {
            aes: Aes::new(key)?,
            omac: Omac::new(key)?,
            nonce_len,
        })
    }

    /// The nonce length of this key.
    pub(crate) fn nonce_len(&self) -> usize {
        self.nonce_len
    }

    /// Appends `nonce || ciphertext || tag` to `out`, with a fresh nonce.
    pub(crate) fn seal_into(&self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut nonce = [0u8; 16];
        let nonce = &mut nonce[..self.nonce_len];
        crate::random::fill(nonce)?;
        out.reserve(self.nonce_len + plaintext.len() + EAX_TAG_LEN);
        out.extend_from_slice(nonce);
        let n = self.omac.omac(0, nonce);
        let h = self.omac.omac(1, aad);
        let start = out.len();
        out.extend_from_slice(plaintext);
        self.aes.ctr(&n, &mut out[start..]);
        let c = self.omac.omac(2, &out[start..]);
        let tag: [u8; EAX_TAG_LEN] = std::array::from_fn(|i| n[i] ^ h[i] ^ c[i]);
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens `nonce || ciphertext || tag`.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < self.nonce_len + EAX_TAG_LEN {
            return Err(Error::Decryption);
        }
        let (nonce, rest) = sealed.split_at(self.nonce_len);
        let (body, tag) = rest.split_at(rest.len() - EAX_TAG_LEN);
        let n = self.omac.omac(0, nonce);
        let h = self.omac.omac(1, aad);
        let c = self.omac.omac(2, body);
        let expected: [u8; EAX_TAG_LEN] = std::array::from_fn(|i| n[i] ^ h[i] ^ c[i]);
        if !bool::from(expected.ct_eq(tag)) {
            return Err(Error::Decryption);
        }
        let mut plaintext = body.to_vec();
        self.aes.ctr(&n, &mut plaintext);
        Ok(plaintext)
    }
}

/// The hash function of an AES-CTR-HMAC key this crate implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    /// SHA-256: tags of 10 to 32 bytes.
    Sha256,
    /// SHA-512: tags of 10 to 64 bytes.
    Sha512,
}

impl Hash {
    /// The longest tag (the digest length).
    pub(crate) fn max_tag_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha512 => 64,
        }
    }
}

#[derive(Clone)]
enum Hmacs {
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

/// The shortest tag Tink accepts for AES-CTR-HMAC.
pub(crate) const MIN_HMAC_TAG_LEN: usize = 10;
/// The shortest HMAC key Tink accepts for AES-CTR-HMAC.
pub(crate) const MIN_HMAC_KEY_LEN: usize = 16;

/// Tink's AES-CTR-HMAC AEAD (`EncryptThenAuthenticate`).
pub(crate) struct CtrHmac {
    aes: Aes,
    mac: Hmacs,
    iv_len: usize,
    tag_len: usize,
}

impl CtrHmac {
    /// `None` unless the sizes are Tink's: an AES key of 16 or 32 bytes, an
    /// IV of 12 to 16 bytes, an HMAC key of at least 16 bytes, a tag of 10
    /// bytes up to the digest length.
    pub(crate) fn new(
        aes_key: &[u8],
        iv_len: usize,
        hash: Hash,
        hmac_key: &[u8],
        tag_len: usize,
    ) -> Option<CtrHmac> {
        if !(12..=16).contains(&iv_len)
            || !(MIN_HMAC_TAG_LEN..=hash.max_tag_len()).contains(&tag_len)
            || hmac_key.len() < MIN_HMAC_KEY_LEN
        {
            return None;
        }
        let mac = match hash {
            Hash::Sha256 => Hmacs::Sha256(Hmac::new_from_slice(hmac_key).ok()?),
            Hash::Sha512 => Hmacs::Sha512(Hmac::new_from_slice(hmac_key).ok()?),
        };
        Some(CtrHmac {
            aes: Aes::new(aes_key)?,
            mac,
            iv_len,
            tag_len,
        })
    }

    /// The IV length of this key.
    pub(crate) fn iv_len(&self) -> usize {
        self.iv_len
    }

    /// The tag length of this key.
    pub(crate) fn tag_len(&self) -> usize {
        self.tag_len
    }

    fn counter(&self, iv: &[u8]) -> [u8; 16] {
        let mut counter = [0u8; 16];
        counter[..self.iv_len].copy_from_slice(iv);
        counter
    }

    /// The full HMAC of `aad || iv_and_ciphertext || u64be(8 * len(aad))`
    /// into `tag` (64 bytes; the first `tag_len` are the tag).
    fn mac(&self, aad: &[u8], iv_and_ciphertext: &[u8], tag: &mut [u8; 64]) {
        // `usize` is at most 64 bits on every target Rust supports.
        let aad_bits = (aad.len() as u64).wrapping_mul(8).to_be_bytes();
        match &self.mac {
            Hmacs::Sha256(m) => {
                let mut m = m.clone();
                m.update(aad);
                m.update(iv_and_ciphertext);
                m.update(&aad_bits);
                tag[..32].copy_from_slice(&m.finalize().into_bytes());
            }
            Hmacs::Sha512(m) => {
                let mut m = m.clone();
                m.update(aad);
                m.update(iv_and_ciphertext);
                m.update(&aad_bits);
                tag.copy_from_slice(&m.finalize().into_bytes());
            }
        }
    }

    /// Appends `iv || ciphertext || tag` to `out`, with a fresh IV.
    pub(crate) fn seal_into(&self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut iv = [0u8; 16];
        let iv = &mut iv[..self.iv_len];
        crate::random::fill(iv)?;
        out.reserve(self.iv_len + plaintext.len() + self.tag_len);
        let start = out.len();
        out.extend_from_slice(iv);
        out.extend_from_slice(plaintext);
        let counter = self.counter(iv);
        self.aes.ctr(&counter, &mut out[start + self.iv_len..]);
        let mut tag = [0u8; 64];
        self.mac(aad, &out[start..], &mut tag);
        out.extend_from_slice(&tag[..self.tag_len]);
        Ok(())
    }

    /// Opens `iv || ciphertext || tag`.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < self.iv_len + self.tag_len {
            return Err(Error::Decryption);
        }
        let (iv_and_ciphertext, tag) = sealed.split_at(sealed.len() - self.tag_len);
        let mut expected = [0u8; 64];
        self.mac(aad, iv_and_ciphertext, &mut expected);
        let ok = bool::from(expected[..self.tag_len].ct_eq(tag));
        expected.zeroize();
        if !ok {
            return Err(Error::Decryption);
        }
        let (iv, body) = iv_and_ciphertext.split_at(self.iv_len);
        let mut plaintext = body.to_vec();
        self.aes.ctr(&self.counter(iv), &mut plaintext);
        Ok(plaintext)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The first test vector of the EAX paper (Bellare, Rogaway, Wagner).
    #[test]
    fn eax_paper_vector() {
        let eax = Eax::new(&hex("233952DEE4D5ED5F9B9C6D6FF80FF478"), 16).unwrap();
        let mut sealed = hex("62EC67F9C3A4A407FCB2A8C49031A8B3");
        sealed.extend(hex("E037830E8389F27B025A2D6527E79D01"));
        assert_eq!(eax.open(&sealed, &hex("6BFB914FD07EAE6B")).unwrap(), b"");
        let eax = Eax::new(&hex("91945D3F4DCBEE0BF45EF52255F095A4"), 16).unwrap();
        let mut sealed = hex("BECAF043B0A23D843194BA972C66DEBD");
        sealed.extend(hex("19DD5C4C9331049D0BDAB0277408F67967E5"));
        assert_eq!(
            eax.open(&sealed, &hex("FA3BFD4806EB53FA")).unwrap(),
            hex("F7FB")
        );
    }
}

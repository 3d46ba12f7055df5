//! Seal secrets, their ids, and seals.

use std::fmt;

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::canonical::{Sink, SECRET_ID_LABEL};
use crate::error::{Error, Result};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The least length of a seal secret, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// An HMAC-SHA256 seal. Public (it is stored beside the event), but compared
/// in constant time.
#[derive(Clone, Copy, Eq, Default)]
pub struct Seal(pub [u8; 32]);

impl Seal {
    /// The predecessor of a chain's genesis event: 32 zero bytes.
    pub const GENESIS: Seal = Seal([0; 32]);

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Option<Seal> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Seal(out))
    }

    /// Reads 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Seal> {
        bytes.try_into().ok().map(Seal)
    }
}

impl PartialEq for Seal {
    fn eq(&self, other: &Self) -> bool {
        // Branch-free OR of the XORs, then one constant-time test: subtle's
        // slice `ct_eq` pays an optimisation barrier per byte (32 here).
        let diff = self
            .0
            .iter()
            .zip(&other.0)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff.ct_eq(&0).into()
    }
}

impl fmt::Debug for Seal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seal({})", self.to_hex())
    }
}

impl fmt::Display for Seal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The id of a seal secret: `HMAC-SHA256(secret, "stream.seal-secret-id")`
/// cut to 8 bytes. Stable, and reveals nothing usable about the secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretId(pub [u8; 8]);

impl SecretId {
    /// Lowercase hex (16 characters).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 16 hex characters.
    pub fn from_hex(text: &str) -> Option<SecretId> {
        let mut out = [0u8; 8];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(SecretId(out))
    }
}

impl fmt::Debug for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretId({})", self.to_hex())
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// One seal secret. The secret bytes live only inside the HMAC state,
/// which is zeroized on drop; `Debug` shows the id only.
#[derive(Clone)]
pub struct SealSecret {
    id: SecretId,
    keyed: HmacSha256,
}

impl fmt::Debug for SealSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealSecret({})", self.id)
    }
}

impl SealSecret {
    /// A secret of raw bytes, at least [`MIN_SECRET_LEN`] long.
    pub fn new(secret: &[u8]) -> Result<SealSecret> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(Error::SecretTooShort {
                len: secret.len(),
                min: MIN_SECRET_LEN,
            });
        }
        // HMAC accepts keys of any length; `new_from_slice` cannot fail.
        let keyed =
            <HmacSha256 as KeyInit>::new_from_slice(secret).map_err(|_| Error::SecretTooShort {
                len: secret.len(),
                min: MIN_SECRET_LEN,
            })?;
        let mut id_mac = keyed.clone();
        id_mac.str(SECRET_ID_LABEL);
        let full = id_mac.finalize().into_bytes();
        let mut id = [0u8; 8];
        id.copy_from_slice(&full[..8]);
        Ok(SealSecret {
            id: SecretId(id),
            keyed,
        })
    }

    /// A secret as env `EVENT_SEAL_SECRET` holds it: exactly 128 hex
    /// characters are read as 64 bytes; anything else is taken as the UTF-8
    /// bytes of the string (Stream's chart generates 32 characters).
    pub fn from_env_value(value: &str) -> Result<SealSecret> {
        let value = value.trim_end_matches(['\n', '\r']);
        if value.len() == 128 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut bytes = Zeroizing::new([0u8; 64]);
            if hex::decode_to_slice(value, &mut bytes[..]).is_ok() {
                return SealSecret::new(&bytes[..]);
            }
        }
        SealSecret::new(value.as_bytes())
    }

    /// The secret's id.
    pub fn id(&self) -> SecretId {
        self.id
    }

    /// HMAC-SHA256 of what `write` puts into the sink, and how many bytes
    /// it put: the verifier's seal check and byte count in one pass.
    pub(crate) fn seal_counted(&self, write: impl FnOnce(&mut dyn Sink)) -> (Seal, u64) {
        struct Counted<'a> {
            mac: &'a mut HmacSha256,
            len: u64,
        }
        impl Sink for Counted<'_> {
            fn put(&mut self, bytes: &[u8]) {
                self.len += bytes.len() as u64;
                self.mac.update(bytes);
            }
        }
        let mut mac = self.keyed.clone();
        let mut sink = Counted {
            mac: &mut mac,
            len: 0,
        };
        write(&mut sink);
        let len = sink.len;
        (Seal(mac.finalize().into_bytes().into()), len)
    }

    /// HMAC-SHA256 of what `write` puts into the sink.
    pub fn seal(&self, write: impl FnOnce(&mut dyn Sink)) -> Seal {
        let mut mac = self.keyed.clone();
        write(&mut mac);
        Seal(mac.finalize().into_bytes().into())
    }
}

/// The known seal secrets: one current (it seals), any number retired (they
/// still verify what they sealed), and any number staged as the next
/// (known ahead of a rotation: a chain another pod moved to one of them is
/// followed, see [`Chainer::plan`](crate::Chainer::plan)).
#[derive(Clone, Debug)]
pub struct SealSecrets {
    current: SealSecret,
    retired: Vec<SealSecret>,
    next: Vec<SealSecret>,
}

impl SealSecrets {
    /// A set with one secret, current.
    pub fn new(current: SealSecret) -> SealSecrets {
        SealSecrets {
            current,
            retired: Vec::new(),
            next: Vec::new(),
        }
    }

    /// Adds a retired secret (verification only).
    pub fn with_retired(mut self, secret: SealSecret) -> SealSecrets {
        self.add_retired(secret);
        self
    }

    /// Adds a retired secret (verification only), older than those already
    /// retired: retired secrets are kept newest first. A secret already
    /// known is ignored.
    pub fn add_retired(&mut self, secret: SealSecret) {
        if self.get(secret.id()).is_none() {
            self.retired.push(secret);
        }
    }

    /// Makes `secret` current; the previous current one is kept as retired,
    /// so the chain continues and older events still verify.
    pub fn rotate(&mut self, secret: SealSecret) {
        if secret.id() == self.current.id() {
            return;
        }
        self.retired.retain(|s| s.id() != secret.id());
        self.next.retain(|s| s.id() != secret.id());
        let old = std::mem::replace(&mut self.current, secret);
        // The newest of the retired.
        self.retired.insert(0, old);
    }

    /// The secret that seals.
    pub fn current(&self) -> &SealSecret {
        &self.current
    }

    /// The secret with this id, current, retired or staged.
    pub fn get(&self, id: SecretId) -> Option<&SealSecret> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .chain(&self.next)
            .find(|s| s.id() == id)
    }

    /// Adds the retired secrets of a list as env `EVENT_SEAL_SECRET_RETIRED`
    /// holds them: separated by newlines or commas (a secret holding a comma
    /// or edge whitespace is given as 128 hex characters), each entry
    /// trimmed, blank entries skipped, **newest first** (rotation records
    /// are checked against that order).
    ///
    /// # Errors
    /// [`Error::InvalidRetiredSecret`] naming the entry (counted from 1)
    /// that is not a valid secret, or is the current one; nothing is added
    /// then.
    pub fn with_retired_list(mut self, list: &str) -> Result<SealSecrets> {
        let secrets = parse_list(list, "EVENT_SEAL_SECRET_RETIRED")?;
        self.refuse_current(&secrets, "EVENT_SEAL_SECRET_RETIRED")?;
        for secret in secrets {
            self.add_retired(secret);
        }
        Ok(self)
    }

    /// A listed secret equal to the current one is a contradiction (a
    /// secret cannot be retired, or staged, while it seals).
    fn refuse_current(&self, list: &[SealSecret], variable: &'static str) -> Result<()> {
        match list.iter().position(|s| s.id() == self.current.id()) {
            Some(i) => Err(Error::InvalidRetiredSecret {
                variable,
                entry: i + 1,
                reason: "it is the current secret (EVENT_SEAL_SECRET); remove it from the list"
                    .into(),
            }),
            None => Ok(()),
        }
    }

    /// Adds the successors staged ahead of a rotation, as env
    /// `EVENT_SEAL_SECRET_NEXT` holds them (the same syntax as
    /// [`SealSecrets::with_retired_list`]): known to verify, and followed
    /// where a chain has moved to one, never sealing otherwise.
    ///
    /// # Errors
    /// [`Error::InvalidRetiredSecret`] naming the entry that is not valid;
    /// nothing is added then.
    pub fn with_next_list(mut self, list: &str) -> Result<SealSecrets> {
        let secrets = parse_list(list, "EVENT_SEAL_SECRET_NEXT")?;
        self.refuse_current(&secrets, "EVENT_SEAL_SECRET_NEXT")?;
        for secret in secrets {
            self.add_next(secret);
        }
        Ok(self)
    }

    /// Stages a successor (verification, and following a chain that moved
    /// to it); a secret already known is ignored.
    pub fn add_next(&mut self, secret: SealSecret) {
        if self.get(secret.id()).is_none() {
            self.next.push(secret);
        }
    }

    /// Whether a rotation from `from` to `to` goes forward by these
    /// secrets' order: staged after current after retired, the retired
    /// newest first as configured. A rotation down (to an older secret) is
    /// what a holder of a retired secret would forge; legitimate history
    /// only moves forward.
    pub fn rotates_forward(&self, from: SecretId, to: SecretId) -> bool {
        self.rank(to) >= self.rank(from)
    }

    /// Staged above current above retired, the retired by their order
    /// (newest first); unknown secrets lowest.
    fn rank(&self, id: SecretId) -> usize {
        let retired = self.retired.len();
        if self.is_next(id) {
            retired + 2
        } else if self.current.id() == id {
            retired + 1
        } else {
            self.retired
                .iter()
                .position(|s| s.id() == id)
                .map_or(0, |i| retired - i)
        }
    }

    /// Whether `id` is a staged successor.
    pub fn is_next(&self, id: SecretId) -> bool {
        self.next.iter().any(|s| s.id() == id)
    }

    /// Ids of all known secrets, current first (then retired, then staged).
    pub fn ids(&self) -> Vec<SecretId> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .chain(&self.next)
            .map(SealSecret::id)
            .collect()
    }
}

/// Parses a list of secrets separated by newlines or commas, blank entries
/// skipped; all or nothing.
fn parse_list(list: &str, variable: &'static str) -> Result<Vec<SealSecret>> {
    list.split(['\n', ','])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
        .map(|(i, entry)| {
            SealSecret::from_env_value(entry).map_err(|e| Error::InvalidRetiredSecret {
                variable,
                entry: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

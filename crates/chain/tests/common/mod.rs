//! Fixtures shared by the integration tests of `stream-chain`: random but
//! reproducible chains (a seed drives everything), and small helpers.

// Each test crate uses a part of this module only.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use stream_chain::Timestamp;
use stream_chain::{
    ChainId, Chainer, EventDraft, Finding, Head, RotationRecord, SealSecret, SealSecrets,
    SealedEvent, Status, Verifier, VerifyReport,
};
use stream_keyset::{Algorithm, Keyset, Template};

/// SplitMix64: a tiny deterministic generator, so that a proptest case is
/// reproduced from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// A non-empty ASCII alphanumeric string.
    pub fn word(&mut self, max: usize) -> String {
        let len = 1 + self.below(max);
        (0..len).map(|_| alnum(self.below(62))).collect()
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The `i`-th of the 62 ASCII letters and digits.
pub fn alnum(i: usize) -> char {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    ALNUM[i % ALNUM.len()] as char
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Events in all, over all chains.
    pub events: usize,
    /// Chains, 1 to 4.
    pub chains: usize,
    /// Round-robin interleaving, else random (per-chain order kept).
    pub round_robin: bool,
    /// Drives everything else.
    pub seed: u64,
}

/// A sensitive detail and its clear value.
#[derive(Clone, Debug)]
pub struct Secret {
    /// Index of the event in `Fixture::events`.
    pub index: usize,
    pub key: String,
    pub plaintext: Vec<u8>,
}

/// Sealed chains in dump order, with what is needed to check them.
pub struct Fixture {
    /// Every seal secret (the one before and the one after rotation):
    /// what the verifier gets.
    pub secrets: SealSecrets,
    /// The keyset of the envelope.
    pub keyset: Keyset,
    /// The chainer after rotation (current secret, envelope).
    pub chainer: Chainer,
    /// The events, interleaved, in the order they were sealed.
    pub events: Vec<SealedEvent>,
    /// The chain ids.
    pub chains: Vec<ChainId>,
    /// The head of each chain after the last event.
    pub heads: Vec<Head>,
    /// Every sensitive detail sealed, with its clear value.
    pub sensitive: Vec<Secret>,
    /// Index of the first event sealed with the second secret.
    pub rotated_at: usize,
    /// Timestamp of the newest event.
    pub last_ts: i64,
}

pub const CODES: [&str; 5] = [
    "LIFECYCLE-ENROLL",
    "LIFECYCLE-REVOKE",
    "OCSP-SIGN",
    "TSA-STAMP",
    "SSH-SIGN",
];
pub const MODULES: [&str; 4] = ["ca", "ocsp", "tsa", "ssh"];
pub const NODES: [&str; 3] = ["pod-0", "pod-1", "stream-2.example"];
pub const STATUSES: [Status; 3] = [Status::Success, Status::Warning, Status::Failure];
pub const T0: i64 = 1_700_000_000_000;
const DAY_MS: i64 = 86_400_000;

/// A random draft at `timestamp`; `sensitive` keys get a random clear value.
pub fn draft(rng: &mut Rng, timestamp: i64, sensitive: &[&str]) -> (EventDraft, Vec<Vec<u8>>) {
    let mut draft = EventDraft::new(
        *rng.pick(&CODES),
        *rng.pick(&MODULES),
        *rng.pick(&NODES),
        *rng.pick(&STATUSES),
        Timestamp::from_millis(timestamp),
    );
    for _ in 0..rng.below(3) {
        draft = draft.public(format!("k{}", rng.word(4)), rng.word(12));
    }
    if rng.below(2) == 0 {
        draft = draft.remove_at(Timestamp::from_millis(timestamp + 90 * DAY_MS));
    }
    let mut clear = Vec::new();
    for key in sensitive {
        let value = format!("CN={}", rng.word(16)).into_bytes();
        draft = draft.sensitive(*key, value.clone());
        clear.push(value);
    }
    (draft, clear)
}

/// Two seal secrets from the generator.
pub fn two_secrets(rng: &mut Rng) -> (SealSecret, SealSecret) {
    let a = SealSecret::new(&rng.bytes(32)).unwrap();
    let b = SealSecret::new(&rng.bytes(32)).unwrap();
    (a, b)
}

/// Seals `spec.events` events over `spec.chains` chains, rotating the seal
/// secret once in the middle; the first event has two sensitive details,
/// two more random events one each.
pub fn build(spec: &Spec) -> Fixture {
    let mut rng = Rng::new(spec.seed);
    let (first, second) = two_secrets(&mut rng);
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let before = SealSecrets::new(first);
    let mut after = before.clone();
    after.rotate(second);
    let envelope = || Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap());
    let chainer_before = Chainer::new(before, envelope());
    let chainer = Chainer::new(after.clone(), envelope());

    let n = spec.events.max(1);
    let rotated_at = if n >= 2 { 1 + rng.below(n - 1) } else { n };
    let extra_sensitive = [rng.below(n), rng.below(n)];
    let chains: Vec<ChainId> = (0..spec.chains.max(1))
        .map(|c| ChainId::new(&format!("chain-{c}")).unwrap())
        .collect();
    let mut heads: Vec<Head> = chains.iter().cloned().map(Head::genesis).collect();
    let mut rotations: Vec<Option<RotationRecord>> = vec![None; chains.len()];
    let mut events = Vec::with_capacity(n);
    let mut sensitive = Vec::new();
    let mut ts = T0;
    for i in 0..n {
        let c = if spec.round_robin {
            i % chains.len()
        } else {
            rng.below(chains.len())
        };
        ts += rng.below(3) as i64 * rng.below(1000) as i64; // equal ones too
        let keys: &[&str] = if i == 0 {
            &["subject", "pin"]
        } else if extra_sensitive.contains(&i) {
            &["subject"]
        } else {
            &[]
        };
        let (draft, clear) = draft(&mut rng, ts, keys);
        let sealer = if i < rotated_at {
            &chainer_before
        } else {
            &chainer
        };
        // The rotation goes through a sealed rotation record in each chain,
        // as the stores write it.
        let plan = sealer.plan(&heads[c], rotations[c].as_ref()).unwrap();
        let sealed = sealer
            .seal_planned(&mut heads[c], std::slice::from_ref(&draft), &plan)
            .unwrap();
        if let Some(record) = sealed.rotation {
            rotations[c] = RotationRecord::parse(&record).map(|r| r.unwrap());
            events.push(record);
        }
        for (key, plaintext) in keys.iter().zip(clear) {
            sensitive.push(Secret {
                index: events.len(),
                key: (*key).to_owned(),
                plaintext,
            });
        }
        events.extend(sealed.events);
    }
    Fixture {
        secrets: after,
        keyset,
        chainer,
        events,
        chains,
        heads,
        sensitive,
        rotated_at,
        last_ts: ts,
    }
}

/// Verifies `events` in this order.
pub fn verify<'a>(
    verifier: Verifier,
    events: impl IntoIterator<Item = &'a SealedEvent>,
) -> VerifyReport {
    let mut verifier = verifier;
    for event in events {
        verifier.push(event);
    }
    verifier.finish()
}

/// Verifies with the fixture's secrets and the default window.
pub fn verify_all(secrets: &SealSecrets, events: &[SealedEvent]) -> VerifyReport {
    verify(Verifier::new(secrets.clone()), events)
}

/// Where the events of `chain` stand in `events`, in sequence order.
pub fn positions(events: &[SealedEvent], chain: &ChainId) -> Vec<usize> {
    let mut at: Vec<usize> = (0..events.len())
        .filter(|&i| &events[i].chain == chain)
        .collect();
    at.sort_by_key(|&i| events[i].seq);
    at
}

/// The first error as `(chain, seq, kind name)`, for short assertions.
pub fn first_error(report: &VerifyReport) -> Option<(String, Option<u64>, &'static str)> {
    report.first_error().map(|f: &Finding| {
        (
            f.chain.as_ref().map_or("?".into(), |c| c.to_string()),
            f.seq,
            f.kind.name(),
        )
    })
}

/// Formats the findings for a failure message.
pub fn describe(report: &VerifyReport) -> String {
    report
        .findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Appends `draft` to `chain` after the fixture's events, as a store would
/// (a rotation record first if the chain's head is sealed by the old
/// secret); returns the sequence number it got.
pub fn append_at_head(
    fx: &Fixture,
    events: &mut Vec<SealedEvent>,
    chain: &ChainId,
    draft: &EventDraft,
) -> u64 {
    let c = fx.chains.iter().position(|id| id == chain).unwrap();
    let mut head = fx.heads[c].clone();
    let plan = fx.chainer.plan(&head, None).unwrap();
    let sealed = fx
        .chainer
        .seal_planned(&mut head, std::slice::from_ref(draft), &plan)
        .unwrap();
    events.extend(sealed.rotation);
    let seq = sealed.events[0].seq;
    events.extend(sealed.events);
    seq
}

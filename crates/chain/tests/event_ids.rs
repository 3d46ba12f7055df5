//! Properties of event ids (format 3), checked with `proptest` on random
//! drafts: the id is sealed (changing it breaks the seal), an event sealed
//! from a draft is recognised as the same event, and any single change of
//! the draft (or of its id) is not: an idempotent append never returns a
//! different event for a retried one.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{verify_all, Rng, T0};
use proptest::prelude::*;
use stream_chain::{
    ChainId, Chainer, DraftValue, Error, Head, SealSecret, SealSecrets, Status,
    EVENT_ID_FORMAT_VERSION, FORMAT_VERSION,
};
use stream_keyset::{Algorithm, Keyset, Template};

fn chainer() -> (Chainer, SealSecrets) {
    let secrets =
        SealSecrets::new(SealSecret::from_env_value("event-id-property-secret-32-chr").unwrap());
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();
    (Chainer::new(secrets.clone(), Some(envelope)), secrets)
}

/// An id of 1 to 128 printable ASCII characters.
fn event_id() -> impl Strategy<Value = String> {
    proptest::collection::vec(0x21u8..=0x7e, 1..=128)
        .prop_map(|bytes| String::from_utf8(bytes).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn an_event_id_is_sealed_and_recognises_only_its_event(
        seed in any::<u64>(),
        id in event_id(),
        change in 0usize..9,
    ) {
        let (chainer, secrets) = chainer();
        let mut rng = Rng::new(seed);
        let (draft, _) = common::draft(&mut rng, T0, &["subject"]);
        let draft = draft.with_event_id(id.clone());
        let mut head = Head::genesis(ChainId::new("ca").unwrap());
        let plain = chainer.seal(&mut head, &common::draft(&mut rng, T0, &[]).0).unwrap();
        prop_assert_eq!(plain.version, FORMAT_VERSION);
        let event = chainer.seal(&mut head, &draft).unwrap();
        prop_assert_eq!(event.version, EVENT_ID_FORMAT_VERSION);
        prop_assert_eq!(event.event_id.as_deref(), Some(id.as_str()));
        prop_assert!(verify_all(&secrets, &[plain.clone(), event.clone()]).is_ok());
        // The retried draft is the same event, whatever its time.
        let mut retried = draft.clone();
        retried.timestamp_ms += 1_000;
        prop_assert!(chainer.check_same_event(&retried, &event).is_ok());

        // The id is sealed.
        let mut moved = event.clone();
        moved.event_id = Some(if id == "a" { "b".into() } else { "a".into() });
        prop_assert!(!moved.seal_is_valid(&secrets));

        // One change of the draft: another event.
        let mut other = draft.clone();
        match change {
            0 => other.code.push('X'),
            1 => other.module.push('X'),
            2 => other.node.push('X'),
            3 => other.status = if other.status == Status::Failure { Status::Success } else { Status::Failure },
            4 => other.remove_at_ms = Some(other.remove_at_ms.map_or(T0, |t| t + 1)),
            5 => other.details.push(("extra".into(), DraftValue::Public("v".into()))),
            6 => {
                let (_, value) = other.details.iter_mut().rev().find(|(k, _)| k == "subject").unwrap();
                *value = DraftValue::Sensitive(b"CN=somebody else".to_vec().into());
            }
            7 => other.event_id = Some(format!("{}", id.len())),
            _ => other.details.retain(|(k, _)| k != "subject"),
        }
        let refused = chainer.check_same_event(&other, &event);
        prop_assert!(matches!(refused, Err(Error::EventIdConflict { .. })), "{:?}", refused);
        // A store without the keyset cannot compare sensitive values: it
        // refuses rather than guess.
        let blind = Chainer::new(secrets.clone(), None);
        prop_assert!(blind.check_same_event(&draft, &event).is_err());
    }
}

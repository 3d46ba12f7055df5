#!/usr/bin/env python3
"""Independent check of chain_vectors.json (docs/FORMAT.md).

Rebuilds every canonical byte string from the vectors' input fields with
nothing but Python's standard library (struct for the encoding, hashlib for
SHA-256, hmac and hashlib for HMAC-SHA256), and checks:

- the seal secrets and their ids;
- the format 3 events (format 2 with the caller's event id at the end of
  the content) and the stub of one;
- the format 2 events: content bytes, content digest, sealed bytes, sealed
  length, seal, chain links;
- the stubs a purge leaves: the stub's sealed bytes and seal are the full
  event's, its purge mark's bytes and seal, the validity rule
  (removeAt <= purged_ms), no content fields;
- the shred and rotation records (their details, a rotation record sealed
  by `to`, `superseded` covering every earlier secret), and the verifier's
  seal-secret rules (retired_secret, unannounced_secret, bad_rotation);
- the format 1 (legacy) events, anchor, checkpoint and report;
- the detail associated data, the envelope layout, the anchor, the
  checkpoint (and its JSON file) and the integrity reports, all with record
  version 1.

It shares no code with the Rust implementation that generated the file.
Exits non-zero on any mismatch (or a file it cannot read as vectors).

Usage: python3 tests/vectors/check_chain_vectors.py [path/to/chain_vectors.json]
"""

import base64
import hashlib
import hmac
import json
import struct
import sys
from pathlib import Path

FORMAT_VERSION = 2         # events written now (without an event id)
EVENT_ID_FORMAT_VERSION = 3  # events written now with an event id
LEGACY_FORMAT_VERSION = 1  # events written before: still read
RECORD_VERSION = 1         # anchors, checkpoints, reports, detail associated data
STATUS = {"success": 0, "warning": 1, "failure": 2}
REPORT_STATUS = {"verified": 0, "eventIntegrityFailure": 1, "reportIntegrityFailure": 2}
DETAIL_PUBLIC, DETAIL_SENSITIVE = 1, 2
SYSTEM_MODULE, SHRED_CODE, ROTATION_CODE = "stream", "STREAM-SHRED", "STREAM-SEAL-ROTATION"
CONTENT_FIELDS = ("code", "module", "node", "status", "details")


# --- The canonical encoding's primitives ------------------------------------

def u8(v):
    return struct.pack(">B", v)


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def i64(v):
    return struct.pack(">q", v)


def lp(b):
    """A length-prefixed byte string: u32be(len) || bytes."""
    return u32(len(b)) + b


def text(v):
    """A length-prefixed UTF-8 string (the length counts bytes)."""
    return lp(v.encode("utf-8"))


def opt_i64(v):
    return b"\x00" if v is None else b"\x01" + i64(v)


def header(label, version):
    return text(label) + u8(version)


def seal(secret, data):
    return hmac.new(secret, data, hashlib.sha256).digest()


def h(hex_text):
    return bytes.fromhex(hex_text)


# --- The records ---------------------------------------------------------------

def secret_id(secret):
    return seal(secret, text("stream.seal-secret-id"))[:8]


def env_secret(value):
    """EVENT_SEAL_SECRET: exactly 128 hex characters are 64 bytes, else UTF-8."""
    value = value.rstrip("\r\n")
    if len(value) == 128 and all(ch in "0123456789abcdefABCDEF" for ch in value):
        return bytes.fromhex(value)
    return value.encode("utf-8")


def details_bytes(details):
    out = u32(len(details))
    for d in details:
        out += text(d["key"])
        if d["type"] == "public":
            out += u8(DETAIL_PUBLIC) + text(d["value"])
        else:  # the payload only: the wrapped data key is not sealed
            out += u8(DETAIL_SENSITIVE) + lp(h(d["payload_hex"]))
    return out


def legacy_event_bytes(e):
    """Format 1: the seal covers the content itself."""
    out = header("stream.event", LEGACY_FORMAT_VERSION)
    out += text(e["chain"]) + u64(e["seq"]) + i64(e["timestamp_ms"])
    out += text(e["code"]) + text(e["module"]) + text(e["node"])
    out += u8(STATUS[e["status"]]) + opt_i64(e["remove_at_ms"])
    out += lp(h(e["secret_id_hex"])) + h(e["prev_hex"])
    out += details_bytes(e["details"])
    return out


def content_bytes(e):
    """Formats 2 and 3: the content, which the seal covers through its
    digest; format 3 ends it with the event id."""
    out = header("stream.event-content", e["version"])
    out += text(e["code"]) + text(e["module"]) + text(e["node"])
    out += u8(STATUS[e["status"]])
    out += details_bytes(e["details"])
    if e["version"] == EVENT_ID_FORMAT_VERSION:
        out += text(e["event_id"])
    elif "event_id" in e:
        raise ValueError(f"an event id in a format {e['version']} event")
    return out


def event_bytes(e, digest):
    """Formats 2 and 3: what the seal covers (an event's or its stub's)."""
    out = header("stream.event", e["version"])
    out += text(e["chain"]) + u64(e["seq"]) + i64(e["timestamp_ms"])
    out += opt_i64(e["remove_at_ms"]) + lp(h(e["secret_id_hex"]))
    out += h(e["prev_hex"]) + digest
    return out


def purge_mark_bytes(stub, mark):
    return (header("stream.purge", FORMAT_VERSION) + text(stub["chain"]) + u64(stub["seq"])
            + h(stub["seal_hex"]) + h(mark["digest_hex"]) + i64(mark["purged_ms"])
            + lp(h(mark["secret_id_hex"])))


def detail_aad(chain, seq, key):
    return header("stream.detail", RECORD_VERSION) + text(chain) + u64(seq) + text(key)


def anchor_bytes(a):
    return (header("stream.anchor", RECORD_VERSION) + text(a["chain"]) + u64(a["first_seq"])
            + h(a["prev_hex"]) + i64(a["created_ms"]) + lp(h(a["secret_id_hex"])))


def checkpoint_bytes(c):
    return (header("stream.checkpoint", RECORD_VERSION) + text(c["chain"]) + u64(c["seq"])
            + h(c["seal_hex"]) + i64(c["timestamp_ms"]) + u64(c["count"])
            + lp(h(c["secret_id_hex"])))


def report_bytes(r):
    out = (header("stream.report", RECORD_VERSION) + text(r["chain"]) + u64(r["from_seq"])
           + u64(r["to_seq"]))
    out += opt_i64(r["start_time_ms"]) + opt_i64(r["end_time_ms"]) + u64(r["events"])
    out += u8(REPORT_STATUS[r["status"]])
    out += b"\x00" if r["first_error"] is None else b"\x01" + text(r["first_error"])
    out += i64(r["created_ms"]) + lp(h(r["secret_id_hex"]))
    return out


# --- The records of the store (shred, rotation) and the seal-secret rules ------

def public_details(pairs):
    return [{"key": k, "type": "public", "value": v} for k, v in pairs]


def shred_details(record):
    return public_details([("target", str(record["target"]))]
                          + [("key", k) for k in record["keys"]]
                          + [("reason", record["reason"])])


def rotation_details(record):
    return public_details([("from", record["from"]), ("to", record["to"]),
                           ("superseded", ",".join(record["superseded"]))])


def is_hex_id(v):
    return len(v) == 16 and all(ch in "0123456789abcdef" for ch in v)


def parse_rotation(e, sealed_by):
    """None if `e` is no rotation record; else (record, None) or (None, why),
    as the verifier reads one sealed by `sealed_by`."""
    if e.get("code") != ROTATION_CODE or e.get("module") != SYSTEM_MODULE:
        return None
    fields = {}
    for d in e["details"]:
        if d["type"] == "public" and d["key"] not in fields:
            fields[d["key"]] = d["value"]
    try:
        superseded = fields["superseded"].split(",")
        record = {"from": fields["from"], "to": fields["to"], "superseded": superseded}
    except KeyError:
        return None, "missing field"
    if not all(is_hex_id(v) for v in [record["from"], record["to"]] + superseded):
        return None, "not secret ids"
    if record["to"] != sealed_by:
        return None, "not sealed by `to`"
    if record["to"] == record["from"] or record["from"] not in superseded:
        return None, "does not supersede `from`"
    if record["to"] in superseded:
        return None, "brings back a superseded secret"
    return record, None


def secret_rule_findings(events, at_seq=None, sealed_by=None):
    """The seal-secret findings per sequence number, in chain order, with
    event `at_seq` sealed by `sealed_by` instead: a rotation record moves the
    chain to `to`; a superseded secret sealing after it is retired_secret; a
    format 2 event sealed by another secret than the chain's is
    unannounced_secret; a rotation record that does not follow is
    bad_rotation."""
    chain_secret, superseded, found = None, set(), {}
    for e in events:
        sid = sealed_by if e["seq"] == at_seq else e["secret_id_hex"]
        findings = []
        rotation = parse_rotation(e, sid)
        if rotation is not None and rotation[0] is not None:
            record = rotation[0]
            if chain_secret is not None and chain_secret != record["from"]:
                findings.append("bad_rotation")
            elif record["to"] in superseded:
                findings.append("bad_rotation")
            superseded |= set(record["superseded"]) | {record["from"]}
            chain_secret = record["to"]
        else:
            if rotation is not None:
                findings.append("bad_rotation")
            if sid in superseded:
                findings.append("retired_secret")
            elif (e["version"] >= FORMAT_VERSION and chain_secret is not None
                  and chain_secret != sid):
                findings.append("unannounced_secret")
            else:
                chain_secret = sid
        found[e["seq"]] = findings
    return found


# --- The checks ----------------------------------------------------------------

class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def eq(self, what, got, want):
        if isinstance(got, bytes):
            got = got.hex()
        if isinstance(want, bytes):
            want = want.hex()
        if got == want:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}:\n  computed {got}\n  expected {want}")


def check_envelope_crypto(c, env):
    """Opens the envelope with an independent AES-GCM-SIV, when the optional
    `cryptography` package is there (the rest needs the standard library
    only)."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
    except ImportError:
        print("note: `cryptography` is not installed; the envelope is checked for layout only")
        return
    wrapped = h(env["wrapped_dek_hex"])
    payload = h(env["payload_hex"])
    kek = AESGCMSIV(h(env["kek_key_hex"]))
    dek_proto = kek.decrypt(wrapped[5:17], wrapped[17:], b"")
    c.eq("KEK opens the wrapped DEK (empty associated data)", dek_proto, env["dek_proto_hex"])
    dek = AESGCMSIV(dek_proto[2:])
    plaintext = dek.decrypt(payload[:12], payload[12:], h(env["aad_hex"]))
    c.eq("DEK opens the payload with the detail's associated data", plaintext,
         env["plaintext"].encode("utf-8"))


def check_secrets(c, vectors):
    """The known secrets by the id computed here (not the file's)."""
    secrets = {}
    for name in ("seal_secret", "successor_secret"):
        v = vectors[name]
        raw = env_secret(v["env_value"])
        c.eq(f"{name} bytes", raw, v["secret_hex"])
        c.eq(f"{name} length at least 16", len(raw) >= 16, True)
        c.eq(f"{name} id", secret_id(raw), v["id_hex"])
        secrets[secret_id(raw).hex()] = raw
    c.eq("seal secret: 32 bytes", len(env_secret(vectors["seal_secret"]["env_value"])), 32)
    for v in vectors["secret_ids"]:
        raw = env_secret(v["env_value"])
        c.eq(f"secret bytes of {v['env_value'][:12]}...", raw, v["secret_hex"])
        c.eq(f"secret id of {v['env_value'][:12]}...", secret_id(raw), v["id_hex"])
    return secrets


def check_seal(c, what, secrets, secret_hex, data, want):
    """The seal of `data` under the secret named `secret_hex`."""
    secret = secrets.get(secret_hex)
    c.eq(f"{what}: sealed by a known secret", secret is not None, True)
    if secret is not None:
        c.eq(what, seal(secret, data), want)


def check_legacy_events(c, secrets, events):
    prev = bytes(32)
    for n, v in enumerate(events):
        e = v["input"]
        what = f"format 1 event {e['seq']}"
        c.eq(f"{what} version", e["version"], LEGACY_FORMAT_VERSION)
        canonical = legacy_event_bytes(e)
        c.eq(f"{what} canonical bytes", canonical, v["canonical_hex"])
        c.eq(f"{what} sealed length", len(canonical), v["sealed_len"])
        check_seal(c, f"{what} seal", secrets, e["secret_id_hex"], canonical, v["seal_hex"])
        c.eq(f"{what} links to its predecessor", e["prev_hex"], prev)
        c.eq(f"{what} seq", e["seq"], n + 1)
        c.eq(f"{what} has no digest (the seal covers the content)",
             "digest_hex" in v or "content_hex" in v, False)
        # A tamper case: one changed byte changes the seal.
        tampered = canonical[:-1] + bytes([canonical[-1] ^ 1])
        c.eq(f"{what} tampered",
             seal(secrets.get(e["secret_id_hex"], b""), tampered) != h(v["seal_hex"]), True)
        prev = h(v["seal_hex"])


def check_events(c, secrets, events, version=FORMAT_VERSION):
    """Format 2 (or 3) events: content, digest, sealed bytes, seal, links."""
    prev = bytes(32)
    digests = {}
    for n, v in enumerate(events):
        e = v["input"]
        what = f"event {e['seq']}"
        c.eq(f"{what} version", e["version"], version)
        content = content_bytes(e)
        c.eq(f"{what} content bytes", content, v["content_hex"])
        digest = hashlib.sha256(content).digest()
        c.eq(f"{what} content digest", digest, v["digest_hex"])
        canonical = event_bytes(e, digest)
        c.eq(f"{what} canonical (sealed) bytes", canonical, v["canonical_hex"])
        c.eq(f"{what} sealed length: sealed bytes and content", len(canonical) + len(content),
             v["sealed_len"])
        check_seal(c, f"{what} seal", secrets, e["secret_id_hex"], canonical, v["seal_hex"])
        c.eq(f"{what} links to its predecessor", e["prev_hex"], prev)
        c.eq(f"{what} seq", e["seq"], n + 1)
        # Tamper cases: one changed byte of the content changes the digest,
        # hence the seal; one of the sealed bytes changes the seal.
        secret = secrets.get(e["secret_id_hex"], b"")
        changed = content[:-1] + bytes([content[-1] ^ 1])
        c.eq(f"{what} tampered content",
             seal(secret, event_bytes(e, hashlib.sha256(changed).digest())) != h(v["seal_hex"]),
             True)
        c.eq(f"{what} tampered sealed bytes",
             seal(secret, canonical[:-33] + bytes([canonical[-33] ^ 1]) + canonical[-32:])
             != h(v["seal_hex"]), True)
        digests[e["seq"]] = digest
        prev = h(v["seal_hex"])
    return digests


def check_system_records(c, events):
    """Shred and rotation records: their details, and where they stand."""
    earlier_secrets = []
    for v in events:
        e, record = v["input"], v["record"]
        what = f"event {e['seq']}"
        kind = None
        if e["module"] == SYSTEM_MODULE and e["code"] == SHRED_CODE:
            kind = "shred"
        elif e["module"] == SYSTEM_MODULE and e["code"] == ROTATION_CODE:
            kind = "rotation"
        c.eq(f"{what} is a record of the store", record and record["kind"], kind)
        if kind is not None:
            c.eq(f"{what} ({kind} record): no removeAt", e["remove_at_ms"], None)
            c.eq(f"{what} ({kind} record): status success", e["status"], "success")
        if kind == "shred":
            c.eq(f"{what} shred record details", e["details"], shred_details(record))
            c.eq(f"{what} shred record names an earlier target", record["target"] < e["seq"], True)
            c.eq(f"{what} shred record names at least one key", len(record["keys"]) > 0, True)
            target = events[record["target"] - 1]["input"]
            sensitive = {d["key"] for d in target["details"] if d["type"] == "sensitive"}
            c.eq(f"{what} shred record keys are sensitive details of its target",
                 set(record["keys"]) <= sensitive, True)
        if kind == "rotation":
            c.eq(f"{what} rotation record details", e["details"], rotation_details(record))
            c.eq(f"{what} rotation record is sealed by `to`", e["secret_id_hex"], record["to"])
            c.eq(f"{what} rotation record rotates from the chain's secret", record["from"],
                 earlier_secrets[-1] if earlier_secrets else None)
            c.eq(f"{what} rotation record supersedes every earlier secret",
                 set(earlier_secrets) <= set(record["superseded"]), True)
            c.eq(f"{what} rotation record does not bring back a superseded secret",
                 record["to"] in record["superseded"], False)
            rotation = parse_rotation(e, e["secret_id_hex"])
            c.eq(f"{what} rotation record reads back", rotation and rotation[0],
                 {k: record[k] for k in ("from", "to", "superseded")})
        earlier_secrets.append(e["secret_id_hex"])


def check_secret_rules(c, vectors):
    chains = {"events": [v["input"] for v in vectors["events"]],
              "legacy": [v["input"] for v in vectors["legacy"]["events"]]}
    for name, chain in chains.items():
        found = secret_rule_findings(chain)
        c.eq(f"chain `{name}` follows the seal-secret rules",
             {s: f for s, f in found.items() if f}, {})
    names = set()
    for case in vectors["secret_rules"]:
        found = secret_rule_findings(chains[case["chain"]], case["seq"], case["sealed_by_hex"])
        c.eq(f"secret rule: {case['name']}", found[case["seq"]], case["findings"])
        names.update(case["findings"])
    c.eq("secret rules cover retired, unannounced and bad rotations", sorted(names),
         ["bad_rotation", "retired_secret", "unannounced_secret"])


def check_stubs(c, secrets, full_events, stubs, digests, version=FORMAT_VERSION):
    events = {v["input"]["seq"]: v for v in full_events}
    for v in stubs:
        stub, mark = v["input"], v["input"]["purged"]
        what = f"format {version} stub of event {stub['seq']}"
        full = events[stub["seq"]]
        c.eq(f"{what} version", stub["version"], version)
        c.eq(f"{what} keeps no event id", "event_id" in stub, False)
        for field in ("version", "chain", "seq", "timestamp_ms", "remove_at_ms",
                      "secret_id_hex", "prev_hex"):
            c.eq(f"{what} keeps {field}", stub[field], full["input"][field])
        c.eq(f"{what} holds no content field",
             [f for f in CONTENT_FIELDS if f in stub], [])
        c.eq(f"{what} mark digest is the event's content digest", mark["digest_hex"],
             digests[stub["seq"]])
        canonical = event_bytes(stub, h(mark["digest_hex"]))
        c.eq(f"{what} canonical bytes", canonical, v["canonical_hex"])
        c.eq(f"{what} canonical bytes are the event's", canonical, full["canonical_hex"])
        c.eq(f"{what} sealed length (no content left)", len(canonical), v["sealed_len"])
        check_seal(c, f"{what} event seal", secrets, stub["secret_id_hex"], canonical,
                   stub["seal_hex"])
        c.eq(f"{what} event seal unchanged", stub["seal_hex"], full["seal_hex"])
        mark_bytes = purge_mark_bytes(stub, mark)
        c.eq(f"{what} purge mark canonical bytes", mark_bytes, v["mark_canonical_hex"])
        check_seal(c, f"{what} purge mark seal", secrets, mark["secret_id_hex"], mark_bytes,
                   v["mark_seal_hex"])
        c.eq(f"{what} valid: removeAt <= purged_ms",
             stub["remove_at_ms"] is not None and stub["remove_at_ms"] <= mark["purged_ms"], True)
        early = dict(mark, purged_ms=mark["purged_ms"] - 1)
        c.eq(f"{what} tampered purge time changes the mark seal",
             seal(secrets.get(mark["secret_id_hex"], b""), purge_mark_bytes(stub, early))
             != h(v["mark_seal_hex"]), True)


def check_envelope(c, vectors, first):
    env = vectors["envelope"]
    subject = next(d for d in first["details"] if d["key"] == "subject")
    wrapped = h(env["wrapped_dek_hex"])
    payload = h(env["payload_hex"])
    c.eq("envelope aad is the detail's", env["aad_hex"],
         detail_aad(first["chain"], first["seq"], subject["key"]))
    c.eq("envelope payload is the event's", subject["payload_hex"], env["payload_hex"])
    c.eq("envelope wrapped key is the event's", subject["wrapped_dek_hex"], env["wrapped_dek_hex"])
    c.eq("Tink KmsEnvelopeAead layout", u32(len(wrapped)) + wrapped + payload,
         env["tink_ciphertext_hex"])
    c.eq("DEK proto: AesGcmSivKey { key_value: dek }",
         b"\x1a\x20" + h(env["dek_hex"]), env["dek_proto_hex"])
    c.eq("wrapped DEK prefix: TINK 0x01 || key id", wrapped[:5], u8(1) + u32(env["kek_key_id"]))
    c.eq("wrapped DEK nonce", wrapped[5:17], env["wrap_nonce_hex"])
    c.eq("wrapped DEK length: prefix, nonce, 34-byte proto, tag", len(wrapped), 5 + 12 + 34 + 16)
    c.eq("payload nonce", payload[:12], env["payload_nonce_hex"])
    c.eq("payload length: nonce, plaintext, tag", len(payload),
         12 + len(env["plaintext"].encode("utf-8")) + 16)
    keyset = json.loads(env["kek_keyset_json"])
    key = keyset["key"][0]
    c.eq("KEK keyset primary", keyset["primaryKeyId"], env["kek_key_id"])
    c.eq("KEK key value: AesGcmSivKey proto", base64.b64decode(key["keyData"]["value"]),
         b"\x1a\x20" + h(env["kek_key_hex"]))
    check_envelope_crypto(c, env)


def check_records(c, secrets, section, events, what):
    """The anchor, checkpoint (and file) and reports of `section`, over
    `events` (record version 1 whatever the events' format)."""
    a = section["anchor"]
    canonical = anchor_bytes(a["input"])
    c.eq(f"{what} anchor canonical bytes", canonical, a["canonical_hex"])
    check_seal(c, f"{what} anchor seal", secrets, a["input"]["secret_id_hex"], canonical,
               a["seal_hex"])
    c.eq(f"{what} anchor prev is the seal before its first kept event",
         a["input"]["prev_hex"], events[a["input"]["first_seq"] - 2]["seal_hex"])
    c.eq(f"{what} anchor prev is its first kept event's prev", a["input"]["prev_hex"],
         events[a["input"]["first_seq"] - 1]["input"]["prev_hex"])

    cp = section["checkpoint"]
    canonical = checkpoint_bytes(cp["input"])
    c.eq(f"{what} checkpoint canonical bytes", canonical, cp["canonical_hex"])
    check_seal(c, f"{what} checkpoint mac", secrets, cp["input"]["secret_id_hex"], canonical,
               cp["mac_hex"])
    head = events[cp["input"]["seq"] - 1]
    c.eq(f"{what} checkpoint head is the last event", cp["input"]["seq"], len(events))
    c.eq(f"{what} checkpoint head seal", cp["input"]["seal_hex"], head["seal_hex"])
    c.eq(f"{what} checkpoint head timestamp", cp["input"]["timestamp_ms"],
         head["input"]["timestamp_ms"])
    file = json.loads(cp["json"])
    c.eq(f"{what} checkpoint file fields", sorted(file),
         sorted(["version", "chain", "seq", "seal", "timestamp", "count", "secretId", "mac"]))
    from_file = {"chain": file["chain"], "seq": file["seq"], "seal_hex": file["seal"],
                 "timestamp_ms": file["timestamp"], "count": file["count"],
                 "secret_id_hex": file["secretId"]}
    c.eq(f"{what} checkpoint file version", file["version"], RECORD_VERSION)
    c.eq(f"{what} checkpoint file is the checkpoint", from_file, cp["input"])
    check_seal(c, f"{what} checkpoint file mac", secrets, file["secretId"],
               checkpoint_bytes(from_file), file["mac"])

    for r in section["reports"]:
        canonical = report_bytes(r["input"])
        c.eq(f"{what} report '{r['name']}' canonical bytes", canonical, r["canonical_hex"])
        check_seal(c, f"{what} report '{r['name']}' seal", secrets, r["input"]["secret_id_hex"],
                   canonical, r["seal_hex"])
        if r["input"]["status"] == "verified":
            i = r["input"]
            c.eq(f"{what} verified report covers the chain",
                 [i["from_seq"], i["to_seq"], i["events"], i["start_time_ms"], i["end_time_ms"]],
                 [1, len(events), len(events), events[0]["input"]["timestamp_ms"],
                  events[-1]["input"]["timestamp_ms"]])


SECTIONS = ["anchor", "checkpoint", "description", "detail_aad", "envelope",
            "event_id_events", "event_id_format_version", "event_id_stub", "events",
            "format_version", "legacy", "legacy_format_version", "record_version", "reports",
            "seal_secret", "secret_ids", "secret_rules", "stubs", "successor_secret"]
LEGACY_SECTIONS = ["anchor", "checkpoint", "events", "note", "reports"]


def check(vectors):
    c = Checker()
    # Every section is checked below: a new one needs a check here first.
    c.eq("vector sections", sorted(vectors), SECTIONS)
    c.eq("legacy vector sections", sorted(vectors["legacy"]), LEGACY_SECTIONS)
    c.eq("format version", vectors["format_version"], FORMAT_VERSION)
    c.eq("legacy format version", vectors["legacy_format_version"], LEGACY_FORMAT_VERSION)
    c.eq("record version", vectors["record_version"], RECORD_VERSION)
    secrets = check_secrets(c, vectors)

    legacy = vectors["legacy"]
    check_legacy_events(c, secrets, legacy["events"])
    check_records(c, secrets, legacy, legacy["events"], "format 1")

    digests = check_events(c, secrets, vectors["events"])
    check_system_records(c, vectors["events"])
    check_secret_rules(c, vectors)
    check_stubs(c, secrets, vectors["events"], vectors["stubs"], digests)
    c.eq("event id format version", vectors["event_id_format_version"],
         EVENT_ID_FORMAT_VERSION)
    id_events = vectors["event_id_events"]
    id_digests = check_events(c, secrets, id_events, EVENT_ID_FORMAT_VERSION)
    c.eq("every format 3 event has an event id",
         all(v["input"].get("event_id") for v in id_events), True)
    check_stubs(c, secrets, id_events, [vectors["event_id_stub"]], id_digests,
                EVENT_ID_FORMAT_VERSION)
    c.eq("there is a stub", len(vectors["stubs"]) > 0, True)

    for v in vectors["detail_aad"]:
        c.eq(f"detail aad {v['chain']}#{v['seq']}.{v['key']}",
             detail_aad(v["chain"], v["seq"], v["key"]), v["aad_hex"])
    for events in (vectors["events"], legacy["events"]):
        check_envelope(c, vectors, events[0]["input"])
    check_records(c, secrets, vectors, vectors["events"], "format 2")
    return c


def main():
    default = Path(__file__).resolve().parent / "chain_vectors.json"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    try:
        result = check(json.loads(path.read_text(encoding="utf-8")))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, StopIteration) as e:
        print(f"FAIL {path}: not a valid vectors file ({type(e).__name__}: {e})")
        return 1
    print(f"chain vectors: {result.passed} passed, {result.failed} failed")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Independent check of chain_vectors.json (docs/FORMAT.md).

Rebuilds every canonical byte string from the vectors' input fields with
nothing but Python's standard library (struct for the encoding, hmac and
hashlib for HMAC-SHA256), and checks the seals, secret ids, the detail
associated data, the envelope layout, the anchor, the checkpoint (and its
JSON file) and the integrity reports. It shares no code with the Rust
implementation that generated the file.

Usage: python3 tests/vectors/check_chain_vectors.py [path/to/chain_vectors.json]
"""

import base64
import hashlib
import hmac
import json
import struct
import sys
from pathlib import Path

FORMAT_VERSION = 1
STATUS = {"success": 0, "warning": 1, "failure": 2}
REPORT_STATUS = {"verified": 0, "eventIntegrityFailure": 1, "reportIntegrityFailure": 2}
DETAIL_PUBLIC, DETAIL_SENSITIVE = 1, 2


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


def header(label, version=FORMAT_VERSION):
    return text(label) + u8(version)


def seal(secret, data):
    return hmac.new(secret, data, hashlib.sha256).digest()


# --- The records ---------------------------------------------------------------

def secret_id(secret):
    return seal(secret, text("stream.seal-secret-id"))[:8]


def event_bytes(e):
    out = header("stream.event", e["version"])
    out += text(e["chain"]) + u64(e["seq"]) + i64(e["timestamp_ms"])
    out += text(e["code"]) + text(e["module"]) + text(e["node"])
    out += u8(STATUS[e["status"]]) + opt_i64(e["remove_at_ms"])
    out += lp(bytes.fromhex(e["secret_id_hex"])) + bytes.fromhex(e["prev_hex"])
    out += u32(len(e["details"]))
    for d in e["details"]:
        out += text(d["key"])
        if d["type"] == "public":
            out += u8(DETAIL_PUBLIC) + text(d["value"])
        else:  # the payload only: the wrapped data key is not sealed
            out += u8(DETAIL_SENSITIVE) + lp(bytes.fromhex(d["payload_hex"]))
    return out


def detail_aad(chain, seq, key):
    return header("stream.detail") + text(chain) + u64(seq) + text(key)


def anchor_bytes(a):
    return (header("stream.anchor") + text(a["chain"]) + u64(a["first_seq"])
            + bytes.fromhex(a["prev_hex"]) + i64(a["created_ms"])
            + lp(bytes.fromhex(a["secret_id_hex"])))


def checkpoint_bytes(c):
    return (header("stream.checkpoint") + text(c["chain"]) + u64(c["seq"])
            + bytes.fromhex(c["seal_hex"]) + i64(c["timestamp_ms"]) + u64(c["count"])
            + lp(bytes.fromhex(c["secret_id_hex"])))


def report_bytes(r):
    out = header("stream.report") + text(r["chain"]) + u64(r["from_seq"]) + u64(r["to_seq"])
    out += opt_i64(r["start_time_ms"]) + opt_i64(r["end_time_ms"]) + u64(r["events"])
    out += u8(REPORT_STATUS[r["status"]])
    out += b"\x00" if r["first_error"] is None else b"\x01" + text(r["first_error"])
    out += i64(r["created_ms"]) + lp(bytes.fromhex(r["secret_id_hex"]))
    return out


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
    wrapped = bytes.fromhex(env["wrapped_dek_hex"])
    payload = bytes.fromhex(env["payload_hex"])
    kek = AESGCMSIV(bytes.fromhex(env["kek_key_hex"]))
    dek_proto = kek.decrypt(wrapped[5:17], wrapped[17:], b"")
    c.eq("KEK opens the wrapped DEK (empty associated data)", dek_proto, env["dek_proto_hex"])
    dek = AESGCMSIV(dek_proto[2:])
    plaintext = dek.decrypt(payload[:12], payload[12:], bytes.fromhex(env["aad_hex"]))
    c.eq("DEK opens the payload with the detail's associated data", plaintext,
         env["plaintext"].encode("utf-8"))


def check(vectors):
    c = Checker()
    c.eq("format version", vectors["format_version"], FORMAT_VERSION)
    secret = vectors["seal_secret"]["env_value"].encode("utf-8")
    c.eq("seal secret bytes", secret, vectors["seal_secret"]["secret_hex"])
    c.eq("seal secret length", len(secret), 32)
    sid = secret_id(secret)
    c.eq("seal secret id", sid, vectors["seal_secret"]["id_hex"])

    for v in vectors["secret_ids"]:
        value = v["env_value"]
        # EVENT_SEAL_SECRET: exactly 128 hex characters are 64 bytes, else UTF-8.
        if len(value) == 128 and all(ch in "0123456789abcdefABCDEF" for ch in value):
            raw = bytes.fromhex(value)
        else:
            raw = value.encode("utf-8")
        c.eq(f"secret bytes of {value[:12]}...", raw, v["secret_hex"])
        c.eq(f"secret id of {value[:12]}...", secret_id(raw), v["id_hex"])

    prev = bytes(32)
    for n, v in enumerate(vectors["events"]):
        e = v["input"]
        canonical = event_bytes(e)
        c.eq(f"event {n} canonical bytes", canonical, v["canonical_hex"])
        c.eq(f"event {n} sealed length", len(canonical), v["sealed_len"])
        c.eq(f"event {n} seal", seal(secret, canonical), v["seal_hex"])
        c.eq(f"event {n} secret id", e["secret_id_hex"], sid)
        c.eq(f"event {n} links to its predecessor", e["prev_hex"], prev)
        c.eq(f"event {n} seq", e["seq"], n + 1)
        # A tamper case: one changed byte changes the seal.
        tampered = canonical[:-1] + bytes([canonical[-1] ^ 1])
        c.eq(f"event {n} tampered", seal(secret, tampered) != bytes.fromhex(v["seal_hex"]), True)
        prev = bytes.fromhex(v["seal_hex"])

    for v in vectors["detail_aad"]:
        c.eq(f"detail aad {v['chain']}#{v['seq']}.{v['key']}",
             detail_aad(v["chain"], v["seq"], v["key"]), v["aad_hex"])

    env = vectors["envelope"]
    first = vectors["events"][0]["input"]
    subject = next(d for d in first["details"] if d["key"] == "subject")
    wrapped = bytes.fromhex(env["wrapped_dek_hex"])
    payload = bytes.fromhex(env["payload_hex"])
    c.eq("envelope aad is the detail's", env["aad_hex"],
         detail_aad(first["chain"], first["seq"], subject["key"]))
    c.eq("envelope payload is the event's", subject["payload_hex"], env["payload_hex"])
    c.eq("envelope wrapped key is the event's", subject["wrapped_dek_hex"], env["wrapped_dek_hex"])
    c.eq("Tink KmsEnvelopeAead layout", u32(len(wrapped)) + wrapped + payload,
         env["tink_ciphertext_hex"])
    c.eq("DEK proto: AesGcmSivKey { key_value: dek }",
         b"\x1a\x20" + bytes.fromhex(env["dek_hex"]), env["dek_proto_hex"])
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
         b"\x1a\x20" + bytes.fromhex(env["kek_key_hex"]))

    check_envelope_crypto(c, env)

    a = vectors["anchor"]
    canonical = anchor_bytes(a["input"])
    c.eq("anchor canonical bytes", canonical, a["canonical_hex"])
    c.eq("anchor seal", seal(secret, canonical), a["seal_hex"])
    c.eq("anchor prev is the seal before its first kept event",
         a["input"]["prev_hex"], vectors["events"][a["input"]["first_seq"] - 2]["seal_hex"])

    cp = vectors["checkpoint"]
    canonical = checkpoint_bytes(cp["input"])
    c.eq("checkpoint canonical bytes", canonical, cp["canonical_hex"])
    c.eq("checkpoint mac", seal(secret, canonical), cp["mac_hex"])
    c.eq("checkpoint head is the last event", cp["input"]["seal_hex"],
         vectors["events"][cp["input"]["seq"] - 1]["seal_hex"])
    file = json.loads(cp["json"])
    c.eq("checkpoint file fields", sorted(file),
         sorted(["version", "chain", "seq", "seal", "timestamp", "count", "secretId", "mac"]))
    from_file = {"chain": file["chain"], "seq": file["seq"], "seal_hex": file["seal"],
                 "timestamp_ms": file["timestamp"], "count": file["count"],
                 "secret_id_hex": file["secretId"]}
    c.eq("checkpoint file version", file["version"], FORMAT_VERSION)
    c.eq("checkpoint file mac", seal(secret, checkpoint_bytes(from_file)), file["mac"])

    for r in vectors["reports"]:
        canonical = report_bytes(r["input"])
        c.eq(f"report '{r['name']}' canonical bytes", canonical, r["canonical_hex"])
        c.eq(f"report '{r['name']}' seal", seal(secret, canonical), r["seal_hex"])
    return c


def main():
    default = Path(__file__).resolve().parent / "chain_vectors.json"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    result = check(json.loads(path.read_text(encoding="utf-8")))
    print(f"chain vectors: {result.passed} passed, {result.failed} failed")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())

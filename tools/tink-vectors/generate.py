#!/usr/bin/env python3
"""Writes tests/vectors/tink_aead_vectors.json with the official Tink (Python).

For every local Tink AEAD key type this project implements beside AES-GCM and
AES-GCM-SIV (AES-CTR-HMAC with SHA-256 and SHA-512, AES-EAX with 16- and
12-byte nonces, ChaCha20-Poly1305, XChaCha20-Poly1305) and every output
prefix (TINK, LEGACY, CRUNCHY, RAW): a fresh keyset in Tink's cleartext JSON,
and ciphertexts Tink made of a few plaintexts with a few associated data.
The keys are test keys made for this file, nothing else. Tink Python has no
ChaCha20-Poly1305 key manager: those vectors come from Tink Go, through
tools/tink-vectors/chacha20 (`go run`, Go modules from the Go proxy).

    python3 -m venv /tmp/tinkvenv && /tmp/tinkvenv/bin/pip install tink
    /tmp/tinkvenv/bin/python tools/tink-vectors/generate.py

The Rust tests (crates/keyset/tests/more_aeads.rs) read the copy under
crates/keyset/tests/vectors/ (the crate reads nothing outside itself); this
script writes both.
"""

import copy
import json
import os
import subprocess
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)

import tink  # noqa: E402
from tink import aead, secret_key_access
from tink.proto import common_pb2, tink_pb2

aead.register()

PREFIXES = {
    "TINK": tink_pb2.TINK,
    "LEGACY": tink_pb2.LEGACY,
    "CRUNCHY": tink_pb2.CRUNCHY,
    "RAW": tink_pb2.RAW,
}

T = aead.aead_key_templates
TEMPLATES = [
    ("aes128_ctr_hmac_sha256", T.AES128_CTR_HMAC_SHA256),
    ("aes256_ctr_hmac_sha256", T.AES256_CTR_HMAC_SHA256),
    # SHA-512, 12-byte IV, 64-byte HMAC key, full 64-byte tag.
    (
        "aes256_ctr_hmac_sha512_iv12_tag64",
        T.create_aes_ctr_hmac_aead_key_template(32, 12, 64, 64, common_pb2.SHA512),
    ),
    # SHA-512 with the shortest tag Tink allows.
    (
        "aes128_ctr_hmac_sha512_tag10",
        T.create_aes_ctr_hmac_aead_key_template(16, 16, 32, 10, common_pb2.SHA512),
    ),
    ("aes128_eax", T.AES128_EAX),
    ("aes256_eax", T.AES256_EAX),
    ("aes256_eax_nonce12", T.create_aes_eax_key_template(32, 12)),
    # ChaCha20-Poly1305: Tink Python (Tink C++) has no key manager for it;
    # tools/tink-vectors/chacha20/ makes its vectors with Tink Go.
    ("xchacha20_poly1305", T.XCHACHA20_POLY1305),
]

PLAINTEXTS = [b"", b"x", b"Stream audit payload: 1234 5678 9012 3456", bytes(range(256)) * 2]
AADS = [b"", b"events/42/details.pan"]


def keyset_json(handle):
    return tink.json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sets = []
    for name, template in TEMPLATES:
        for prefix_name, prefix in PREFIXES.items():
            t = copy.deepcopy(template)
            t.output_prefix_type = prefix
            handle = tink.new_keyset_handle(t)
            primitive = handle.primitive(aead.Aead)
            vectors = []
            for pt in PLAINTEXTS:
                for ad in AADS:
                    ct = primitive.encrypt(pt, ad)
                    assert primitive.decrypt(ct, ad) == pt
                    vectors.append(
                        {"plaintext_hex": pt.hex(), "aad_hex": ad.hex(), "ciphertext_hex": ct.hex()}
                    )
            info = handle.keyset_info()
            sets.append(
                {
                    "name": f"{name}_{prefix_name.lower()}",
                    "type_url": t.type_url,
                    "output_prefix_type": prefix_name,
                    "template_value_hex": t.value.hex(),
                    "primary_key_id": info.primary_key_id,
                    "keyset_json": keyset_json(handle),
                    "vectors": vectors,
                }
            )
    sets.extend(chacha20_sets(root))
    out = {
        "generator": {
            "script": "tools/tink-vectors/generate.py",
            "python": sys.version.split()[0],
            "tink_version": tink_version(),
            "chacha20_poly1305": "Tink Go " + tink_go_version(root)
            + " (Tink Python has no ChaCha20Poly1305Key manager)",
        },
        "conventions": {
            "hex": "lowercase hex",
            "keyset_json": "Tink cleartext JSON keyset (tink.json_proto_keyset_format), test keys only",
        },
        "aead": sets,
    }
    text = json.dumps(out, indent=1) + "\n"
    for path in ["tests/vectors/tink_aead_vectors.json", "crates/keyset/tests/vectors/tink_aead_vectors.json"]:
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    print(f"{len(sets)} keysets, {sum(len(s['vectors']) for s in sets)} ciphertexts")


def chacha20_sets(root):
    """ChaCha20-Poly1305 from Tink Go (tools/tink-vectors/chacha20, needs `go`)."""
    request = json.dumps(
        {"plaintexts_hex": [p.hex() for p in PLAINTEXTS], "aads_hex": [a.hex() for a in AADS]}
    )
    done = subprocess.run(
        ["go", "run", "."],
        cwd=os.path.join(root, "tools", "tink-vectors", "chacha20"),
        input=request.encode(),
        capture_output=True,
        check=True,
    )
    return json.loads(done.stdout)


def tink_go_version(root):
    with open(os.path.join(root, "tools", "tink-vectors", "chacha20", "go.mod")) as f:
        for line in f:
            if "tink-go" in line:
                return line.split()[-1]
    return "unknown"


def tink_version():
    try:
        from importlib.metadata import version

        return version("tink")
    except Exception:  # pragma: no cover
        return "unknown"


if __name__ == "__main__":
    main()

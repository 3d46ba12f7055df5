#!/usr/bin/env python3
"""The other direction of tink_aead_vectors.json: the keyset tool
(examples/keyset.rs) generates keysets of every template Tink Python
implements, with every output prefix, and encrypts; the official Tink Python
parses each keyset and decrypts each ciphertext (and refuses it with other
associated data).

    python3 -m venv /tmp/tinkvenv && /tmp/tinkvenv/bin/pip install tink
    /tmp/tinkvenv/bin/python tools/tink-vectors/check_tool.py

Tink Python has no ChaCha20Poly1305Key manager: chacha20-poly1305 keysets
and ciphertexts go to Tink Go instead (`go run ./tools/tink-vectors/chacha20
decrypt`, needs `go`). Exits non-zero on the first mismatch.
"""

import json
import os
import subprocess
import sys
import tempfile

import tink
from tink import aead, secret_key_access

aead.register()

TEMPLATES = [
    "aes256-gcm-siv",
    "aes128-gcm-siv",
    "aes256-gcm",
    "aes128-gcm",
    "aes128-ctr-hmac-sha256",
    "aes256-ctr-hmac-sha256",
    "aes128-eax",
    "aes256-eax",
    "xchacha20-poly1305",
    "chacha20-poly1305",
]
PREFIXES = ["tink", "legacy", "crunchy", "raw"]
CASES = [(b"", b""), (b"payload", b"\x0a\x0b"), (bytes(range(256)) * 3, b"events/42")]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run(["cargo", "build", "-q", "--example", "keyset"], cwd=root, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    tool = os.path.join(target, "debug", "examples", "keyset")
    checked = 0
    with tempfile.TemporaryDirectory() as scratch:
        for template in TEMPLATES:
            for prefix in PREFIXES:
                path = os.path.join(scratch, f"{template}-{prefix}.json")
                # The tool makes TINK and RAW keys only; a LEGACY or CRUNCHY
                # keyset (from older Tink deployments) is a TINK one with
                # its prefix type changed, which the tool reads and uses.
                generated = subprocess.run(
                    [tool, "generate", "--template", template, "--prefix", "raw" if prefix == "raw" else "tink"],
                    check=True,
                    capture_output=True,
                ).stdout
                if prefix in ("legacy", "crunchy"):
                    generated = generated.replace(
                        b'"outputPrefixType": "TINK"', f'"outputPrefixType": "{prefix.upper()}"'.encode()
                    )
                    assert prefix.upper().encode() in generated, generated
                with open(path, "wb") as f:
                    f.write(generated)
                go_cases = []
                if template != "chacha20-poly1305":
                    handle = tink.json_proto_keyset_format.parse(
                        generated.decode(), secret_key_access.TOKEN
                    )
                    primitive = handle.primitive(aead.Aead)
                for plaintext, ad in CASES:
                    ciphertext = subprocess.run(
                        # An empty associated data must be asked for (`--no-aad`).
                        [tool, "encrypt", "--keyset", path]
                        + (["--aad-hex", ad.hex()] if ad else ["--no-aad"]),
                        input=plaintext,
                        check=True,
                        capture_output=True,
                    ).stdout
                    checked += 1
                    if template == "chacha20-poly1305":
                        go_cases.append(
                            {"plaintext_hex": plaintext.hex(), "aad_hex": ad.hex(), "ciphertext_hex": ciphertext.hex()}
                        )
                        continue
                    if primitive.decrypt(ciphertext, ad) != plaintext:
                        print(f"{template} {prefix}: Tink decrypted something else")
                        return 1
                    try:
                        primitive.decrypt(ciphertext, ad + b"!")
                        print(f"{template} {prefix}: Tink accepted other associated data")
                        return 1
                    except tink.TinkError:
                        pass
                if go_cases:
                    subprocess.run(
                        ["go", "run", ".", "decrypt"],
                        cwd=os.path.join(root, "tools", "tink-vectors", "chacha20"),
                        input=json.dumps({"keyset_json": generated.decode(), "cases": go_cases}).encode(),
                        check=True,
                    )
    print(
        f"Tink Python {tink_version()} (Tink Go for ChaCha20-Poly1305) decrypted"
        f" {checked} ciphertexts of the keyset tool"
    )
    return 0


def tink_version():
    from importlib.metadata import version

    return version("tink")


if __name__ == "__main__":
    sys.exit(main())

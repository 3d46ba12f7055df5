#!/usr/bin/env bash
# The project's test command (README, .ci/run): the whole suite, with the
# MongoDB integration tests required to run (STREAM_REQUIRE_MONGO=1).
#
# With MONGODB_URI set, the tests use that server. Without it, this script
# starts a local FerretDB (scripts/mongo-server.sh) on 127.0.0.1 for the run
# and stops it afterwards; fault tests restart it through
# STREAM_MONGO_SCRIPT. With TOXIPROXY_URL unset, it starts Toxiproxy
# (scripts/toxiproxy.sh) for the fault tests of tests/pods.rs.
#
# After the Rust tests, tools/tink-java/run.sh checks the keyset tool against
# Tink Java both ways (Tink from Maven Central, ~/.m2 once downloaded); it
# needs Java 17 and Maven and fails, not skips, without them. Then
# tools/tink-vectors/run.sh checks it against Tink Python (a virtual
# environment in ~/.cache/stream-store, Tink from PyPI once) and Tink Go.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export STREAM_REQUIRE_MONGO=1
cleanup() {
    if [ -n "${STREAM_TOXIPROXY_STATE:-}" ]; then
        scripts/toxiproxy.sh stop >&2 || true
        rm -rf "$STREAM_TOXIPROXY_STATE"
    fi
    if [ -n "${STREAM_MONGO_STATE:-}" ]; then
        scripts/mongo-server.sh stop --purge >&2 || true
        rm -rf "$STREAM_MONGO_STATE"
    fi
}
trap cleanup EXIT

if [ -z "${MONGODB_URI:-}" ]; then
    STREAM_MONGO_STATE="$(mktemp -d "${TMPDIR:-/tmp}/stream-test-mongo.XXXXXX")"
    export STREAM_MONGO_STATE
    export STREAM_MONGO_SCRIPT="$PWD/scripts/mongo-server.sh"
    line="$(scripts/mongo-server.sh start)"
    export MONGODB_URI="${line#MONGODB_URI=}"
    echo "test.sh: using the local FerretDB at $MONGODB_URI" >&2
fi

if [ -z "${TOXIPROXY_URL:-}" ]; then
    STREAM_TOXIPROXY_STATE="$(mktemp -d "${TMPDIR:-/tmp}/stream-test-toxiproxy.XXXXXX")"
    export STREAM_TOXIPROXY_STATE
    line="$(scripts/toxiproxy.sh start)"
    export TOXIPROXY_URL="${line#TOXIPROXY_URL=}"
    echo "test.sh: using Toxiproxy at $TOXIPROXY_URL" >&2
fi

cargo test --workspace "$@"

# The keyset tool that `cargo test` just built, against Tink Java.
tools/tink-java/run.sh

# The same tool against Tink Python 1.16.1 from PyPI (and Tink Go for
# ChaCha20-Poly1305): 120 ciphertexts the tool made, decrypted by Tink.
tools/tink-vectors/run.sh

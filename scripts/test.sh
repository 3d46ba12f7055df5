#!/usr/bin/env bash
# The project's test command (README, .ci/run): the whole suite, with the
# MongoDB integration tests required to run (STREAM_REQUIRE_MONGO=1).
#
# With MONGODB_URI set, the tests use that server. Without it, this script
# starts a local FerretDB (scripts/mongo-server.sh) on 127.0.0.1 for the run
# and stops it afterwards; fault tests restart it through
# STREAM_MONGO_SCRIPT.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export STREAM_REQUIRE_MONGO=1
if [ -z "${MONGODB_URI:-}" ]; then
    STREAM_MONGO_STATE="$(mktemp -d "${TMPDIR:-/tmp}/stream-test-mongo.XXXXXX")"
    export STREAM_MONGO_STATE
    export STREAM_MONGO_SCRIPT="$PWD/scripts/mongo-server.sh"
    trap 'scripts/mongo-server.sh stop --purge >&2 || true; rm -rf "$STREAM_MONGO_STATE"' EXIT
    line="$(scripts/mongo-server.sh start)"
    export MONGODB_URI="${line#MONGODB_URI=}"
    echo "test.sh: using the local FerretDB at $MONGODB_URI" >&2
fi

cargo test --workspace "$@"

#!/usr/bin/env bash
# Run a MongoDB wire-compatible test server (FerretDB with the SQLite backend)
# on 127.0.0.1. See tools/ferretdb/README.md.
#
# Usage:
#   scripts/mongo-server.sh start          # build if needed, start, print MONGODB_URI=...
#   scripts/mongo-server.sh stop [--purge] # stop; --purge also deletes the data dir
#   scripts/mongo-server.sh restart        # stop + start on the same port and data dir
#   scripts/mongo-server.sh status         # print MONGODB_URI=... if running, else exit 1
#
# Only the `MONGODB_URI=mongodb://127.0.0.1:PORT/` line goes to stdout;
# everything else goes to stderr, so `export "$(scripts/mongo-server.sh start)"` works.
#
# Environment:
#   STREAM_FERRETDB_CACHE  binary cache root (default: $HOME/.cache/stream-store/ferretdb)
#   STREAM_MONGO_STATE     state dir: port, pid, data dir, log (default: .stream-mongo/ at
#                          the root of this checkout, ignored by git; one per checkout)
#   STREAM_MONGO_LOG_LEVEL server log level: debug, info, warn, error (default: error;
#                          FerretDB logs every error reply, e.g. each duplicate key, at warn)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_DIR="$ROOT/tools/ferretdb"
CACHE_ROOT="${STREAM_FERRETDB_CACHE:-${HOME:-${TMPDIR:-/tmp}}/.cache/stream-store/ferretdb}"
STATE_DIR="${STREAM_MONGO_STATE:-$ROOT/.stream-mongo}"
LOG_LEVEL="${STREAM_MONGO_LOG_LEVEL:-error}"
HOST=127.0.0.1
START_TIMEOUT=60

PORT_FILE="$STATE_DIR/port"
PID_FILE="$STATE_DIR/pid"
DATA_FILE="$STATE_DIR/datadir"
LOG_FILE="$STATE_DIR/ferretdb.log"

log() { echo "mongo-server: $*" >&2; }
die() { log "error: $*"; exit 1; }

src_hash() {
    (cd "$SRC_DIR" && cat go.mod go.sum main.go id-index.sed) | sha256sum | cut -c1-16
}

# Writes into directory $1 a copy of the FerretDB module patched by
# id-index.sed and a go.mod/go.sum pair that replaces the module with it (the
# go command refuses overlays of files in the module cache); prints the
# go.mod's path, for `go build -modfile`. Fails if the patch no longer applies.
write_patched_module() {
    local dir="$1" mod src file
    mod="$(cd "$SRC_DIR" && go mod download -json github.com/FerretDB/FerretDB \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')" \
        || die "cannot download the FerretDB module"
    src="$dir/ferretdb-src"
    rm -rf "$src"
    cp -r "$mod" "$src"
    chmod -R u+w "$src"
    file="$src/internal/backends/sqlite/metadata/metadata.go"
    sed -f "$SRC_DIR/id-index.sed" "$mod/internal/backends/sqlite/metadata/metadata.go" >"$file"
    ! cmp -s "$mod/internal/backends/sqlite/metadata/metadata.go" "$file" \
        || die "tools/ferretdb/id-index.sed no longer applies to $mod"
    cp "$SRC_DIR/go.mod" "$dir/go.mod"
    cp "$SRC_DIR/go.sum" "$dir/go.sum"
    (cd "$SRC_DIR" && go mod edit -modfile="$dir/go.mod" \
        -replace "github.com/FerretDB/FerretDB=$src") || die "cannot write $dir/go.mod"
    echo "$dir/go.mod"
}

# Prints the path of the (possibly freshly built) server binary.
ensure_binary() {
    local dir bin tmp start rc modfile
    dir="$CACHE_ROOT/$(src_hash)"
    bin="$dir/ferretdb"
    if [[ -x "$bin" ]]; then
        echo "$bin"
        return
    fi
    command -v go >/dev/null 2>&1 || die "go toolchain not found (needed to build FerretDB)"
    mkdir -p "$dir"
    # Serialise concurrent builds of the same wrapper.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$dir/.lock"
        flock 9
        if [[ -x "$bin" ]]; then
            exec 9>&-
            echo "$bin"
            return
        fi
    fi
    tmp="$dir/ferretdb.tmp.$$"
    start=$SECONDS
    log "building FerretDB into $bin (takes a few minutes on 2 cores)..."
    modfile="$(write_patched_module "$dir")"
    rc=0
    (cd "$SRC_DIR" && CGO_ENABLED=0 go build -mod=readonly -trimpath -modfile "$modfile" \
        -o "$tmp" .) >&2 || rc=$?
    if [[ $rc -ne 0 ]]; then
        log "build failed; retrying with -ldflags=-checklinkname=0"
        rc=0
        (cd "$SRC_DIR" && CGO_ENABLED=0 go build -mod=readonly -trimpath -modfile "$modfile" \
            -ldflags=-checklinkname=0 -o "$tmp" .) >&2 || rc=$?
    fi
    if [[ $rc -ne 0 ]]; then
        rm -f "$tmp"
        die "building FerretDB failed"
    fi
    mv -f "$tmp" "$bin"
    log "built FerretDB in $((SECONDS - start))s"
    exec 9>&-
    echo "$bin"
}

# Prints the pid of the running server, or fails.
running_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against pid reuse: the process must be our ferretdb binary.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'ferretdb.*--listen-addr' || return 1
    # Zombies are not running.
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]] || return 1
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
        return
    fi
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! port_open "$p"; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

print_uri() {
    echo "MONGODB_URI=mongodb://$HOST:$1/"
}

# start_server PORT: start on PORT (empty = pick a free one), reusing the data dir.
start_server() {
    local port="$1" bin data pid i
    mkdir -p "$STATE_DIR"
    if pid="$(running_pid)"; then
        log "already running (pid $pid)"
        print_uri "$(cat "$PORT_FILE")"
        return
    fi
    bin="$(ensure_binary)"

    data=""
    [[ -f "$DATA_FILE" ]] && data="$(cat "$DATA_FILE")"
    [[ -n "$data" ]] || data="$STATE_DIR/data"
    mkdir -p "$data"
    echo "$data" >"$DATA_FILE"

    [[ -n "$port" ]] || port="$(free_port)"
    if port_open "$port"; then
        die "port $port on $HOST is already in use"
    fi
    echo "$port" >"$PORT_FILE"

    log "starting FerretDB on $HOST:$port (data: $data, log: $LOG_FILE)"
    {
        echo "==== $(date -u +%Y-%m-%dT%H:%M:%SZ) start port=$port"
    } >>"$LOG_FILE"
    # setsid detaches from our process group/terminal; all fds are redirected so
    # that a caller capturing our stdout does not wait for the server.
    nohup setsid "$bin" \
        --handler=sqlite \
        "--sqlite-url=file:$data/" \
        "--listen-addr=$HOST:$port" \
        "--log-level=$LOG_LEVEL" \
        --telemetry=disable --state-dir=- --debug-addr=- \
        </dev/null >>"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"

    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "server exited during startup; log tail:"
            tail -n 40 "$LOG_FILE" >&2 || true
            rm -f "$PID_FILE"
            exit 1
        fi
        if port_open "$port"; then
            log "ready (pid $pid)"
            print_uri "$port"
            return
        fi
        sleep 0.1
    done
    log "server did not accept connections within ${START_TIMEOUT}s; log tail:"
    tail -n 40 "$LOG_FILE" >&2 || true
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    exit 1
}

stop_server() {
    local purge="$1" pid i data
    if pid="$(running_pid)"; then
        log "stopping pid $pid"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            running_pid >/dev/null || break
            sleep 0.1
        done
        if running_pid >/dev/null; then
            log "pid $pid did not stop after 10s; killing"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                running_pid >/dev/null || break
                sleep 0.1
            done
        fi
    else
        log "not running"
    fi
    rm -f "$PID_FILE"
    if [[ "$purge" == 1 ]]; then
        data=""
        [[ -f "$DATA_FILE" ]] && data="$(cat "$DATA_FILE")"
        if [[ -n "$data" && -d "$data" ]]; then
            log "deleting data dir $data"
            rm -rf -- "$data"
        fi
        rm -f "$DATA_FILE" "$PORT_FILE" "$LOG_FILE"
    fi
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
start)
    [[ $# -eq 0 ]] || die "usage: $0 start"
    start_server ""
    ;;
stop)
    purge=0
    case "${1:-}" in
    "") ;;
    --purge) purge=1 ;;
    *) die "usage: $0 stop [--purge]" ;;
    esac
    stop_server "$purge"
    ;;
restart)
    [[ $# -eq 0 ]] || die "usage: $0 restart"
    port=""
    [[ -f "$PORT_FILE" ]] && port="$(cat "$PORT_FILE")"
    stop_server 0
    start_server "$port"
    ;;
status)
    if pid="$(running_pid)" && [[ -f "$PORT_FILE" ]]; then
        print_uri "$(cat "$PORT_FILE")"
    else
        log "not running"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 {start|stop [--purge]|restart|status}" >&2
    exit 2
    ;;
esac

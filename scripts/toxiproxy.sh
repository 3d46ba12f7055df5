#!/usr/bin/env bash
# Run a Toxiproxy server (network fault injection for tests) on 127.0.0.1.
# See tools/toxiproxy/README.md.
#
# Usage:
#   scripts/toxiproxy.sh start    # build if needed, start, print TOXIPROXY_URL=...
#   scripts/toxiproxy.sh stop     # stop (all proxies are dropped; they live in memory)
#   scripts/toxiproxy.sh status   # print TOXIPROXY_URL=... if running, else exit 1
#
# Only the `TOXIPROXY_URL=http://127.0.0.1:PORT` line goes to stdout;
# everything else goes to stderr, so `export "$(scripts/toxiproxy.sh start)"` works.
#
# Environment:
#   STREAM_TOXIPROXY_CACHE      binary cache root (default: $HOME/.cache/stream-store/toxiproxy)
#   STREAM_TOXIPROXY_STATE      state dir: port, pid, log (default: ${TMPDIR:-/tmp}/stream-store-toxiproxy)
#   STREAM_TOXIPROXY_LOG_LEVEL  server log level: debug, info, warn, error (default: warn;
#                               at info, Toxiproxy logs every accepted and closed connection)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_DIR="$ROOT/tools/toxiproxy"
CACHE_ROOT="${STREAM_TOXIPROXY_CACHE:-${HOME:-${TMPDIR:-/tmp}}/.cache/stream-store/toxiproxy}"
STATE_DIR="${STREAM_TOXIPROXY_STATE:-${TMPDIR:-/tmp}/stream-store-toxiproxy}"
LOG_LEVEL="${STREAM_TOXIPROXY_LOG_LEVEL:-warn}"
HOST=127.0.0.1
START_TIMEOUT=30

PORT_FILE="$STATE_DIR/port"
PID_FILE="$STATE_DIR/pid"
LOG_FILE="$STATE_DIR/toxiproxy.log"

log() { echo "toxiproxy: $*" >&2; }
die() { log "error: $*"; exit 1; }

src_hash() {
    (cd "$SRC_DIR" && cat go.mod go.sum main.go) | sha256sum | cut -c1-16
}

# Prints the path of the (possibly freshly built) server binary.
ensure_binary() {
    local dir bin tmp start rc
    dir="$CACHE_ROOT/$(src_hash)"
    bin="$dir/toxiproxy"
    if [[ -x "$bin" ]]; then
        echo "$bin"
        return
    fi
    command -v go >/dev/null 2>&1 || die "go toolchain not found (needed to build Toxiproxy)"
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
    tmp="$dir/toxiproxy.tmp.$$"
    start=$SECONDS
    log "building Toxiproxy into $bin..."
    rc=0
    (cd "$SRC_DIR" && CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$tmp" .) >&2 || rc=$?
    if [[ $rc -ne 0 ]]; then
        rm -f "$tmp"
        die "building Toxiproxy failed"
    fi
    mv -f "$tmp" "$bin"
    log "built Toxiproxy in $((SECONDS - start))s"
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
    # Guard against pid reuse: the process must be our toxiproxy binary.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'toxiproxy.*-host' || return 1
    # Zombies are not running.
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]] || return 1
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# True when GET /version answers with HTTP 200.
api_ready() {
    local status=""
    if command -v curl >/dev/null 2>&1; then
        status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$HOST:$1/version" 2>/dev/null || true)"
    else
        status="$(
            {
                exec 3<>"/dev/tcp/$HOST/$1" &&
                    printf 'GET /version HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$HOST" "$1" >&3 &&
                    timeout 2 head -n 1 <&3 | awk '{print $2}'
            } 2>/dev/null
        )" || true
    fi
    [[ "$status" == 200 ]]
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

print_url() {
    echo "TOXIPROXY_URL=http://$HOST:$1"
}

start_server() {
    local bin port pid i
    mkdir -p "$STATE_DIR"
    if pid="$(running_pid)"; then
        log "already running (pid $pid)"
        print_url "$(cat "$PORT_FILE")"
        return
    fi
    bin="$(ensure_binary)"

    port="$(free_port)"
    if port_open "$port"; then
        die "port $port on $HOST is already in use"
    fi
    echo "$port" >"$PORT_FILE"

    log "starting Toxiproxy on $HOST:$port (log: $LOG_FILE)"
    {
        echo "==== $(date -u +%Y-%m-%dT%H:%M:%SZ) start port=$port"
    } >>"$LOG_FILE"
    # setsid detaches from our process group/terminal; all fds are redirected so
    # that a caller capturing our stdout does not wait for the server.
    nohup setsid "$bin" \
        "-host=$HOST" \
        "-port=$port" \
        "-log-level=$LOG_LEVEL" \
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
        if api_ready "$port"; then
            log "ready (pid $pid)"
            print_url "$port"
            return
        fi
        sleep 0.1
    done
    log "API did not answer within ${START_TIMEOUT}s; log tail:"
    tail -n 40 "$LOG_FILE" >&2 || true
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    exit 1
}

stop_server() {
    local pid i
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
    rm -f "$PID_FILE" "$PORT_FILE"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
start)
    [[ $# -eq 0 ]] || die "usage: $0 start"
    start_server
    ;;
stop)
    [[ $# -eq 0 ]] || die "usage: $0 stop"
    stop_server
    ;;
status)
    if pid="$(running_pid)" && [[ -f "$PORT_FILE" ]]; then
        print_url "$(cat "$PORT_FILE")"
    else
        log "not running"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 {start|stop|status}" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (cargo fuzz, libFuzzer, nightly) for
# SECONDS each, one after the other, one process at a time:
#
#   scripts/fuzz.sh SECONDS [TARGET...]    # default: every target
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Each target starts from its committed seeds (fuzz/corpus/<target>/,
# read only) and its working corpus fuzz/work/<target>/, where libFuzzer
# keeps what it finds and which later runs resume from; crashes go to
# fuzz/artifacts/<target>/, the log of a run to fuzz/logs/<target>.log.
# None of these is committed (.gitignore): a crash reproducer worth
# keeping is minimised (`cargo +nightly fuzz tmin <target> <file>`) and
# committed under fuzz/regressions/<target>/, which the stable test
# crates/fuzzing/tests/corpus.rs replays with the seeds.
#
# Prints, per target, libFuzzer's final statistics (executions, exec/s,
# coverage, features, peak RSS) and exits non-zero if any target crashed,
# ran out of memory (FUZZ_RSS_MB, default 1024) or timed out on one input
# (FUZZ_TIMEOUT seconds, default 10).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
    exit 2
fi
seconds="$1"
shift
rss_mb="${FUZZ_RSS_MB:-1024}"
timeout_s="${FUZZ_TIMEOUT:-10}"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# The dictionary of a target, if it has one.
dict_of() {
    case "$1" in
        keyset_json | keyset_encrypted | checkpoint_file) echo dict/keyset-json.dict ;;
        mongoexport) echo dict/json.dict ;;
        bson_event | mongodump | sealed_document) echo dict/bson.dict ;;
        *) echo "" ;;
    esac
}

# One build for all targets, so that the timings are fuzzing only.
cargo +nightly fuzz build

mkdir -p logs
failed=()
summary=()
for target in "${targets[@]}"; do
    mkdir -p "work/$target" "artifacts/$target"
    args=(-max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout_s"
        -print_final_stats=1)
    dict="$(dict_of "$target")"
    if [ -n "$dict" ]; then
        args+=(-dict="$dict")
    fi
    echo "fuzz.sh: $target for ${seconds}s (${args[*]})" >&2
    status=0
    cargo +nightly fuzz run "$target" "work/$target" "corpus/$target" -- "${args[@]}" \
        > "logs/$target.log" 2>&1 || status=$?
    stat() { sed -n "s/^stat::$1: *//p" "logs/$target.log" | tail -n 1; }
    last="$(grep -E '^#[0-9]+' "logs/$target.log" | tail -n 1 || true)"
    cov="$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p' <<<"$last")"
    line="$target: $(stat number_of_executed_units) execs, $(stat average_exec_per_sec) exec/s, ${cov:-cov ?}, $(stat new_units_added) new units, peak RSS $(stat peak_rss_mb) MB"
    if [ "$status" -ne 0 ]; then
        line="$line: FAILED (exit $status, see fuzz/logs/$target.log and fuzz/artifacts/$target/)"
        failed+=("$target")
    fi
    echo "$line"
    summary+=("$line")
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi

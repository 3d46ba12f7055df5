#!/usr/bin/env bash
# The keyset tool (examples/keyset.rs) against Tink Java, both ways:
#
#  1. Tink Java (RoundTrip write) makes keysets of every AEAD key type and
#     output prefix, managed keysets (added, promoted, disabled, destroyed
#     keys) in JSON, binary and encrypted form, keysets with duplicate key
#     ids, KmsEnvelopeAead envelopes whose "KMS" is a keyset, and what Tink
#     refuses; the tool must read, list and decrypt them, and refuse what Tink
#     refuses.
#  2. The tool makes keysets, ciphertexts and envelopes, and manages copies
#     of Tink Java's keysets; Tink Java (RoundTrip check) must read, list and
#     decrypt them, and encrypts with each keyset it read.
#  3. The tool decrypts what Tink Java made in step 2.
#
# Usage: tools/tink-java/run.sh [PATH-OF-THE-KEYSET-TOOL]
# Without a path the tool is built (`cargo build --workspace --example
# keyset`, dev profile: a no-op after `cargo test --workspace`). Tink comes
# from Maven Central (offline from ~/.m2 when it is there). Prints the count
# of each kind of check; exits 1 on any mismatch, 2 if Java, Maven or the
# build is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for cmd in java mvn; do
    if ! command -v "$cmd" >/dev/null; then
        echo "run.sh: $cmd is required for the Tink Java round trip (Java 17 and Maven)" >&2
        exit 2
    fi
done

tool="${1:-}"
if [ -z "$tool" ]; then
    (cd "$root" && cargo build --quiet --workspace --example keyset)
    tool="${CARGO_TARGET_DIR:-$root/target}/debug/examples/keyset"
fi
[ -x "$tool" ] || { echo "run.sh: no keyset tool at $tool" >&2; exit 2; }

# Compile the one class and write the classpath of Tink and its dependencies
# (no packaging, no shading); offline when ~/.m2 has everything.
work="$(mktemp -d "${TMPDIR:-/tmp}/tink-java.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mvn_build() {
    (cd "$here" && mvn -q -B -Dstyle.color=never "$@" compile dependency:build-classpath \
        -Dmdep.outputFile=target/classpath.txt) >"$work/mvn.log" 2>&1
}
if ! mvn_build -o && ! mvn_build; then
    cat "$work/mvn.log" >&2
    echo "run.sh: the Maven build of tools/tink-java failed" >&2
    exit 2
fi
# Runs RoundTrip, its output indented; adds its counts to the totals.
java_passed=0
java_failed=0
java_rt() {
    local status=0
    java -cp "$here/target/classes:$(cat "$here/target/classpath.txt")" stream.tinkjava.RoundTrip "$@" \
        >"$work/java.log" 2>&1 || status=$?
    sed 's/^/  /' "$work/java.log"
    local last
    last="$(grep -E '^tink-java [a-z]+: [0-9]+ passed, [0-9]+ failed$' "$work/java.log" | tail -1 || true)"
    if [ -z "$last" ]; then
        echo "run.sh: RoundTrip $1 did not finish (exit $status)" >&2
        java_failed=$((java_failed + 1))
        return
    fi
    last="${last#*: }"
    java_passed=$((java_passed + ${last%% passed*}))
    last="${last#*passed, }"
    java_failed=$((java_failed + ${last%% failed}))
    [ "$status" = 0 ] || [ "${last%% failed}" != 0 ] || java_failed=$((java_failed + 1))
}

declare -A passed=() failed=()
ok() { passed[$1]=$((${passed[$1]:-0} + 1)); }
bad() {
    failed[$1]=$((${failed[$1]:-0} + 1))
    echo "run.sh: FAILED $1: $2" >&2
}

# Runs the tool: stdin from $in (or nothing), stdout to $work/out, stderr to
# $work/err; sets $rc.
in=/dev/null
run() {
    rc=0
    "$tool" "$@" <"$in" >"$work/out" 2>"$work/err" || rc=$?
    in=/dev/null
}

# Sets $args to the tool's options for a keyset spec FILE[@MASTER@AADHEX]
# relative to $base.
keyset_args() {
    local file master aad
    IFS=@ read -r file master aad <<<"$1"
    args=(--keyset "$base/$file")
    if [ -n "$master" ]; then
        args+=(--master-keyset "$base/$master")
        [ "$aad" = "-" ] || args+=(--master-aad-hex "$aad")
    fi
}

# The tool's listing as RoundTrip compares it: id:STATUS:PREFIX[:primary],...
listing() {
    keyset_args "$1"
    run list "${args[@]}"
    [ "$rc" = 0 ] || { echo "list failed: $(cat "$work/err")"; return; }
    awk '{ printf "%s%s:%s:%s%s", sep, $1, $2, $4, ($5 == "primary" ? ":primary" : ""); sep = "," }
         END { print "" }' "$work/out"
}

aad_args() { if [ "$1" = "-" ]; then aad=(--no-aad); else aad=(--aad-hex "$1"); fi; }

# Checks every line of the manifest $1 with the tool (see RoundTrip.java).
check_manifest() {
    base="$(dirname "$1")"
    local kind a b c d e got
    while read -r kind a b c d e; do
        case "$kind" in
        keys)
            got="$(listing "$a")"
            # LEGACY and CRUNCHY AEAD keys are one variant in Tink Java's key
            # objects (the same 0x00 prefix): it lists LEGACY ones as CRUNCHY.
            if [ "${got//LEGACY/CRUNCHY}" = "${b//LEGACY/CRUNCHY}" ]; then
                ok keys
            else
                bad keys "$a: the tool lists $got, Tink Java $b"
            fi
            ;;
        aead | refused)
            keyset_args "$a"
            aad_args "$c"
            in="$base/$b"
            run decrypt "${args[@]}" "${aad[@]}"
            if [ "$kind" = refused ]; then
                if [ "$rc" = 1 ]; then ok refused; else bad refused "$a $b: exit $rc $(cat "$work/err")"; fi
                continue
            fi
            if [ "$rc" = 0 ] && cmp -s "$work/out" "$base/$d"; then
                ok decrypt
            else
                bad decrypt "$a $b: exit $rc $(cat "$work/err")"
            fi
            in="$base/$b"
            run decrypt "${args[@]}" --aad-hex 6f74686572
            if [ "$rc" = 1 ]; then ok "wrong aad refused"; else bad "wrong aad refused" "$a $b: exit $rc"; fi
            ;;
        envelope)
            keyset_args "$a"
            in="$base/$c"
            run decrypt --envelope "${args[@]}" --aad-hex "$d"
            if [ "$rc" = 0 ] && cmp -s "$work/out" "$base/$e"; then
                ok "envelope decrypt"
            else
                bad "envelope decrypt" "$a $c: exit $rc $(cat "$work/err")"
            fi
            in="$base/$c"
            run decrypt --envelope "${args[@]}" --aad-hex 6f74686572
            if [ "$rc" = 1 ]; then ok "envelope wrong aad"; else bad "envelope wrong aad" "$c: exit $rc"; fi
            ;;
        ambiguous)
            keyset_args "$a"
            cp "$base/${a%%@*}" "$work/before"
            for op in promote enable disable destroy; do
                run "$op" "${args[@]}" --key-id "$b"
                if [ "$rc" = 2 ] && grep -q "keys of the keyset have id $b" "$work/err" &&
                    cmp -s "$work/before" "$base/${a%%@*}"; then
                    ok "ambiguous id refused"
                else
                    bad "ambiguous id refused" "$op $a $b: exit $rc $(cat "$work/err")"
                fi
            done
            ;;
        invalid)
            keyset_args "$a"
            run list "${args[@]}"
            if [ "$rc" = 2 ] && grep -q "$b" "$work/err"; then ok "invalid refused"; else bad "invalid refused" "$a: exit $rc $(cat "$work/err")"; fi
            ;;
        invalid-envelope)
            keyset_args "$a"
            in="$base/$b"
            run decrypt --envelope "${args[@]}" --aad-hex "$c"
            if [ "$rc" = 2 ] && grep -q "$d" "$work/err"; then ok "invalid data key refused"; else bad "invalid data key refused" "$b: exit $rc $(cat "$work/err")"; fi
            ;;
        unsupported)
            keyset_args "$a"
            in="$base/$b"
            run decrypt "${args[@]}" --aad-hex "$c"
            if [ "$rc" = 2 ] && grep -q "key $d" "$work/err"; then ok "unsupported key named"; else bad "unsupported key named" "$a $b: exit $rc $(cat "$work/err")"; fi
            ;;
        unsupported-primary)
            keyset_args "$a"
            in="$base/$a"
            run encrypt "${args[@]}" --no-aad
            if [ "$rc" = 2 ] && grep -q "key $b" "$work/err"; then ok "unsupported primary named"; else bad "unsupported primary named" "$a: exit $rc $(cat "$work/err")"; fi
            ;;
        managed-ids) managed=("$a" "$b" "$c" "$d" "$e") ;;
        *) bad manifest "unknown line: $kind" ;;
        esac
    done <"$1"
}

# Step 1: what Tink Java writes.
java_rt write "$work/java"
check_manifest "$work/java/manifest"

# Step 2: what the tool writes, for Tink Java to read.
T="$work/tool"
mkdir -p "$T"
manifest="$T/manifest"
: >"$manifest"
tool_ok() { # a tool run that must succeed to prepare a file
    if [ "$rc" != 0 ]; then bad "tool run" "$1: exit $rc $(cat "$work/err")"; return 1; fi
}
n=0
aad_hex() { printf 'aad %s' "$1" | od -An -tx1 | tr -d ' \n'; }
# encrypt_to NAME SPEC [quiet]: NAME.ct, a ciphertext of a new NAME.pt by
# SPEC's primary, and its manifest line (unless quiet).
encrypt_to() {
    local name="$1" spec="$2" hex
    hex="$(aad_hex "$name")"
    printf 'tool round trip %s \000\001\377 %s' "$name" "$n" >"$T/$name.pt"
    n=$((n + 1))
    base="$T" keyset_args "$spec"
    in="$T/$name.pt"
    run encrypt "${args[@]}" --aad-hex "$hex"
    tool_ok "encrypt $name" || return 0
    cp "$work/out" "$T/$name.ct"
    [ "${3:-}" = quiet ] || echo "aead $spec $name.ct $hex $name.pt" >>"$manifest"
}
keys_line() { base="$T"; echo "keys $1 $(listing "$1")" >>"$manifest"; }

base="$T"
for template in aes256-gcm-siv aes128-gcm-siv aes256-gcm aes128-gcm aes128-ctr-hmac-sha256 \
    aes256-ctr-hmac-sha256 aes128-eax aes256-eax chacha20-poly1305 xchacha20-poly1305; do
    for prefix in tink raw legacy crunchy; do
        name="tool-$template-$prefix"
        case $prefix in raw) p=raw ;; *) p=tink ;; esac
        run generate --template "$template" --prefix "$p"
        tool_ok "generate $name" || continue
        # LEGACY and CRUNCHY keys (the tool makes TINK and RAW ones): the same
        # key with its prefix type changed, as Tink would hold it.
        upper="$(echo "$prefix" | tr a-z A-Z)"
        sed "s/\"outputPrefixType\": \"TINK\"/\"outputPrefixType\": \"$upper\"/" "$work/out" >"$T/$name.json"
        keys_line "$name.json"
        encrypt_to "$name" "$name.json"
        if [ "$prefix" = tink ]; then
            for dek in aes256-gcm-siv aes128-gcm-siv aes256-gcm aes128-gcm; do
                env="$name-env-$dek"
                printf 'tool envelope %s \000\377' "$env" >"$T/$env.pt"
                in="$T/$env.pt"
                run encrypt --envelope --dek-template "$dek" --keyset "$T/$name.json" --aad-hex 656e76
                tool_ok "envelope $env" && cp "$work/out" "$T/$env.ct" &&
                    echo "envelope $name.json $dek $env.ct 656e76 $env.pt" >>"$manifest"
            done
        fi
    done
done

# A keyset managed by the tool from scratch: added, promoted, disabled, destroyed.
run generate --template aes256-gcm
cp "$work/out" "$T/managed.json"
ids=("$(awk '/primaryKeyId/ { gsub(/[^0-9]/, ""); print }' "$T/managed.json")")
for t in "aes256-gcm-siv tink" "chacha20-poly1305 raw" "xchacha20-poly1305 tink" "aes128-eax tink" \
    "aes128-ctr-hmac-sha256 raw"; do
    set -- $t
    run add --keyset "$T/managed.json" --template "$1" --prefix "$2"
    tool_ok "add $1" && ids+=("$(cat "$work/out")")
done
for i in "${!ids[@]}"; do
    run promote --keyset "$T/managed.json" --key-id "${ids[$i]}"
    tool_ok "promote ${ids[$i]}"
    encrypt_to "managed-$i" managed.json quiet
done
run promote --keyset "$T/managed.json" --key-id "${ids[1]}" && tool_ok promote
run disable --keyset "$T/managed.json" --key-id "${ids[2]}" && tool_ok disable
run destroy --keyset "$T/managed.json" --key-id "${ids[3]}" && tool_ok destroy
keys_line managed.json
for i in "${!ids[@]}"; do
    hex="$(aad_hex "managed-$i")"
    if [ "$i" = 2 ] || [ "$i" = 3 ]; then
        echo "refused managed.json managed-$i.ct $hex" >>"$manifest"
    else
        echo "aead managed.json managed-$i.ct $hex managed-$i.pt" >>"$manifest"
    fi
done

# Tink Java's managed keysets, managed further by the tool: a key added and
# promoted, the DISABLED key enabled, an ENABLED one destroyed.
J="$work/java"
cp "$J/master.json" "$T/master.json"
for spec in mgmt-legacy.json mgmt-legacy.bin mgmt.bin "mgmt-enc.json@master.json@6d617374657220616164" \
    "mgmt-enc.bin@master.json@6d617374657220616164" "mgmt-legacy-enc.json@master.json@-"; do
    file="${spec%%@*}"
    cp "$J/$file" "$T/$file"
    base="$T" keyset_args "$spec"
    run add "${args[@]}" --template xchacha20-poly1305
    tool_ok "add to $file" || continue
    new="$(cat "$work/out")"
    run promote "${args[@]}" --key-id "$new" && tool_ok "promote in $file"
    run enable "${args[@]}" --key-id "${managed[2]}" && tool_ok "enable in $file"
    run destroy "${args[@]}" --key-id "${managed[4]}" && tool_ok "destroy in $file"
    keys_line "$spec"
    encrypt_to "${file//./-}-new" "$spec"
    for i in 0 1 2 3 4; do
        name="mgmt-${managed[$i]}"
        cp "$J/$name.ct" "$J/$name.pt" "$T/"
        hex="$(aad_hex "$name")"
        if [ "$i" -ge 3 ]; then
            echo "refused $spec $name.ct $hex" >>"$manifest"
        else
            echo "aead $spec $name.ct $hex $name.pt" >>"$manifest"
        fi
    done
done

# Tink Java's keysets with duplicate ids, changed by the tool: a key added
# and promoted (the duplicate id itself cannot be managed: ambiguous).
for file in dup.json dup.bin dup-primary.json; do
    cp "$J/$file" "$T/$file"
    run add --keyset "$T/$file" --template aes256-gcm-siv
    tool_ok "add to $file" || continue
    run promote --keyset "$T/$file" --key-id "$(cat "$work/out")" && tool_ok "promote in $file"
    keys_line "$file"
    encrypt_to "${file//./-}-new" "$file"
    for i in 0 1 2; do
        cp "$J/dup-$i".* "$T/"
        hex="$(aad_hex "dup-$i")"
        if [ "$i" = 2 ]; then echo "refused $file dup-$i.ct $hex" >>"$manifest"; else echo "aead $file dup-$i.ct $hex dup-$i.pt" >>"$manifest"; fi
    done
done

java_rt check "$manifest" "$work/back"

# Step 3: what Tink Java made of the tool's keysets.
check_manifest "$work/back/manifest"

total_passed=$java_passed
total_failed=$java_failed
while IFS= read -r kind; do
    printf '  run.sh keyset tool: %-26s %4d passed, %d failed\n' "$kind" "${passed[$kind]:-0}" "${failed[$kind]:-0}"
    total_passed=$((total_passed + ${passed[$kind]:-0}))
    total_failed=$((total_failed + ${failed[$kind]:-0}))
done < <(printf '%s\n' "${!passed[@]}" "${!failed[@]}" | sort -u)
echo "tink-java: $total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ] && [ "$total_passed" -gt 0 ]

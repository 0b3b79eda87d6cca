#!/usr/bin/env bash
# Build the tests' bitcoind and bitcoin-cli, once, from the Bitcoin Core
# source that the libbitcoinkernel-sys crate vendors, into a cache outside
# the repository: $LNKIT_CACHE, else $XDG_CACHE_HOME/lnkit, else
# ~/.cache/lnkit. Behind a file lock, so that concurrent callers (test
# binaries, and .ci/run, which starts it early in the background) build it
# once. Prints the directory holding the two binaries.
#
# The tests call this (tests/common/bitcoind.rs); it needs cmake, a C++
# compiler, Boost headers, libevent and jq.
set -euo pipefail
cd "$(dirname "$0")/.."

crate=libbitcoinkernel-sys
# The version from Cargo.lock: a cached build is found without asking cargo
# (whose package-cache lock a running `cargo test` may hold).
version=$(awk -v c="$crate" '
    $0 == "name = \"" c "\"" { found = 1; next }
    found && /^version = / { gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$version" ] || { echo "$crate is not in Cargo.lock" >&2; exit 1; }

root=${LNKIT_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/lnkit}}
root=${root:-$HOME/.cache/lnkit}
mkdir -p "$root"
key="bitcoind-$crate-$version"
bin="$root/$key/bin"
done_already() { [ -x "$bin/bitcoind" ] && [ -x "$bin/bitcoin-cli" ]; }
if done_already; then echo "$bin"; exit 0; fi

exec 9>"$root/$key.lock"
flock 9
if done_already; then echo "$bin"; exit 0; fi # another caller built it while we waited

# Where cargo unpacked the crate's source. .ci/run hands over the metadata
# it read before its build took cargo's locks.
if [ -n "${LNKIT_CARGO_METADATA_FILE:-}" ]; then
    meta=$(cat "$LNKIT_CARGO_METADATA_FILE")
else
    meta=$(cargo metadata --format-version 1 --locked)
fi
manifest=$(jq -r --arg c "$crate" --arg v "$version" \
    '.packages[] | select(.name == $c and .version == $v) | .manifest_path' <<<"$meta")
[ -n "$manifest" ] || { echo "$crate $version is not in cargo metadata" >&2; exit 1; }
source="$(dirname "$manifest")/bitcoin"

# The daemon and the CLI, nothing else (no wallet, IPC, ZMQ, tests, bench,
# GUI). The crate leaves out src/node/data/ip_asn.dat: no embedded ASMap.
# At -O1, not Core's -O2: a regtest node for tests gains nothing from the
# last optimisations, and gcc compiles Core's sources about 25% faster
# (measured: 49.7 s against 66.1 s for four of its largest files). And as
# a unity build (scripts/core-unity-build.cmake): half the compile time.
flags=(
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1
    "-DCMAKE_PROJECT_BitcoinCore_INCLUDE=$PWD/scripts/core-unity-build.cmake"
    -DBUILD_DAEMON=ON -DBUILD_CLI=ON
    -DENABLE_WALLET=OFF -DENABLE_IPC=OFF -DWITH_ZMQ=OFF -DBUILD_TESTS=OFF
    -DBUILD_BENCH=OFF -DBUILD_GUI=OFF -DBUILD_KERNEL_LIB=OFF -DBUILD_TX=OFF
    -DBUILD_UTIL=OFF -DBUILD_WALLET_TOOL=OFF -DBUILD_BITCOIN_BIN=OFF
    -DBUILD_FUZZ_BINARY=OFF -DENABLE_EXTERNAL_SIGNER=OFF -DWITH_EMBEDDED_ASMAP=OFF
)
build="$root/$key-build"
echo "building bitcoind from $source into $root/$key (once; about 4 minutes on 2 idle cores)" >&2
run() {
    local log=$1; shift
    if ! "$@" >"$log" 2>&1; then
        echo "$* failed; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}
run "$root/$key-configure.log" cmake -S "$source" -B "$build" "${flags[@]}"
run "$root/$key-build.log" cmake --build "$build" --target bitcoind bitcoin-cli -j "$(nproc)"
# Install by renaming a complete folder, so a half-copied one is never taken.
staging="$root/$key-staging"
rm -rf "$staging"
mkdir -p "$staging/bin"
cp "$build/bin/bitcoind" "$build/bin/bitcoin-cli" "$staging/bin/"
rm -rf "${root:?}/$key"
mv "$staging" "$root/$key"
rm -rf "$build"
echo "$bin"

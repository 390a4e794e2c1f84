#!/bin/sh
# fuzz-smoke.sh - CI smoke test for the libFuzzer harnesses.
#
# Builds every harness (make FUZZ=1 fuzzers: clang with
# -fsanitize=fuzzer,address,undefined, into build-fuzz-clang/fuzz/), then
# for each one replays its whole corpus tests/fuzz/fuzz-NAME/ (the seeds
# and every regress-* input kept from a fixed crash) and fuzzes on for
# FUZZ_SMOKE_SECONDS (default 15). New inputs go to a temporary
# directory, never into tests/fuzz/. Prints "PASS fuzz-NAME" or
# "FAIL fuzz-NAME" per harness (with the end of libFuzzer's output and
# the crashing input on failure) and exits non-zero when any failed.
#
# Usage: tests/fuzz-smoke.sh [fuzz-NAME ...]   (default: every harness)
# About 5 x 15 s plus the build on 2 cores.

set -u
cd "$(dirname "$0")/.." || exit 2

SECONDS_EACH=${FUZZ_SMOKE_SECONDS:-15}
BIN=build-fuzz-clang/fuzz
JOBS=${FUZZ_SMOKE_JOBS:-2}

if ! command -v clang >/dev/null 2>&1; then
	echo "FAIL fuzz-build: clang not installed"
	exit 1
fi

if [ $# -gt 0 ]; then
	names="$*"
else
	names=$(for f in c-client/*/fuzz-*.c drivers/fuzz-*.c \
		drivers/*/fuzz-*.c imapd/fuzz-*.c ipop3d/fuzz-*.c; do
		[ -f "$f" ] && basename "$f" .c; done)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# the library first, so that one harness's build error is reported on
# that harness only
if ! make -j"$JOBS" FUZZ=1 build-fuzz-clang/libc-client.a \
	>"$tmp/build.log" 2>&1; then
	echo "FAIL fuzz-build: libc-client.a does not build"
	tail -n 20 "$tmp/build.log"
	exit 1
fi

failed=0
for n in $names; do
	log="$tmp/$n.log"
	if ! make -j"$JOBS" FUZZ=1 "$BIN/$n" >"$log" 2>&1; then
		echo "FAIL $n (build)"
		tail -n 20 "$log"
		failed=1
		continue
	fi
	mkdir -p "$tmp/corpus-$n" "$tmp/art-$n" "tests/fuzz/$n"
	# -max_total_time counts the corpus replay as well; -timeout is per
	# input, -rss_limit_mb catches runaway allocation
	if "$BIN/$n" -max_total_time="$SECONDS_EACH" -max_len=65536 \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$tmp/art-$n/" \
		"$tmp/corpus-$n" "tests/fuzz/$n" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "PASS $n (${execs:-?} executions, corpus tests/fuzz/$n)"
	else
		echo "FAIL $n"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5
		tail -n 25 "$log"
		for a in "$tmp/art-$n"/*; do
			[ -f "$a" ] || continue
			keep="build-fuzz-clang/smoke-$n-$(basename "$a")"
			cp "$a" "$keep"
			echo "crashing input kept as $keep"
		done
		failed=1
	fi
done
exit $failed

#!/bin/sh
# tests/fuzz/run.sh - build and run every libFuzzer target in tests/fuzz/.
#
# usage: tests/fuzz/run.sh [CONFIG_H_DIR]
#   CONFIG_H_DIR	a directory holding config.h (e.g. an autotools build
#			dir); without it a minimal config.h is written to a
#			temporary directory.
#   SECONDS_EACH	how long each target runs (default 60)
#   RUNS		run each target for this many inputs instead (long runs)
#   MAX_LEN	the longest input (default 65536)
#   FUZZ_ONLY		run only the target of this name (e.g. policy)
#   FUZZ_CC		compiler (default clang; needs libclang-rt-14-dev on Debian 12)
#
# Each tests/fuzz/fuzz_NAME.c names the sources it needs on a line
# " * FUZZ_SOURCES: a.c b.c" (paths from the top of the tree), and may name
# extra compiler flags on " * FUZZ_CFLAGS: -DX=1" and libraries on
# " * FUZZ_LIBS: -lconfig" (each on one line, no quoting), and functions
# of those libraries whose own leaks are not ours to report on
# " * FUZZ_LEAK_OK: fn" (LeakSanitizer suppressions); it is built
# with -fsanitize=fuzzer,address,undefined, straight from those files, not
# through the autotools build. It runs for SECONDS_EACH on a copy of
# tests/fuzz/corpus/NAME/ with -max_len=65536. A crash, leak, sanitizer
# report or trap fails the target; its log tail is printed and the
# reproducer is kept in a directory named on the output.
# Prints "N passed, N failed"; exits 1 when any target failed.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${SECONDS_EACH:-60}
cc=${FUZZ_CC:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/mhkit-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

case $seconds in
''|*[!0-9]*) echo "run.sh: SECONDS_EACH must be a number of seconds" >&2; exit 2 ;;
esac

if [ $# -gt 0 ]; then
	confdir=$1
	if [ ! -f "$confdir/config.h" ]; then
		echo "run.sh: no config.h in $confdir" >&2
		exit 2
	fi
else
	confdir=$work/include
	mkdir -p "$confdir"
	cat >"$confdir/config.h" <<'EOF'
/* config.h - minimal, written by tests/fuzz/run.sh */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE 1
#endif
#define PACKAGE "mhkit"
#define PACKAGE_NAME "mhkit"
#define PACKAGE_VERSION "fuzz"
#define VERSION "fuzz"
EOF
fi

flags="-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
flags="$flags -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Werror"

pass=0
fail=0
kept=

for src in "$top"/tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	target=$(basename "$src" .c)
	name=${target#fuzz_}
	[ -n "${FUZZ_ONLY:-}" ] && [ "$FUZZ_ONLY" != "$name" ] && continue
	log=$work/$target.log

	# the sources it names, and their directories as include paths
	sources=$(sed -n 's/^ \* FUZZ_SOURCES: *//p' "$src")
	cflags=$(sed -n 's/^ \* FUZZ_CFLAGS: *//p' "$src")
	libs=$(sed -n 's/^ \* FUZZ_LIBS: *//p' "$src")
	: >"$work/$target.supp"
	for fn in $(sed -n 's/^ \* FUZZ_LEAK_OK: *//p' "$src"); do
		echo "leak:$fn" >>"$work/$target.supp"
	done
	paths=
	incs="-I$confdir -I$top/common"
	for s in $sources; do
		paths="$paths $top/$s"
		incs="$incs -I$top/$(dirname "$s")"
	done

	# shellcheck disable=SC2086 # word splitting of flag lists is intended
	if ! $cc $flags $cflags $incs "$src" $paths $libs -o "$work/$target" >"$log" 2>&1; then
		echo "$target: FAILED to build"
		cat "$log"
		fail=$((fail + 1))
		continue
	fi

	mkdir -p "$work/corpus/$name" "$work/artifacts"
	if [ -d "$top/tests/fuzz/corpus/$name" ]; then
		cp "$top/tests/fuzz/corpus/$name"/* "$work/corpus/$name/" 2>/dev/null
	fi
	seeds=$(find "$work/corpus/$name" -type f | wc -l)

	if [ -n "${RUNS:-}" ]; then limit="-runs=$RUNS"; else limit="-max_total_time=$seconds"; fi
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions="$work/$target.supp":print_suppressions=0 \
	"$work/$target" "$limit" -max_len="${MAX_LEN:-65536}" -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/$target-" "$work/corpus/$name" >"$log" 2>&1
	status=$?

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	units=$(find "$work/corpus/$name" -type f | wc -l)
	if [ "$status" = 0 ] && ! grep -q -E '^(==[0-9]+==ERROR|SUMMARY: )' "$log"; then
		echo "$target: ok, ${runs:-?} runs (${limit#-}) at ${rate:-?} exec/s, corpus $seeds -> $units"
		pass=$((pass + 1))
	else
		echo "$target: FAILED (status $status) after ${runs:-?} runs"
		tail -n 60 "$log"
		if [ -z "$kept" ]; then
			kept=$(mktemp -d "${TMPDIR:-/tmp}/mhkit-fuzz-crash.XXXXXX")
		fi
		cp "$log" "$work/$target" "$kept/" 2>/dev/null
		cp "$work/artifacts/$target"-* "$kept/" 2>/dev/null
		echo "$target: log, binary and reproducer kept in $kept"
		fail=$((fail + 1))
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

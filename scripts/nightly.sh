#!/bin/bash
# scripts/nightly.sh - the long runs that CI leaves out (issue 8), for a
# nightly job on a machine where scripts/test.sh has run (it installs the
# dependencies and builds ./build):
#   faults  the fault-injection suite at the issue's load: 200 messages a
#           second for 60 s a fault, the fault 10 s in (about 40 minutes;
#           200/s needs more than 2 cores, or the table's note column
#           reports the load's lateness and the messages it could not send);
#   fuzz    every libFuzzer target for 10 million inputs (tests/fuzz/run.sh
#           with RUNS; the policy, spamd and conf targets at MAX_LEN=4096,
#           as a policy request, a spamd reply and a mhkit.conf are well
#           under that; the others at run.sh's 65536). Hours on 2 cores.
# usage: scripts/nightly.sh [faults] [fuzz]     (default: both; as root)
# Environment: BUILD (default ./build), FAULT_RATE, FAULT_SECONDS,
# FAULT_AT, FUZZ_RUNS (default 10000000). The fault table is written to
# $BUILD/nightly-faults.txt, each fuzz target's summary to
# $BUILD/nightly-fuzz.txt. Exit status 1 when a part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build=${BUILD:-$top/build}
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(faults fuzz)
[ -x "$build/policyd/mhpolicyd" ] || { echo "nightly: no build in $build (run scripts/test.sh first)" >&2; exit 2; }
status=0

for part in "${parts[@]}"; do
	case $part in
	faults)
		echo "=== fault suite at ${FAULT_RATE:-200}/s for ${FAULT_SECONDS:-60} s a fault"
		(cd "$build" &&
			MHPOLICYD=$build/policyd/mhpolicyd MHMILTER=$build/milter/mhmilter MHLIST=$build/mhlist/mhlist \
			TESTS_LIB=$top/tests/lib MHKIT_CONTRIB=$top/contrib/postfix \
			FAULT_RATE=${FAULT_RATE:-200} FAULT_SECONDS=${FAULT_SECONDS:-60} FAULT_AT=${FAULT_AT:-10} \
			FAULT_DRAIN=${FAULT_DRAIN:-300} FAULT_TABLE=$build/nightly-faults.txt \
			"$top/tests/faults/test_faults.sh") | tee "$build/nightly-faults.log" | grep -E '^(not ok|# [a-z-]+ +[0-9]|[0-9]+ passed)'
		[ "${PIPESTATUS[0]}" = 0 ] || status=1
		;;
	fuzz)
		: >"$build/nightly-fuzz.txt"
		for f in "$top"/tests/fuzz/fuzz_*.c; do
			name=$(basename "$f" .c)
			name=${name#fuzz_}
			case $name in policy | spamd | conf) len=4096 ;; *) len=65536 ;; esac
			echo "=== fuzz_$name: ${FUZZ_RUNS:-10000000} inputs, max_len $len"
			if RUNS=${FUZZ_RUNS:-10000000} MAX_LEN=$len FUZZ_ONLY=$name \
				"$top/tests/fuzz/run.sh" "$build" >"$build/nightly-fuzz-$name.log" 2>&1; then
				echo "fuzz_$name: ok" | tee -a "$build/nightly-fuzz.txt"
			else
				echo "fuzz_$name: FAILED (see $build/nightly-fuzz-$name.log)" | tee -a "$build/nightly-fuzz.txt"
				tail -n 20 "$build/nightly-fuzz-$name.log"
				status=1
			fi
			grep -E 'stat::number_of_executed_units|exec/s' "$build/nightly-fuzz-$name.log" | tail -n 2 >>"$build/nightly-fuzz.txt"
		done
		;;
	*)
		echo "nightly: unknown part '$part' (faults, fuzz)" >&2
		exit 2
		;;
	esac
done
exit "$status"

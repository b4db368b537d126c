#!/bin/bash
# scripts/test.sh - the README's test command: install dependencies, build
# with warnings as errors, run the whole test suite. Usage:
#   scripts/test.sh            # everything, in ./build
#   SKIP_DEPS=1 scripts/test.sh   # dependencies already installed
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
[ "${SKIP_DEPS:-0}" = 1 ] || scripts/deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure --enable-werror
make -j"$(nproc)"
status=0
make -j"$(nproc)" check || status=$?
# the test-suite summary, and every failing test's log
if [ -f test-suite.log ]; then
	pass=$(sed -n 's/^# PASS: *//p' test-suite.log)
	fail=$(sed -n 's/^# FAIL: *//p' test-suite.log)
	err=$(sed -n 's/^# ERROR: *//p' test-suite.log)
	skip=$(sed -n 's/^# SKIP: *//p' test-suite.log)
	[ "$status" = 0 ] || sed -n '/^FAIL\|^ERROR/,$p' test-suite.log | head -n 200
	echo "suites: ${pass:-0} passed, $(( ${fail:-0} + ${err:-0} )) failed, ${skip:-0} skipped"
fi
cd "$top"
exit "$status"

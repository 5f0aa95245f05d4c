#!/bin/sh
# Runs libFuzzer harnesses: run.sh SECONDS BIN_DIR HARNESS...
#
# Each harness first runs its regression inputs (tests/fuzz/regressions/NAME/,
# inputs that once crashed it) one by one, then fuzzes for SECONDS from a
# copy of its seed corpus (tests/fuzz/corpus/NAME/; the committed corpus
# never grows).  Any crash, leak, timeout or out-of-memory fails the run;
# its input is left in BIN_DIR/artifacts/NAME/.  The last lines are one
# summary row per harness: seconds, execs, execs/s, cov, ft, corpus, result.
set -u
seconds=$1
bindir=$2
shift 2
here=$(dirname "$0")
failed=0
n_ok=0
n_failed=0
summary=""

# The k8s answers and the state file are JSON documents of several KiB
# (the fixtures): room to grow them, deepen them and cut them anywhere.
max_len() {
	case $1 in
	fuzz_k8s_* | fuzz_state_file) echo 65536 ;;
	*) echo 4096 ;;
	esac
}

# "#1234 DONE cov: 56 ft: 78 corp: 9/10b ..." -> the value after KEY.
stat_of() {
	sed -n "s/.* $2: \([0-9]*\).*/\1/p" "$1" | tail -n 1
}

for name in "$@"; do
	bin=$bindir/$name
	work=$bindir/work/$name
	art=$bindir/artifacts/$name
	log=$bindir/logs/$name.log
	reg=$here/regressions/$name
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art" "$bindir/logs"
	cp "$here/corpus/$name"/* "$work/"
	result=ok
	if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
		# Plain inputs: each runs once, no fuzzing.
		if ! "$bin" "$reg"/* >"$log.regressions" 2>&1; then
			result=regression-failed
			tail -n 30 "$log.regressions"
		fi
	fi
	start=$(date +%s)
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(max_len "$name")" -print_final_stats=1 \
		-artifact_prefix="$art/" "$work" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	if [ $rc -ne 0 ]; then
		result="FAILED(exit $rc, see $log and $art/)"
		grep -E "ERROR|runtime error|FUZZ_ASSERT|SUMMARY|Test unit written" "$log" | head -n 20
	fi
	if [ "$result" = ok ]; then n_ok=$((n_ok + 1)); else failed=1; n_failed=$((n_failed + 1)); fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	row=$(printf '%-20s %5ss %10s execs %7s/s  cov %5s  ft %6s  corp %5s  %s' "$name" \
		"$took" "${execs:-?}" "${rate:-?}" "$(stat_of "$log" cov)" "$(stat_of "$log" ft)" \
		"$(stat_of "$log" corp)" "$result")
	echo "$row"
	summary="$summary$row
"
done
echo "fuzz summary ($seconds s per harness):"
printf '%s' "$summary"
echo "$n_ok passed, $n_failed failed"
exit $failed

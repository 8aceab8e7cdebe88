#!/usr/bin/env bash
# ctest label "windows": builds evald.exe with mingw-w64 (preset windows-cross) and runs
# a subset of the Linux integration suite against it under wine64, over loopback.
# Exit 77 (ctest: skipped) with the reason when mingw-w64/wine cannot be had here.
# Usage: tests/windows/run.sh SOURCE_DIR INTEGRATION_TEST_BINARY
set -uo pipefail
src="$1"
tests="$2"
skip() { echo "SKIPPED: $*"; exit 77; }

need=(g++-mingw-w64-x86-64-posix wine64)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || skip "${missing[*]} not installed and not root to install them"
  echo "installing ${missing[*]} (about 30 s)"
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
      >/tmp/evald-wine-apt.log 2>&1; then
    skip "apt-get could not install ${missing[*]} (see /tmp/evald-wine-apt.log)"
  fi
fi
wine=/usr/lib/wine/wine64
[[ -x $wine ]] || wine=$(command -v wine64 || command -v wine || true)
[[ -n $wine ]] || skip "no wine64 loader found"

cd "$src" || exit 1
# The build's output goes to a file (printed only when it fails), so the end of this
# test's output, which CI shows, is the tests' own.
build_log="$src/build/windows-cross-build.log"
if ! { cmake --preset windows-cross && cmake --build --preset windows-cross; } >"$build_log" 2>&1; then
  tail -n 60 "$build_log"
  exit 1
fi
exe="$src/build/windows-cross/evald.exe"

export WINEPREFIX="$src/build/wine-prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [[ ! -f $WINEPREFIX/system.reg ]]; then
  "$wine" wineboot --init >/dev/null 2>&1 || true
fi
# One wineserver for the whole run: by default it exits 3 s after its last client, and
# a test that starts evald.exe while it is exiting gets "wine client error: recvmsg:
# Connection reset by peer" (a fresh clone failed so once).
wineserver=/usr/lib/wine/wineserver64
[[ -x $wineserver ]] || wineserver=$(command -v wineserver || true)
[[ -n $wineserver ]] && "$wineserver" -p
echo "evald.exe: $("$wine" "$exe" --version)"

# Under Wine a Linux SIGTERM kills the process outright; SIGINT reaches evald's
# signal handler (Ctrl-C), so the drain is tested with SIGINT.
filter="Endpoints.HealthzAndStandardHeaders:Endpoints.HeadOnEveryGetRoute:Endpoints.PrimeMillerRabin"
filter+=":Endpoints.PrimeTrialDivision:Endpoints.BadNumbersAreClearErrors:Evaluator.FactorEndpoint"
filter+=":Chargen.ExactByteCount:KeepAlive.ManyRequestsOnOneConnection"
filter+=":KeepAlive.HundredPipelinedRequestsAnswerInOrder:KeepAlive.Http10ClosesUnlessAskedToKeepAlive"
filter+=":Limits.NineKibHeaderIs431:Limits.TwoMibBodyIs413:Limits.SmugglingCasesAre400"
filter+=":Lifecycle.DrainFinishesInFlightRequestsAndExitsZero:Eval.SingleWorkloadsReturnTheGetEndpointsObjects"
# Scripts run on Windows too: Lua from the same Debian source package, built with mingw.
filter+=":Scripts.SingleEvaluation:Scripts.ErrorsAreJsonWithTheRightStatus"
filter+=":Scripts.MapKeepsInputOrderAndGivesEachFailureItsSlot:HttpSemantics.ByteRangesOnChargen"
filter+=":Detector.StandardTrueAndFalse:Detector.ErrorsNameTheCondition"
filter+=":Detector.BatchesKeepOrderAndFailInTheirSlots:Detector.HostileTextsChangeNoResult"
# A TLS listener is refused at start there (no OpenSSL for mingw), naming why.
filter+=":Tls.RefusedAtStartWithTheReason"
run_tests() {
  EVALD_TEST_WRAPPER="$wine" EVALD_TEST_BINARY="$exe" EVALD_TEST_STOP_SIGNAL=2 \
    "$tests" --gtest_filter="$1" 2>&1 | tee "$src/build/windows-tests.log"
  return "${PIPESTATUS[0]}"
}
run_tests "$filter"
status=$?
if ((status != 0)); then
  # Wine itself (wineserver, its loader) has failed a run now and then on a loaded
  # machine where the same tests pass on Linux and on the next Wine run: the failed
  # tests run once more, and only a second failure fails this test. Both are printed.
  # The failed tests, and the listed tests of a suite whose shared server did not start
  # ("[  FAILED  ] Suite: SetUpTestSuite or TearDownTestSuite").
  log="$src/build/windows-tests.log"
  failed=$({
    sed -n 's/^\[  FAILED  \] \([A-Za-z0-9_]*\.[A-Za-z0-9_]*\).*/\1/p' "$log"
    for suite in $(sed -n 's/^\[  FAILED  \] \([A-Za-z0-9_]*\): SetUpTestSuite.*/\1/p' "$log"); do
      tr ':' '\n' <<<"$filter" | grep "^$suite\."
    done
  } | sort -u | paste -sd: -)
  echo "windows_wine: failed under Wine on the first run: ${failed:-the run itself (no test named)}"
  if [[ -n $failed ]]; then
    run_tests "$failed"
    status=$?
    echo "windows_wine: the second run of $failed exited $status"
  fi
fi
[[ -n $wineserver ]] && "$wineserver" -k 2>/dev/null
exit $status

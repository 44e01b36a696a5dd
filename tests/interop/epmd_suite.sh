#!/usr/bin/env bash
# The reference EPMD daemon's own test cases (OTP's erts/epmd/test/epmd_SUITE.erl, reproduced
# in epmd_suite.erl) against Debian's `epmd` and `dpdist-epmd` in the same run, plus our
# checks of issue 10 items 15-16 (cases x_*). Every case that passes on the reference must
# pass on dpdist-epmd. Starts: an Erlang VM that runs the cases and starts both daemons for
# each case (under `timeout`); with root, a network namespace joined by a veth pair and a
# forwarder VM in it, through which the two non-local cases reach the daemons from another
# address (the suite uses an ssh tunnel through another host for that).
# EPMD_SUITE_CASES=a,b limits the run to those cases.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init epmd_suite
EPMD=$DPDIST_BUILD/tools/dpdist-epmd

for tool in epmd erl erlc; do
  if ! command -v $tool >/dev/null; then
    echo "1..0 # SKIP $tool not installed (Debian: erlang-base)"
    exit 77
  fi
done
REAL_EPMD=$(command -v epmd)
EBIN=$DD_TMP/ebin
mkdir -p "$EBIN"
if ! erlc -o "$EBIN" "$DPDIST_SRC/tests/interop/epmd_suite.erl"; then
  dd_fail "epmd_suite.erl compiles"; dd_done; exit 1
fi

# Skipped checks are reported as skipped, with the reason.
SKIPS=0
suite_skip() {
  DD_CHECKS=$((DD_CHECKS + 1)); SKIPS=$((SKIPS + 1)); echo "ok $DD_CHECKS - $1 # SKIP $2"
}

# --- the testing flags' values, as the reference takes them -------------------------------
for flag in -delay_accept -delay_write; do
  "$EPMD" $flag 0 >"$DD_TMP/zero.txt" 2>&1; rc=$?
  timeout 5 epmd $flag 0 >/dev/null 2>&1; rrc=$?
  dd_check "$flag 0 is refused like the reference (rc $rc, reference rc $rrc)" \
    test $rc -eq 1 -a $rrc -eq 1
done

P_REAL=$(dd_free_port)
P_DD=$(dd_free_port)
while [ "$P_DD" = "$P_REAL" ]; do P_DD=$(dd_free_port); done
REMOTE_REAL=- REMOTE_DD=-

# --- a non-local peer: a forwarder in another network namespace ---------------------------
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && dd_remote_peer_ns; then
  FP_REAL=$(dd_free_port) FP_DD=$(dd_free_port)
  ip netns exec "$DD_PEER_NS" timeout 1500 erl -noshell -pa "$EBIN" -run epmd_suite proxy 1400 \
    "$DD_PEER_IP" "$FP_REAL" "$DD_HOST_IP" "$P_REAL" "$FP_DD" "$DD_HOST_IP" "$P_DD" \
    >"$DD_TMP/proxy.log" 2>&1 &
  dd_track $!
  if DD_WAIT=30 dd_wait_for grep -q "proxy ready" "$DD_TMP/proxy.log"; then
    REMOTE_REAL=$DD_PEER_IP:$FP_REAL REMOTE_DD=$DD_PEER_IP:$FP_DD
  else
    dd_fail "the forwarder in namespace $DD_PEER_NS starts"; sed 's/^/#   /' "$DD_TMP/proxy.log"
  fi
else
  echo "# no network namespace here (needs root and iproute2): the non-local cases will skip"
fi

# --- the cases, against both daemons at once (each on its own port) ------------------------
echo "# reference epmd on port $P_REAL, dpdist-epmd on port $P_DD"
timeout 1700 erl -noshell -pa "$EBIN" -run epmd_suite main \
  epmd "$REAL_EPMD" "$P_REAL" "$REMOTE_REAL" \
  dpdist-epmd "$EPMD" "$P_DD" "$REMOTE_DD" >"$DD_TMP/results.txt" 2>&1 &
RUNNER=$!
dd_track $RUNNER
# relay results as they come, so a long run shows progress
tail -n +1 -f --pid=$RUNNER "$DD_TMP/results.txt" | grep --line-buffered '^RESULT' | sed 's/^/# /' &
wait $RUNNER; rc=$?
sleep 0.3
if ! grep -q '^RESULT' "$DD_TMP/results.txt"; then
  dd_fail "the case runner ran (rc $rc)"; sed 's/^/#   /' "$DD_TMP/results.txt" | tail -30
fi

declare -A PASSED_ON_REAL
while read -r _ label case verdict detail; do
  case $verdict in
    pass) dd_pass "$label: $case ($detail)"
          [ "$label" = epmd ] && PASSED_ON_REAL[$case]=1 ;;
    skip) suite_skip "$label: $case" "$detail" ;;
    *) dd_fail "$label: $case: $detail" ;;
  esac
done < <(grep '^RESULT' "$DD_TMP/results.txt")

# Every reference case the reference passes here passes on dpdist-epmd.
for c in "${!PASSED_ON_REAL[@]}"; do
  grep -q "^RESULT dpdist-epmd $c pass" "$DD_TMP/results.txt" || MISSING+=" $c"
done
dd_check "all cases passing on the reference pass on dpdist-epmd${MISSING:+ (not:$MISSING)}" \
  test -z "${MISSING:-}"
echo "# $(grep -c '^RESULT epmd .* pass' "$DD_TMP/results.txt") cases pass on the reference," \
  "$(grep -c '^RESULT dpdist-epmd .* pass' "$DD_TMP/results.txt") on dpdist-epmd, $SKIPS skipped"

# No daemon may outlive the run.
for p in $P_REAL $P_DD; do
  left=$(ss -Hltnp "( sport = :$p )" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  dd_check "no daemon left on port $p${left:+ (pids $left, killed)}" test -z "$left"
  for pid in $left; do kill "$pid"; done
done
dd_done

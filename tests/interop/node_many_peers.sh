#!/usr/bin/env bash
# Interop: 100 peers connected to one node at once.
# Starts: dpdist-epmd, a dpdist-echo node, tests/interop/swarm (100 hidden dpdist nodes in one
# process that connect at the same moment and each make an echo round trip), then a real BEAM
# node (Debian's erl) with an echo process and the swarm again against it, then a swarm of 100
# published nodes, which also mesh with each other (101 x 100 / 2 connections, formed by
# thousands of simultaneous connects). Checks: every peer connects, gets its echo back, and
# the target lists all of them; the published ones reach the full mesh without any working
# connection being torn down or replaced on the way; the targets stay up and keep
# answering; no crash or sanitizer report. Prints the timings.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init node_many_peers
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
H=$(dd_short_host)
SWARM="$DPDIST_BUILD/tests/interop/swarm"
N=${DD_SWARM_PEERS:-100}
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
E=hub$DD_RUN_ID
dd_check "dpdist-echo starts" dd_start_echo "$E" "$DD_TMP/echo.log"
EPID=$ECHO_PID

# Runs the swarm (args passed on) in the background, tracked, and waits for it (bounded).
run_swarm() {
  local log=$1; shift
  ERL_EPMD_PORT=$EPMD_PORT timeout 240 "$SWARM" -setcookie dpdistcookie \
    -epmd_port "$EPMD_PORT" "$@" >"$log" 2>&1 &
  local pid=$!
  dd_track $pid
  wait $pid
}

# --- 100 hidden dpdist nodes -> dpdist-echo
T0=$(date +%s%N)
run_swarm "$DD_TMP/swarm1.log" -count "$N" -prefix "s$DD_RUN_ID" -target "$E@$H"
rc=$?
T1=$(date +%s%N)
sed 's/^/# /' "$DD_TMP/swarm1.log" | grep "swarm:"
dd_check "$N dpdist peers -> dpdist-echo: swarm exit 0 ($(( (T1 - T0) / 1000000 )) ms)" \
  test $rc -eq 0
dd_check_grep "all $N connected at once" "^swarm: $N/$N connected at once" "$DD_TMP/swarm1.log"
dd_check_grep "all $N echo round trips" "^swarm: $N/$N echo round trips" "$DD_TMP/swarm1.log"
dd_check_grep "the echo lists all $N" "^swarm: the target lists $N of our $N" "$DD_TMP/swarm1.log"
dd_check "dpdist-echo still runs" kill -0 "$EPID"
DD_WAIT=20 dd_wait_for bash -c "[ \$(grep -c 'node s$DD_RUN_ID[0-9]*@$H down' '$DD_TMP/echo.log') -ge $N ]"
dd_check "dpdist-echo saw all $N go down" \
  test "$(grep -c "node s$DD_RUN_ID[0-9]*@$H down" "$DD_TMP/echo.log")" -eq "$N"
dd_check "dpdist-ping still gets pong from the echo" bash -c \
  "ERL_EPMD_PORT=$EPMD_PORT '$DPDIST_BUILD/tools/dpdist-ping' -setcookie dpdistcookie '$E@$H' | grep -q '^pong$'"

# --- 100 hidden dpdist nodes -> a real BEAM node
BT=bt$DD_RUN_ID
dd_erl "$BT" "$DD_TMP/beam.log" "code:add_patha(\"$DD_TMP/ebin\"), dd_interop:echo_serve()."
BPID=$ERL_PID
dd_check "BEAM target registers" env DD_WAIT=20 bash -c \
  "$(declare -f dd_wait_for); dd_wait_for bash -c 'epmd -port $EPMD_PORT -names | grep -q \"^name $BT \"'"
sleep 0.5
T0=$(date +%s%N)
run_swarm "$DD_TMP/swarm2.log" -count "$N" -prefix "b$DD_RUN_ID" -target "$BT@$H"
rc=$?
T1=$(date +%s%N)
sed 's/^/# /' "$DD_TMP/swarm2.log" | grep "swarm:"
dd_check "$N dpdist peers -> BEAM: swarm exit 0 ($(( (T1 - T0) / 1000000 )) ms)" test $rc -eq 0
dd_check_grep "all $N connected to BEAM at once" "^swarm: $N/$N connected at once" \
  "$DD_TMP/swarm2.log"
dd_check_grep "the BEAM node lists all $N" "^swarm: the target lists $N of our $N" \
  "$DD_TMP/swarm2.log"
dd_check "the BEAM node still runs" kill -0 "$BPID"
dd_check_no_grep "the BEAM node logs no warning or error report" \
  "=(WARNING|ERROR|CRASH|SUPERVISOR) REPORT" "$DD_TMP/beam.log"

# --- 100 published dpdist nodes -> dpdist-echo: they also mesh with each other
P=${DD_SWARM_PUBLISHED:-100}
T0=$(date +%s%N)
run_swarm "$DD_TMP/swarm3.log" -count "$P" -prefix "p$DD_RUN_ID" -target "$E@$H" -published \
  -hold 1000 -loglevel info
rc=$?
T1=$(date +%s%N)
sed 's/^/# /' "$DD_TMP/swarm3.log" | grep "swarm:"
dd_check "$P published peers -> dpdist-echo: swarm exit 0 ($(( (T1 - T0) / 1000000 )) ms)" \
  test $rc -eq 0
dd_check_grep "the echo lists all $P" "^swarm: the target lists $P of our $P" \
  "$DD_TMP/swarm3.log"
dd_check_grep "and the $P published peers reach a full mesh with it" \
  "^swarm: full mesh of $((P + 1)) reached" "$DD_TMP/swarm3.log"
# Each swarm node sees every other go down exactly once, at the stop; none was replaced before.
downs=$(grep -c "node p$DD_RUN_ID[0-9]*@$H down" "$DD_TMP/swarm3.log")
dd_check "no connection of the mesh was torn down before the stop ($downs nodedowns among them, $((P * (P - 1))) expected)" \
  test "$downs" -eq $((P * (P - 1)))
dd_check_no_grep "no connection was replaced by a simultaneous attempt" "replaced by a new connection" \
  "$DD_TMP/swarm3.log"
dd_check "dpdist-echo still runs" kill -0 "$EPID"
dd_check_no_grep "no crash or sanitizer report" "AddressSanitizer|runtime error|Segmentation" \
  "$DD_TMP/echo.log"
dd_check_no_grep "no crash or sanitizer report in the swarms" \
  "AddressSanitizer|runtime error|Segmentation" "$DD_TMP/swarm1.log"
dd_done

#!/usr/bin/env bash
# Interop: our client commands (dpdist-epmd -names/-dump/-kill/-stop) against the real
# `epmd` daemon from Debian's erlang-base, with a real `erl` node registered to it.
# Checks that our client prints what the reference client prints, and that -kill/-stop get
# the reference daemon's answers with and without -relaxed_command_check.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init epmd_client_vs_real
EPMD=$DPDIST_BUILD/tools/dpdist-epmd
N=n$DD_RUN_ID

dd_check "real epmd starts" dd_start_real_epmd
dd_erl "$N" "$DD_TMP/n.log" "receive _ -> ok after 60000 -> ok end, halt()."
NODE_PID=$ERL_PID
dd_check "real erl registers with the real epmd" \
  dd_wait_for bash -c "epmd -port $EPMD_PORT -names | grep -q '^name $N at port'"

"$EPMD" -port "$EPMD_PORT" -names >"$DD_TMP/ours.txt" 2>&1
epmd -port "$EPMD_PORT" -names >"$DD_TMP/real.txt" 2>&1
dd_check "our -names output equals the real client's" cmp -s "$DD_TMP/ours.txt" "$DD_TMP/real.txt"
dd_check_grep "-names lists the node" "^name $N at port [0-9]+$" "$DD_TMP/ours.txt"
"$EPMD" -port "$EPMD_PORT" -dump >"$DD_TMP/dump.txt" 2>&1
dd_check_grep "-dump shows the active name" "^active name     <$N> at port [0-9]+, fd = [0-9]+" "$DD_TMP/dump.txt"

"$EPMD" -port "$EPMD_PORT" -kill >"$DD_TMP/kill.txt" 2>&1; rc=$?
dd_check "-kill refused by the real daemon while $N lives (rc=$rc)" test $rc -eq 1
dd_check_grep "-kill refusal message" "^Killing not allowed - living nodes in database." "$DD_TMP/kill.txt"
"$EPMD" -port "$EPMD_PORT" -stop "$N" >"$DD_TMP/stop.txt" 2>&1; rc=$?
epmd -port "$EPMD_PORT" -stop "$N" >"$DD_TMP/stop-real.txt" 2>&1
dd_check "-stop without relaxed check: same output as the real client" cmp -s "$DD_TMP/stop.txt" "$DD_TMP/stop-real.txt"
dd_check "-stop without relaxed check fails (rc=$rc)" test $rc -eq 1
dd_check "node still registered" bash -c "epmd -port $EPMD_PORT -names | grep -q '^name $N'"
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
dd_check "name gone after the node dies" dd_wait_for dd_epmd_lacks "$EPMD_PORT" "$N"
"$EPMD" -port "$EPMD_PORT" -kill >"$DD_TMP/kill2.txt" 2>&1
dd_check_grep "-kill with no nodes: Killed" "^Killed$" "$DD_TMP/kill2.txt"
dd_check "real daemon exited" dd_wait_for bash -c "! kill -0 $EPMD_PID"

# With -relaxed_command_check: -stop unregisters a live node, -kill works with nodes.
dd_check "real epmd starts relaxed" dd_start_real_epmd -relaxed_command_check
dd_erl "$N" "$DD_TMP/n2.log" "receive _ -> ok after 60000 -> ok end, halt()."
dd_check "real erl registers with the relaxed epmd" \
  dd_wait_for bash -c "epmd -port $EPMD_PORT -names | grep -q '^name $N at port'"
"$EPMD" -port "$EPMD_PORT" -stop "$N" >"$DD_TMP/stop2.txt" 2>&1
dd_check_grep "-stop on relaxed daemon: STOPPED" "^STOPPED$" "$DD_TMP/stop2.txt"
dd_check "stopped name is gone" dd_epmd_lacks "$EPMD_PORT" "$N"
"$EPMD" -port "$EPMD_PORT" -stop nosuchnode >"$DD_TMP/stop3.txt" 2>&1
dd_check_grep "-stop of an unknown name: NOEXIST" "^NOEXIST" "$DD_TMP/stop3.txt"
"$EPMD" -port "$EPMD_PORT" -kill >"$DD_TMP/kill3.txt" 2>&1
dd_check_grep "relaxed -kill: Killed" "^Killed$" "$DD_TMP/kill3.txt"
"$EPMD" -port "$EPMD_PORT" -names >"$DD_TMP/none.txt" 2>&1; rc=$?
dd_check "-names with no daemon fails (rc=$rc)" test $rc -eq 1
dd_check_grep "-names with no daemon says so" "Cannot connect to local epmd" "$DD_TMP/none.txt"
dd_done

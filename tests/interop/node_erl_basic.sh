#!/usr/bin/env bash
# Interop: a dpdist node (dpdist-echo) in a cluster with real BEAM nodes (Debian's erl), over
# the TCP carrier. Starts: dpdist-epmd, dpdist-echo, several short-lived erl nodes,
# dpdist-ping. Checks, in both directions: ping, messages to pids and registered names with
# large nested terms (maps, 1 MiB binaries, big integers, unicode atoms), spawn refused,
# visible vs hidden, wrong cookie refused while the right one works, short/long names refused.
# Every erl run must exit 0 and print its checks (dd_erl_checks).
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init node_erl_basic
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
H=$(dd_short_host)
E=echo$DD_RUN_ID
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
dd_check "dpdist-echo starts and registers" dd_start_echo "$E" "$DD_TMP/echo.log"

# BEAM -> dpdist: ping, round trips, sends back, spawn.
dd_erl_run "b$DD_RUN_ID" "$DD_TMP/erl1.log" "
  N = '$E@$H',
  dd_interop:ping_expect(N, pong),
  dd_interop:roundtrip(N),
  dd_interop:reverse_send(N),
  dd_interop:spawn_refused(N),
  dd_interop:check_visibility(N, visible)"
dd_erl_checks "$DD_TMP/erl1.log" $?

# dpdist -> BEAM: dpdist-ping against a real node.
dd_erl "t$DD_RUN_ID" "$DD_TMP/target.log" "receive _ -> ok after 60000 -> ok end, halt()."
dd_check "a real erl node registers" \
  dd_wait_for bash -c "epmd -port $EPMD_PORT -names | grep -q '^name t$DD_RUN_ID '"
ERL_EPMD_PORT=$EPMD_PORT "$DPDIST_BUILD/tools/dpdist-ping" -setcookie dpdistcookie \
  "t$DD_RUN_ID@$H" >"$DD_TMP/ping1.txt" 2>&1
dd_check "dpdist-ping to a real erl node: exit 0" test $? -eq 0
dd_check_grep "dpdist-ping prints pong" "^pong$" "$DD_TMP/ping1.txt"
ERL_EPMD_PORT=$EPMD_PORT "$DPDIST_BUILD/tools/dpdist-ping" -setcookie dpdistcookie \
  "nosuchnode@$H" >"$DD_TMP/ping2.txt" 2>&1
dd_check "dpdist-ping to a node that does not exist: exit 1" test $? -eq 1
dd_check_grep "and prints pang" "^pang$" "$DD_TMP/ping2.txt"

# Wrong cookie: refused, logged on the refusing side, and the right cookie still works.
ERL_EPMD_PORT=$EPMD_PORT "$DPDIST_BUILD/tools/dpdist-ping" -setcookie WRONG \
  "$E@$H" >"$DD_TMP/ping3.txt" 2>&1
dd_check "dpdist-ping with a wrong cookie: pang (exit 1)" test $? -eq 1
dd_check_grep "echo logs the disallowed node" "Connection attempt from disallowed node dpdist_ping_[0-9]+@$H" "$DD_TMP/echo.log"
DD_COOKIE=WRONG dd_erl_run "w$DD_RUN_ID" "$DD_TMP/wrong.log" "dd_interop:ping_expect('$E@$H', pang)"
dd_erl_checks "$DD_TMP/wrong.log" $?
dd_check_grep "echo logs the disallowed BEAM node" "Connection attempt from disallowed node w$DD_RUN_ID@$H" "$DD_TMP/echo.log"
ERL_EPMD_PORT=$EPMD_PORT "$DPDIST_BUILD/tools/dpdist-ping" -setcookie WRONG \
  "t$DD_RUN_ID@$H" >"$DD_TMP/ping4.txt" 2>&1
dd_check "dpdist-ping with a wrong cookie to BEAM: pang" grep -q "^pang$" "$DD_TMP/ping4.txt"
dd_erl_run "r$DD_RUN_ID" "$DD_TMP/right.log" "dd_interop:ping_expect('$E@$H', pong)"
dd_erl_checks "$DD_TMP/right.log" $?
dd_check "echo still serves after the refusals" kill -0 "$ECHO_PID"

# Hidden: a hidden dpdist node shows in nodes(hidden) only.
EH=hid$DD_RUN_ID
dd_check "hidden dpdist-echo starts" dd_start_echo "$EH" "$DD_TMP/echo-hidden.log" -hidden
dd_erl_run "v$DD_RUN_ID" "$DD_TMP/vis.log" "dd_interop:check_visibility('$EH@$H', hidden)"
dd_erl_checks "$DD_TMP/vis.log" $?

# Short and long names never mix: a -name BEAM node cannot reach the -sname dpdist node,
# and a -name dpdist-ping cannot reach a -sname BEAM node.
ERL_EPMD_PORT=$EPMD_PORT timeout 60 erl -name "l$DD_RUN_ID@127.0.0.1" -start_epmd false \
  -noshell -noinput -setcookie dpdistcookie -pa "$DD_TMP/ebin" \
  -eval "dd_interop:ping_expect('$E@$H', pang), halt(0)." >"$DD_TMP/long.log" 2>&1
dd_erl_checks "$DD_TMP/long.log" $?
ERL_EPMD_PORT=$EPMD_PORT "$DPDIST_BUILD/tools/dpdist-ping" -name "lp$DD_RUN_ID@127.0.0.1" \
  -setcookie dpdistcookie "t$DD_RUN_ID@$H" >"$DD_TMP/ping5.txt" 2>&1
dd_check "long-named dpdist-ping to a short-named BEAM node: pang" grep -q "^pang$" "$DD_TMP/ping5.txt"
dd_check_grep "and says why" "short and long" "$DD_TMP/ping5.txt"
dd_check "echo still runs at the end" kill -0 "$ECHO_PID"
dd_check_no_grep "no crash or sanitizer report in the echo log" "AddressSanitizer|runtime error|Segmentation" "$DD_TMP/echo.log"
dd_done

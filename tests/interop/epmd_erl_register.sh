#!/usr/bin/env bash
# Interop: dpdist-epmd (ours) as the name server of real BEAM nodes (Debian's erl).
# Starts: dpdist-epmd on a free port; real `erl -sname` nodes registering through
# ERL_EPMD_PORT; the real `epmd` binary only as a client (-names, -kill).
# Checks: registration listed by the real client and ours, duplicate name refused with the
# first holder kept, two BEAM nodes finding each other through our daemon (net_adm:ping),
# the name gone after the node halts, -kill refused while nodes live and honoured after.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init epmd_erl_register
EPMD=$DPDIST_BUILD/tools/dpdist-epmd
H=$(dd_short_host)
X=x$DD_RUN_ID
Y=y$DD_RUN_ID

dd_check "dpdist-epmd starts on a free port" dd_start_dpdist_epmd -d
echo "# dpdist-epmd on port $EPMD_PORT"

# Node x waits until someone tells it to halt (or 60 s).
dd_erl "$X" "$DD_TMP/x.log" \
  "register(waiter, self()), io:format(\"x up~n\"), receive halt -> erlang:halt(0) after 60000 -> erlang:halt(3) end."
X_PID=$ERL_PID
dd_check "erl -sname $X registers (listed by the real epmd -names)" \
  dd_wait_for bash -c "epmd -port $EPMD_PORT -names | grep -q '^name $X at port'"
epmd -port "$EPMD_PORT" -names >"$DD_TMP/names-real.txt" 2>&1
"$EPMD" -port "$EPMD_PORT" -names >"$DD_TMP/names-ours.txt" 2>&1
dd_check_grep "real epmd client sees our daemon's header" "^epmd: up and running on port $EPMD_PORT with data:" "$DD_TMP/names-real.txt"
dd_check "our -names prints exactly what the real client prints" cmp -s "$DD_TMP/names-real.txt" "$DD_TMP/names-ours.txt"
sleep 1
dd_check "still listed a second later (registration kept)" bash -c "epmd -port $EPMD_PORT -names | grep -q '^name $X at port'"

# A second node with the same name is refused and exits with the duplicate-name error.
ERL_EPMD_PORT=$EPMD_PORT timeout 30 erl -sname "$X" -start_epmd false -noshell -noinput \
  -setcookie dpdistcookie -eval 'io:format("unexpectedly started~n"), halt(0).' >"$DD_TMP/dup.log" 2>&1
rc=$?
dd_check "duplicate erl -sname $X exits non-zero (rc=$rc)" test $rc -ne 0
dd_check_grep "duplicate erl reports the name in use" "the name $X@$H seems to be in use by another Erlang node" "$DD_TMP/dup.log"
dd_check "the first holder keeps the name" bash -c "epmd -port $EPMD_PORT -names | grep -q '^name $X at port'"
dd_check "the first node is still running" kill -0 "$X_PID"

# A third node finds the first through our daemon and tells it to halt.
ERL_EPMD_PORT=$EPMD_PORT timeout 30 erl -sname "$Y" -start_epmd false -noshell -noinput \
  -setcookie dpdistcookie -eval "
    R = net_adm:ping('$X@$H'), io:format(\"ping: ~p~n\", [R]),
    {waiter, '$X@$H'} ! halt, timer:sleep(200), halt(0)." >"$DD_TMP/y.log" 2>&1
rc=$?
dd_check "the third node ran to its end (exit $rc)" test $rc -eq 0
dd_check_grep "net_adm:ping from a third node through dpdist-epmd answers pong" "^ping: pong" "$DD_TMP/y.log"

# -kill is refused while a node is registered, by our client and the real one.
if kill -0 "$X_PID" 2>/dev/null; then
  dd_fail "node $X halted when told"
else
  dd_pass "node $X halted when told"
fi
# Registrations end with their connections: $X is gone, $Y too (it halted).
dd_check "after $X halts its name is gone" dd_wait_for dd_epmd_lacks "$EPMD_PORT" "$X"

Z=z$DD_RUN_ID
dd_erl "$Z" "$DD_TMP/z.log" "receive _ -> ok after 30000 -> ok end, halt()."
dd_check "erl -sname $Z registers" \
  dd_wait_for bash -c "epmd -port $EPMD_PORT -names | grep -q '^name $Z at port'"
"$EPMD" -port "$EPMD_PORT" -kill >"$DD_TMP/kill1.txt" 2>&1; rc=$?
dd_check "our -kill refused while $Z is registered (rc=$rc)" test $rc -eq 1
dd_check_grep "refusal message as the reference client prints it" "^Killing not allowed - living nodes in database." "$DD_TMP/kill1.txt"
epmd -port "$EPMD_PORT" -kill >"$DD_TMP/kill2.txt" 2>&1
dd_check_grep "the real epmd -kill is refused too" "^Killing not allowed" "$DD_TMP/kill2.txt"
dd_check "daemon still running after refused kills" kill -0 "$EPMD_PID"
kill -9 "$ERL_PID"
dd_check "$Z's name is gone once kill -9 closes its connection" dd_wait_for dd_epmd_lacks "$EPMD_PORT" "$Z"
"$EPMD" -port "$EPMD_PORT" -kill >"$DD_TMP/kill3.txt" 2>&1
dd_check_grep "-kill with no nodes: Killed" "^Killed" "$DD_TMP/kill3.txt"
dd_check "daemon exited after -kill" dd_wait_for bash -c "! kill -0 $EPMD_PID"
dd_check_grep "debug log shows the duplicate refusal" "node name already occupied $X" "$DD_TMP/dpdist-epmd.log"
dd_done

#!/usr/bin/env bash
# Interop: failure semantics between a dpdist node and real BEAM nodes, both directions.
# Starts: dpdist-epmd, dpdist-echo nodes, BEAM nodes (Debian's erl) as watchers, victims and
# observers. Checks: links fire {'EXIT', Pid, noconnection} and monitors 'DOWN' noconnection
# when the peer is killed with kill -9; a peer frozen with kill -STOP is declared down after
# net_ticktime (4 s here), on the dpdist side and on the BEAM side.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init node_erl_failure
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
H=$(dd_short_host)
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd

# --- A: BEAM links to and monitors a dpdist mailbox; the dpdist node is killed -9.
EA=ea$DD_RUN_ID
dd_check "echo A starts" dd_start_echo "$EA" "$DD_TMP/echoA.log"
EA_PID=$ECHO_PID
dd_erl "wa$DD_RUN_ID" "$DD_TMP/watchA.log" "
  code:add_patha(\"$DD_TMP/ebin\"),
  N = '$EA@$H', S = dd_interop:link_and_monitor(N), io:format(\"armed~n\"),
  dd_interop:wait_nodedown(S, N), halt(0)."
WA=$ERL_PID
dd_check "BEAM watcher armed" env DD_WAIT=30 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q armed '$DD_TMP/watchA.log'"
kill -9 "$EA_PID"
wait "$WA" 2>/dev/null
dd_erl_checks "$DD_TMP/watchA.log" $?

# --- B: the dpdist node links to and monitors BEAM processes; the BEAM node is killed -9.
EB=eb$DD_RUN_ID
dd_check "echo B starts" dd_start_echo "$EB" "$DD_TMP/echoB.log"
dd_erl "vb$DD_RUN_ID" "$DD_TMP/victimB.log" "code:add_patha(\"$DD_TMP/ebin\"), dd_interop:serve()."
VB=$ERL_PID
dd_check "BEAM victim B registers" \
  dd_wait_for bash -c "epmd -port $EPMD_PORT -names | grep -q '^name vb$DD_RUN_ID '"
dd_erl "ob$DD_RUN_ID" "$DD_TMP/obsB.log" "
  code:add_patha(\"$DD_TMP/ebin\"),
  N = '$EB@$H', V = 'vb$DD_RUN_ID@$H',
  pong = net_adm:ping(V),
  timer:sleep(300),
  ServePid = rpc:call(V, erlang, whereis, [dd_serve]),
  MRef = dd_interop:watch_events(N, ServePid),
  {echo, N} ! {link, ServePid},
  receive {linked, _} -> ok after 5000 -> ok end,
  {echo, N} ! {monitor, {dd_serve, V}, self()},
  NRef = receive {monitoring, R} -> R after 5000 -> undefined end,
  erlang:disconnect_node(V),
  io:format(\"armed~n\"),
  Events = dd_interop:wait_events(MRef, ServePid, V, 8000),
  dd_interop:report(\"echo saw 'EXIT' noconnection for its link\",
    lists:member({dpdist_event, {'EXIT', ServePid, noconnection}}, Events) orelse {events, Events}),
  dd_interop:report(\"echo saw 'DOWN' noconnection for the monitor by name\",
    lists:member({dpdist_event, {'DOWN', NRef, process, {dd_serve, V}, noconnection}}, Events)
      orelse {events, Events}),
  halt(0)."
OB=$ERL_PID
dd_check "observer armed" env DD_WAIT=30 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q armed '$DD_TMP/obsB.log'"
sleep 0.5
kill -9 "$VB"
wait "$OB" 2>/dev/null
dd_erl_checks "$DD_TMP/obsB.log" $?
dd_check_grep "echo B logs the nodedown" "node vb$DD_RUN_ID@$H down" "$DD_TMP/echoB.log"

# --- C: a BEAM node frozen with kill -STOP is declared down by the dpdist node after ticktime.
EC=ec$DD_RUN_ID
dd_check "echo C starts with -ticktime 4" dd_start_echo "$EC" "$DD_TMP/echoC.log" -ticktime 4
dd_erl "vc$DD_RUN_ID" "$DD_TMP/victimC.log" "code:add_patha(\"$DD_TMP/ebin\"), dd_interop:serve()." -kernel net_ticktime 4
VC=$ERL_PID
dd_check "BEAM victim C registers" \
  dd_wait_for bash -c "epmd -port $EPMD_PORT -names | grep -q '^name vc$DD_RUN_ID '"
dd_erl "oc$DD_RUN_ID" "$DD_TMP/obsC.log" "
  code:add_patha(\"$DD_TMP/ebin\"),
  N = '$EC@$H', V = 'vc$DD_RUN_ID@$H',
  pong = net_adm:ping(V),
  ServePid = rpc:call(V, erlang, whereis, [dd_serve]),
  erlang:disconnect_node(V),
  MRef = dd_interop:watch_events(N, ServePid),
  io:format(\"armed~n\"),
  receive frozen -> ok after 20000 -> ok end,
  T0 = erlang:monotonic_time(millisecond),
  Events = dd_interop:wait_events(MRef, ServePid, V, 9000),
  halt(0)." -hidden -kernel net_ticktime 4
OC=$ERL_PID
dd_check "observer C armed" env DD_WAIT=30 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q armed '$DD_TMP/obsC.log'"
sleep 1
kill -STOP "$VC"
T0=$(date +%s%N)
DD_WAIT=20 dd_wait_for grep -q "node vc$DD_RUN_ID@$H down" "$DD_TMP/echoC.log"
T1=$(date +%s%N)
ms=$(( (T1 - T0) / 1000000 ))
dd_check "dpdist declares the frozen BEAM node down after ticktime (took ${ms} ms; 3000..8000 expected)" \
  test "$ms" -ge 2500 -a "$ms" -le 8000
dd_check_grep "the reason is net_tick_timeout" "node vc$DD_RUN_ID@$H down: net_tick_timeout" "$DD_TMP/echoC.log"
kill -CONT "$VC"
wait "$OC" 2>/dev/null
dd_erl_checks "$DD_TMP/obsC.log" $?

# --- D: a dpdist node frozen with kill -STOP is declared down by BEAM after net_ticktime.
ED=ed$DD_RUN_ID
dd_check "echo D starts with -ticktime 4" dd_start_echo "$ED" "$DD_TMP/echoD.log" -ticktime 4
ED_PID=$ECHO_PID
dd_erl "wd$DD_RUN_ID" "$DD_TMP/watchD.log" "
  code:add_patha(\"$DD_TMP/ebin\"),
  N = '$ED@$H', S = dd_interop:link_and_monitor(N), io:format(\"armed~n\"),
  T0 = erlang:monotonic_time(millisecond),
  dd_interop:wait_nodedown(S, N),
  io:format(\"nodedown after ~p ms~n\", [erlang:monotonic_time(millisecond) - T0]),
  halt(0)." -kernel net_ticktime 4
WD=$ERL_PID
dd_check "BEAM watcher D armed" env DD_WAIT=30 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q armed '$DD_TMP/watchD.log'"
kill -STOP "$ED_PID"
wait "$WD" 2>/dev/null
rc=$?
kill -CONT "$ED_PID"
dd_erl_checks "$DD_TMP/watchD.log" $rc
dd_check_grep "BEAM logs the frozen dpdist node as not responding" "not responding|net_tick_timeout|nodedown after" "$DD_TMP/watchD.log"
dd_done

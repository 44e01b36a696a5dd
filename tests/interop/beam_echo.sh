#!/usr/bin/env bash
# beam-echo: a BEAM node started with build/beam/dpdist.args and dpdist-echo, the libdpdist
# test node, over the TCP carrier, both directions. Starts: dpdist-epmd; dpdist-echo E;
# a dpdist erl node V serving dd_serve; short-lived dpdist erl checkers and watchers;
# dpdist-ping. Checks: dpdist -> echo: ping, large terms to the registered name and to pids,
# 2000 ordered messages, echo's sends back, spawn refused; dpdist:info shows the v1 trailer
# dpdist-echo sends ignored as another protocol version (counted) and carrier tcp.
# echo -> dpdist: dpdist-ping gets pong; echo dials V to deliver a message (V sees itself
# as the acceptor). Failures: echo's link and monitor of a process on V fire with
# noconnection when V is killed -9; a dpdist node's link and monitors of echo fire when echo
# is killed -9.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/beam.sh"
dd_test_init beam_echo
dd_build_beam_erl || { dd_fail "erlc dd_interop.erl dd_beam.erl"; dd_done; exit 1; }
H=$(dd_short_host)
E=e$DD_RUN_ID V=v$DD_RUN_ID
DP=(-args_file "$DD_BEAM_ARGS" -kernel connect_all false)
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
dd_check "dpdist-echo starts" dd_start_echo "$E" "$DD_TMP/echo.log"
E_PID=$ECHO_PID

# dpdist VM -> echo.
dd_erl_run "c$DD_RUN_ID" "$DD_TMP/to-echo.log" "
  E = '$E@$H',
  dd_interop:ping_expect(E, pong),
  dd_interop:roundtrip(E),
  dd_interop:reverse_send(E),
  dd_interop:spawn_refused(E),
  dd_beam:info_checks(E, #{role => initiator, sent_trailer => none,
    peer_trailer => {ignored, {version, 1}}, peer_extra => none}),
  S = dpdist:stats(),
  dd_interop:report(\"the dpdist VM counted echo's trailer as another version\",
    maps:get(peer_trailer_version, S) =:= 1 orelse S)" "${DP[@]}"
dd_erl_checks "$DD_TMP/to-echo.log" $?
dd_check_grep "... and logged it once" \
  "ignored the handshake trailer of a peer \(trailer of data-plane protocol version 1 \(this node speaks 2\); 1 so far\)" \
  "$DD_TMP/to-echo.log"

# echo -> dpdist VM.
dd_erl "$V" "$DD_TMP/V.log" "code:add_patha(\"$DD_TMP/ebin\"), dd_interop:serve()." "${DP[@]}"
V_PID=$ERL_PID
dd_check "dpdist node V registers" env DD_WAIT=30 bash -c \
  "$(declare -f dd_wait_for dd_epmd_lists); dd_wait_for dd_epmd_lists $EPMD_PORT $V"
ERL_EPMD_PORT=$EPMD_PORT timeout 60 "$DPDIST_BUILD/tools/dpdist-ping" -setcookie dpdistcookie \
  "$V@$H" >"$DD_TMP/ping.txt" 2>&1
dd_check "dpdist-ping to the dpdist VM: exit 0" test $? -eq 0
dd_check_grep "... and pong" "^pong$" "$DD_TMP/ping.txt"
dd_erl_run "d$DD_RUN_ID" "$DD_TMP/from-echo.log" "
  E = '$E@$H', V = '$V@$H',
  {dd_serve, V} ! {owner, self()},
  timer:sleep(200),
  {echo, E} ! {send_to, {dd_serve, V}, {hello_from, E}},
  dd_interop:report(\"echo dials the dpdist VM and delivers to its registered name\",
    receive {served, {hello_from, E}} -> true after 10000 -> timeout end),
  rpc:call(V, dd_beam, info_checks, [E, #{role => acceptor, sent_trailer => none,
    peer_trailer => {ignored, {version, 1}}}])" "${DP[@]}"
dd_erl_checks "$DD_TMP/from-echo.log" $?

# echo links to and monitors a process on V; V is killed.
dd_erl "o$DD_RUN_ID" "$DD_TMP/obs.log" "
  code:add_patha(\"$DD_TMP/ebin\"),
  E = '$E@$H', V = '$V@$H',
  ServePid = rpc:call(V, erlang, whereis, [dd_serve]),
  MRef = dd_interop:watch_events(E, ServePid),
  {echo, E} ! {link, ServePid},
  receive {linked, _} -> ok after 5000 -> ok end,
  io:format(\"armed~n\"),
  Events = dd_interop:wait_events(MRef, ServePid, V, 10000),
  dd_interop:report(\"echo saw 'EXIT' noconnection for its link to the dpdist VM\",
    lists:member({dpdist_event, {'EXIT', ServePid, noconnection}}, Events)
      orelse {events, Events}),
  halt(0)." "${DP[@]}"
O_PID=$ERL_PID
dd_check "observer armed" env DD_WAIT=30 bash -c \
  "$(declare -f dd_wait_for); dd_wait_for grep -q armed '$DD_TMP/obs.log'"
sleep 0.5
dd_beam_stop KILL "$V_PID"
wait "$O_PID" 2>/dev/null
rc=$?
dd_beam_stop none "$O_PID"
dd_erl_checks "$DD_TMP/obs.log" $rc

# A dpdist VM links to and monitors echo; echo is killed.
dd_erl "w$DD_RUN_ID" "$DD_TMP/watch.log" "
  code:add_patha(\"$DD_TMP/ebin\"),
  N = '$E@$H', S = dd_interop:link_and_monitor(N), io:format(\"armed~n\"),
  dd_interop:wait_nodedown(S, N), halt(0)." "${DP[@]}"
W_PID=$ERL_PID
dd_check "dpdist watcher armed" env DD_WAIT=30 bash -c \
  "$(declare -f dd_wait_for); dd_wait_for grep -q armed '$DD_TMP/watch.log'"
dd_beam_stop KILL "$E_PID"
wait "$W_PID" 2>/dev/null
rc=$?
dd_beam_stop none "$W_PID"
dd_erl_checks "$DD_TMP/watch.log" $rc
dd_check_no_grep "no sanitizer report or crash in the echo log" \
  "AddressSanitizer|runtime error|Segmentation" "$DD_TMP/echo.log"
dd_done

#!/usr/bin/env bash
# beam-dist: a BEAM node started with build/beam/dpdist.args (-proto_dist dpdist) is an
# ordinary distribution node over TCP, toward plain BEAM nodes and other dpdist nodes, in
# both directions. Starts: Erlang's epmd on its own port; dpdist nodes A and B (B with
# -dpdist_agent naming a socket that is not there), plain node P (all real erl, with
# connect_all off so that each connection has a known initiator); short-lived erl checkers;
# erl -remsh shells (plain and dpdist) through script(1); a python3 process listening on a
# Unix socket, as an agent socket that is there.
# Checks: ping, rpc, spawn, ordered messages and a 64 MiB binary over A->P, P->B, A->B;
# dpdist:info says tcp with the socket counters and the handshake (role, no trailer either
# way, the peer's EPMD Extra, flags without the atom cache, equal th at both ends of A-B);
# B logs why it runs without its agent (and a node given a socket that is no agent says it
# got no WELCOME); a remote shell command on A; links and monitors
# (by pid, by name) and nodedown with noconnection when B and then P are killed -9.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/beam.sh"
dd_test_init beam_dist
dd_build_beam_erl || { dd_fail "erlc dd_interop.erl dd_beam.erl"; dd_done; exit 1; }
H=$(dd_short_host)
A=a$DD_RUN_ID B=b$DD_RUN_ID P=p$DD_RUN_ID
NOCONN=(-kernel connect_all false)
dd_check "epmd starts" dd_start_real_epmd
dd_check "dpdist node A starts" dd_beam_idle "$A" "$DD_TMP/A.log" -args_file "$DD_BEAM_ARGS" \
  "${NOCONN[@]}"
A_PID=$ERL_PID
dd_check "dpdist node B starts with -dpdist_agent naming nothing" \
  dd_beam_idle "$B" "$DD_TMP/B.log" -args_file "$DD_BEAM_ARGS" "${NOCONN[@]}" \
  -dpdist_agent "$DD_TMP/no-agent.sock"
B_PID=$ERL_PID
dd_check "plain node P starts" dd_beam_idle "$P" "$DD_TMP/P.log" "${NOCONN[@]}"
P_PID=$ERL_PID
dd_check_grep "B says it runs over TCP without its agent, and why" \
  "dpdist: no agent at $DD_TMP/no-agent.sock \(no such file or directory\): distribution runs over TCP" \
  "$DD_TMP/B.log"
dd_check_no_grep "A, without -dpdist_agent, says nothing of agents" "agent" "$DD_TMP/A.log"
# A socket that is there but is no agent (a listening Unix socket nobody serves): the link
# gets no WELCOME and the node stays on TCP (the real agent: tests/agent/agent_beam.sh).
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(60)' \
  "$DD_TMP/agent.sock" &
SOCK_PID=$!
dd_track $SOCK_PID
dd_wait_for test -S "$DD_TMP/agent.sock"
dd_erl_run "s$DD_RUN_ID" "$DD_TMP/S.log" "timer:sleep(4000)" -args_file "$DD_BEAM_ARGS" \
  -dpdist_agent "$DD_TMP/agent.sock"
dd_check "a dpdist node given a socket starts and stops" test $? -eq 0
dd_check_grep "... and says that socket sent no WELCOME" \
  "dpdist: no WELCOME from $DD_TMP/agent.sock within 2000 ms \(is it a dpdist-agent\?\): distribution runs over TCP" \
  "$DD_TMP/S.log"
dd_beam_stop TERM "$SOCK_PID"

# Each connection made once, by a known side: A->P (dpdist dials plain), P->B (plain dials
# dpdist), A->B (dpdist dials dpdist). The checker only asks (its own links are plain->dpdist).
DD_ERL_TIMEOUT=240 dd_erl_run "c$DD_RUN_ID" "$DD_TMP/check.log" "
  A = '$A@$H', B = '$B@$H', P = '$P@$H',
  dd_interop:report(\"A pings P\", rpc:call(A, net_adm, ping, [P]) =:= pong),
  dd_interop:report(\"P pings B\", rpc:call(P, net_adm, ping, [B]) =:= pong),
  dd_interop:report(\"A pings B\", rpc:call(A, net_adm, ping, [B]) =:= pong),
  rpc:call(A, dd_beam, pair_checks, [P]),
  rpc:call(P, dd_beam, pair_checks, [B]),
  rpc:call(A, dd_beam, pair_checks, [B]),
  rpc:call(B, dd_beam, pair_checks, [A]),
  rpc:call(A, dd_beam, info_checks, [P, #{role => initiator, sent_trailer => none,
    peer_trailer => none, peer_extra => none}]),
  rpc:call(B, dd_beam, info_checks, [P, #{role => acceptor, sent_trailer => none,
    peer_trailer => none}]),
  rpc:call(A, dd_beam, info_checks, [B, #{role => initiator, sent_trailer => none,
    peer_trailer => none, peer_extra => {agent, 2}}]),
  rpc:call(B, dd_beam, info_checks, [A, #{role => acceptor, sent_trailer => none,
    peer_trailer => none}]),
  PFlags = maps:get(peer_flags, maps:get(handshake, rpc:call(A, dpdist, info, [P]))),
  dd_interop:report(\"(a plain peer offers the atom cache: A's refusal is what removes it)\",
    PFlags band 16#2000 =/= 0),
  ThA = rpc:call(A, dd_beam, th, [B]), ThB = rpc:call(B, dd_beam, th, [A]),
  dd_interop:report(\"A and B recorded the same handshake transcript\",
    is_binary(ThA) andalso ThA =:= ThB orelse {ThA, ThB}),
  dd_interop:report(\"dpdist:info of a node not connected\",
    rpc:call(A, dpdist, info, ['nobody@$H']) =:= {error, not_connected}),
  S = rpc:call(A, dpdist, stats, []),
  dd_interop:report(\"A counted its handshakes and the trailers it did not get\",
    maps:get(handshakes_initiated, S) >= 2 andalso maps:get(nodeups, S) >= 3 andalso
    maps:get(peer_trailer_none, S) >= 3 orelse S)"
dd_erl_checks "$DD_TMP/check.log" $?

dd_beam_remsh "a plain erl -remsh runs a command on A" "$A@$H" "$DD_TMP/remsh-plain.log"
dd_beam_remsh "a dpdist erl -remsh runs a command on A" "$A@$H" "$DD_TMP/remsh-dpdist.log" \
  -args_file "$DD_BEAM_ARGS"

# Links and monitors: A and P watch B, A watches P; B dies, then P.
dd_erl_run "w$DD_RUN_ID" "$DD_TMP/arm.log" "
  A = '$A@$H', B = '$B@$H', P = '$P@$H',
  dd_interop:report(\"A watches B\",
    rpc:call(A, dd_beam, watch, [B, \"$DD_TMP/A-watch-B\", 30000]) =:= armed),
  dd_interop:report(\"P watches B\",
    rpc:call(P, dd_beam, watch, [B, \"$DD_TMP/P-watch-B\", 30000]) =:= armed),
  dd_interop:report(\"A watches P\",
    rpc:call(A, dd_beam, watch, [P, \"$DD_TMP/A-watch-P\", 30000]) =:= armed)"
dd_erl_checks "$DD_TMP/arm.log" $?
dd_beam_stop KILL "$B_PID"
dd_check "A's watch of B ends" env DD_WAIT=40 bash -c \
  "$(declare -f dd_wait_for); dd_wait_for grep -q nodedown '$DD_TMP/A-watch-B'"
dd_erl_checks "$DD_TMP/A-watch-B"
dd_check "P's watch of B ends" env DD_WAIT=40 bash -c \
  "$(declare -f dd_wait_for); dd_wait_for grep -q nodedown '$DD_TMP/P-watch-B'"
dd_erl_checks "$DD_TMP/P-watch-B"
dd_beam_stop KILL "$P_PID"
dd_check "A's watch of P ends" env DD_WAIT=40 bash -c \
  "$(declare -f dd_wait_for); dd_wait_for grep -q nodedown '$DD_TMP/A-watch-P'"
dd_erl_checks "$DD_TMP/A-watch-P"
dd_check "A keeps running after losing both peers" kill -0 "$A_PID"
dd_check_no_grep "no crash report on A" "CRASH REPORT|ERROR REPORT|dpdist: start-up failed" \
  "$DD_TMP/A.log"
dd_done

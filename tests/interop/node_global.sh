#!/usr/bin/env bash
# Interop: OTP's global with a published (visible) dpdist node in a cluster of BEAM nodes.
# Starts: dpdist-epmd, a published dpdist-echo, two visible BEAM nodes (Debian's erl, logger
# level info) connected to each other and to the echo, and for a last check a hidden BEAM
# node. Checks: global:sync() returns on both BEAM nodes, global:register_name/whereis_name,
# trans and set_lock over nodes() work, global holds no pending resolver for the dpdist node;
# the same after one BEAM node alone drops the dpdist node and reconnects (a partial
# partition, which prevent_overlapping_partitions watches) and the dpdist node dials back,
# after ten reconnections, and after the dpdist node dies;
# and no warning or error report in either BEAM log, nor a warning in the echo's log.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init node_global
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
H=$(dd_short_host)
E=gd$DD_RUN_ID
B=gb$DD_RUN_ID
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
dd_check "published dpdist-echo starts" dd_start_echo "$E" "$DD_TMP/echo.log"
EPID=$ECHO_PID

# The second BEAM node: passive, its global is driven over rpc by the first.
dd_erl "$B" "$DD_TMP/beam_b.log" "receive after 120000 -> ok end, halt()." \
  -kernel logger_level info
dd_check "BEAM node B registers" env DD_WAIT=20 bash -c \
  "$(declare -f dd_wait_for); dd_wait_for bash -c 'epmd -port $EPMD_PORT -names | grep -q \"^name $B \"'"

T0=$(date +%s%N)
DD_ERL_TIMEOUT=120 dd_erl_run "ga$DD_RUN_ID" "$DD_TMP/beam_a.log" "
  B = '$B@$H', D = '$E@$H',
  pong = net_adm:ping(B),
  pong = net_adm:ping(D),
  pong = rpc:call(B, net_adm, ping, [D]),
  timer:sleep(300),
  dd_interop:global_checks(B, D, \"first\"),
  dd_interop:global_state_check(node(), D),
  dd_interop:global_state_check(B, D),
  %% A partial partition: this node drops D while B keeps it.
  erlang:disconnect_node(D),
  timer:sleep(1000),
  dd_interop:report(\"B kept its connection to the dpdist node\",
    lists:member(D, rpc:call(B, erlang, nodes, [])) orelse rpc:call(B, erlang, nodes, [])),
  %% This time the dpdist node dials (B asks it to send us something).
  register(dd_receiver, self()),
  rpc:call(B, erlang, send, [{echo, D}, {send_to, {dd_receiver, node()}, dialled_back}]),
  dd_interop:report(\"the dpdist node dials this BEAM node\",
    receive dialled_back -> true after 5000 -> timeout end),
  timer:sleep(300),
  dd_interop:global_checks(B, D, \"reconnected\"),
  dd_interop:global_state_check(node(), D),
  %% Reconnections, many times: global must never stay waiting for the dpdist node.
  [begin erlang:disconnect_node(D), pong = net_adm:ping(D) end || _ <- lists:seq(1, 10)],
  S = dd_interop:call_with_timeout(fun() -> global:sync() end, 10000),
  dd_interop:report(\"global:sync() after 10 reconnections\", S =:= ok orelse S),
  timer:sleep(200),
  dd_interop:global_state_check(node(), D),
  %% The dpdist node dies.
  os:cmd(\"kill -TERM $EPID\"),
  timer:sleep(1500),
  dd_interop:report(\"the dpdist node is gone from both\",
    not lists:member(D, nodes()) andalso not lists:member(D, rpc:call(B, erlang, nodes, []))),
  dd_interop:global_checks(B, none, \"after\"),
  timer:sleep(500)" -kernel logger_level info
rc=$?
T1=$(date +%s%N)
echo "# global scenario took $(( (T1 - T0) / 1000000 )) ms"
dd_erl_checks "$DD_TMP/beam_a.log" $rc

# Reports that the BEAM nodes printed (logger's legacy format under -noshell).
reports() { awk '/^=[A-Z ]+REPORT====/ {r=1} r {print} /^$/ {r=0}' "$1"; }
for who in a b; do
  reports "$DD_TMP/beam_$who.log" >"$DD_TMP/reports_$who.txt"
  dd_check_grep "BEAM node $who's reports are captured (progress reports at level info)" \
    "^=PROGRESS REPORT" "$DD_TMP/reports_$who.txt"
  dd_check_no_grep "BEAM node $who logs no warning, error or crash report" \
    "^=(WARNING|ERROR|CRASH|SUPERVISOR) REPORT" "$DD_TMP/reports_$who.txt"
  dd_check_no_grep "BEAM node $who logs nothing from or about global" \
    "global|overlapping|unexpected message" "$DD_TMP/reports_$who.txt"
done
dd_check_no_grep "the echo logs no warning or error" " (warning|error) " "$DD_TMP/echo.log"

# A hidden BEAM node: its global ignores the dpdist node, which must not speak global to it.
dd_check "published dpdist-echo restarts" dd_start_echo "$E" "$DD_TMP/echo2.log"
dd_erl_run "gh$DD_RUN_ID" "$DD_TMP/beam_h.log" "
  D = '$E@$H',
  pong = net_adm:ping(D),
  timer:sleep(500),
  S = dd_interop:call_with_timeout(fun() -> global:sync() end, 5000),
  dd_interop:report(\"global:sync() on a hidden BEAM node\", S =:= ok orelse S),
  St = sys:get_state(global_name_server),
  dd_interop:report(\"its global never heard of the dpdist node\",
    not lists:member(D, element(4, St)) orelse St)" -hidden -kernel logger_level info
dd_erl_checks "$DD_TMP/beam_h.log" $?
reports "$DD_TMP/beam_h.log" >"$DD_TMP/reports_h.txt"
dd_check_no_grep "hidden BEAM node logs no warning or error report" \
  "^=(WARNING|ERROR|CRASH|SUPERVISOR) REPORT|global" "$DD_TMP/reports_h.txt"
dd_done

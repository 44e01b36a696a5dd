#!/usr/bin/env bash
# dp-upgrade: who moves to DPDK and who stays on TCP.
# Starts: dpdist-epmd; two dpdist-echo nodes A and B with data planes on a net_memif pair
# (CPU 0 and CPU 1, polling inline); a real BEAM node (Debian's erl) that drives the test and
# talks to both.
# Checks:
#  1. A and B, both with data planes, end up on DPDK once connected, and the counters prove
#     that the traffic between them went there: 3000 messages A -> B (each echoed by B to the
#     BEAM node) and 3000 B -> A arrive in order, and A's data plane acknowledged and B's
#     delivered at least 3000 messages meanwhile (and the other way round); a 1 MiB term too;
#  2. the BEAM node stays on TCP with both (A and B report carrier tcp for it), and works:
#     large nested terms and 2000 ordered messages both ways, messages from A to the BEAM node;
#  3. both dpdist nodes log the move to DPDK for each other, with authenticated frames (gmac,
#     the default of [security] frame_auth: docs/security.md), and no frame was dropped as
#     forged or replayed.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init upgrade
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
dp_memif_pair a b '[lanes]\nhb_missed_limit = 30'

# start_echo NAME CPU: dpdist-echo with $DD_TMP/NAME.ini, pinned; waits for "ready".
start_echo() {
  local name=$1 cpu=$2 log="$DD_TMP/echo-$1.log"
  ERL_EPMD_PORT=$EPMD_PORT taskset -c "$cpu" "$DPDIST_BUILD/tools/dpdist-echo" \
    -config "$DD_TMP/$name.ini" -setcookie "$DD_COOKIE" >"$log" 2>&1 &
  ECHO_PID=$!
  dd_track $ECHO_PID
  DD_WAIT=20 dd_wait_for grep -q "ready" "$log"
}
dd_check "dpdist-echo A starts (memif server, CPU 0)" start_echo a 0
PA=$ECHO_PID
dd_check "dpdist-echo B starts (memif client, CPU 1)" start_echo b 1
PB=$ECHO_PID

DD_ERL_TIMEOUT=120 dd_erl_run "drv$DD_RUN_ID" "$DD_TMP/drv.log" "
  A = '$DP_NODE_A', B = '$DP_NODE_B', Me = node(),
  R = fun(Name, V) -> dd_interop:report(Name, V) end,
  Stats = fun(At, Peer) ->
      {echo, At} ! {stats, Peer, self()},
      receive {stats, C, Tx, Rx, Rt, _} -> {C, Tx, Rx, Rt} after 5000 -> timeout end
    end,
  WaitDpdk = fun Loop(At, Peer, 0) -> Stats(At, Peer);
                 Loop(At, Peer, K) ->
                   case Stats(At, Peer) of
                     {dpdk, _, _, _} = S -> S;
                     _ -> timer:sleep(50), Loop(At, Peer, K - 1)
                   end
             end,
  %% A connects to B on demand; wait for the first echo, then for the upgrade.
  {echo, A} ! {send_to, {echo, B}, {self(), hello}},
  R(\"B echoes a message A sent it\", receive hello -> true after 10000 -> timeout end),
  {dpdk, TxA0, RxA0, _} = WaitDpdk(A, B, 100),
  {dpdk, TxB0, RxB0, _} = WaitDpdk(B, A, 100),
  R(\"A and B are on DPDK\", true),
  N = 3000,
  [{echo, A} ! {send_to, {echo, B}, {self(), {ab, I}}} || I <- lists:seq(1, N)],
  R(\"3000 messages A -> B, echoed by B, in order\",
    lists:all(fun(I) -> receive {ab, I} -> true after 10000 -> false end end, lists:seq(1, N))),
  [{echo, B} ! {send_to, {echo, A}, {self(), {ba, I}}} || I <- lists:seq(1, N)],
  R(\"3000 messages B -> A, echoed by A, in order\",
    lists:all(fun(I) -> receive {ba, I} -> true after 10000 -> false end end, lists:seq(1, N))),
  Big = dd_interop:big_term(),
  {echo, A} ! {send_to, {echo, B}, {self(), {big, Big}}},
  R(\"a 1 MiB nested term A -> B -> BEAM\", receive {big, Big} -> true after 10000 -> timeout end),
  timer:sleep(100),
  {CA, TxA1, RxA1, _} = Stats(A, B),
  {CB, TxB1, RxB1, _} = Stats(B, A),
  io:format(\"# counters A->B: acknowledged ~p delivered ~p; B->A: acknowledged ~p delivered ~p~n\",
            [TxA1 - TxA0, RxB1 - RxB0, TxB1 - TxB0, RxA1 - RxA0]),
  R(\"A's carrier to B is still dpdk\", CA =:= dpdk orelse CA),
  R(\"B's carrier to A is still dpdk\", CB =:= dpdk orelse CB),
  R(\"A's data plane acknowledged the messages to B\", TxA1 - TxA0 >= N orelse {TxA0, TxA1}),
  R(\"B's data plane delivered the messages from A\", RxB1 - RxB0 >= N orelse {RxB0, RxB1}),
  R(\"B's data plane acknowledged the messages to A\", TxB1 - TxB0 >= N orelse {TxB0, TxB1}),
  R(\"A's data plane delivered the messages from B\", RxA1 - RxA0 >= N orelse {RxA0, RxA1}),
  %% The BEAM node: TCP with both, and working.
  R(\"A talks to this BEAM node over TCP\", element(1, Stats(A, Me)) =:= tcp),
  R(\"B talks to this BEAM node over TCP\", element(1, Stats(B, Me)) =:= tcp),
  dd_interop:roundtrip(A),
  dd_interop:reverse_send(A),
  R(\"A and B are visible nodes here\",
    lists:member(A, nodes()) andalso lists:member(B, nodes()) orelse nodes()),
  R(\"A sees B and this node\",
    case dd_interop:nodes_of(A) of {V, _} -> lists:member(B, V) andalso lists:member(Me, V); O -> O end)
"
dd_erl_checks "$DD_TMP/drv.log" $?
dp_stop "$PA" "$PB"
grep '^# counters' "$DD_TMP/drv.log"
dd_check_grep "A logs the move to DPDK for B, frames gmac" \
  "traffic to $DP_NODE_B moves to the DPDK data plane \\(frames: gmac\\)" "$DD_TMP/echo-a.log"
dd_check_grep "B logs the move to DPDK for A, frames gmac" \
  "traffic to $DP_NODE_A moves to the DPDK data plane \\(frames: gmac\\)" "$DD_TMP/echo-b.log"
dd_check_no_grep "A dropped no frame as forged or replayed" "data plane dropped frames" \
  "$DD_TMP/echo-a.log"
dd_check_no_grep "B dropped no frame as forged or replayed" "data plane dropped frames" \
  "$DD_TMP/echo-b.log"
dd_check_no_grep "no move to DPDK for the BEAM node" "traffic to drv$DD_RUN_ID@" \
  "$DD_TMP/echo-a.log"
dd_done

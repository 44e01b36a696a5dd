#!/usr/bin/env bash
# dp-memif-pair: two processes over a net_memif pair (shared memory, no hugepages).
# Starts: dpdist-epmd, and two dd_stress nodes pinned to CPU 0 (memif server) and CPU 1
# (client), each polling inline on its one core.
# Checks:
#  1. both nodes send to each other at the same time (both dial: the simultaneous-connect
#     race), 3 senders each, 30 000 messages of the mixed size distribution (64 B .. 4 MiB,
#     stress_msg.c): every message arrives exactly once, in per-sender order, intact, over
#     DPDK (the data plane acknowledged at least as many messages as were sent);
#  2. large messages: 2 senders x 2 messages of 64 MiB (fragmented into ~47 000 frames each),
#     interleaved, exactly once and intact;
#  3. both nodes stopped together (SIGTERM to A, then to B 0-280 ms later), 8 times: each
#     exits 0. (The memif driver handles the peer's disconnect on EAL's interrupt thread; a
#     port closed on another thread at that moment crashed there, once in 2 of 5 stops of
#     the demo's nodes, since not reproduced on demand: this checks the clean exit, the fix
#     is by construction, see port_release in dataplane/dp_engine.c.)
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init memif_pair
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd

# Failure detection with room for a loaded machine (300 ms); 64 MiB messages need
# max_msg_bytes above 64 MiB (the distribution header comes on top).
dp_memif_pair a b '[lanes]\nhb_missed_limit = 30\nmax_msg_bytes = 80M\nrx_window_bytes = 160M\ntx_queue_bytes = 160M'

# --- 1. both directions at once
dd_check "node A starts (memif server, CPU 0)" \
  dp_start a 0 "$DD_TMP/a1.log" -keep source --to "$DP_NODE_B" --senders 3 --count 30000 --seed 11
PA=$DP_PID
dd_check "node B starts (memif client, CPU 1)" \
  dp_start b 1 "$DD_TMP/b1.log" -keep source --to "$DP_NODE_A" --senders 3 --count 30000 --seed 12
PB=$DP_PID
dp_wait_line "$DD_TMP/a1.log" '^DONE' 120
dp_wait_line "$DD_TMP/b1.log" '^DONE' 120
dd_check_grep "A reached B over DPDK" '^RESULT source phase=connect connected=1 carrier=dpdk' "$DD_TMP/a1.log"
dd_check_grep "B reached A over DPDK" '^RESULT source phase=connect connected=1 carrier=dpdk' "$DD_TMP/b1.log"
dp_check_phase "A -> B" "$DD_TMP/a1.log" main
dp_check_phase "B -> A" "$DD_TMP/b1.log" main
dp_stop "$PA" "$PB"
dd_check_grep "B's port carried the traffic (tens of thousands of frames)" 'port: rx [0-9]{5,} frames' \
  "$DD_TMP/b1.log"

# --- 2. 64 MiB messages, two senders interleaved
dp_bulk_round "large messages" "$DD_TMP/a2.log" "$DD_TMP/b2.log" 13

# --- 3. both stop together
for round in 1 2 3 4 5 6 7 8; do
  dp_start a 0 "$DD_TMP/a3.log" -keep source --to "$DP_NODE_B" --senders 1 --count 200 --seed 2$round
  PA=$DP_PID
  dp_start b 1 "$DD_TMP/b3.log" -keep source --to "$DP_NODE_A" --senders 1 --count 200 --seed 3$round
  PB=$DP_PID
  dp_wait_line "$DD_TMP/a3.log" '^DONE' 60
  dp_wait_line "$DD_TMP/b3.log" '^DONE' 60
  kill -TERM "$PA" 2>/dev/null
  sleep "$(printf '0.%03d' $(( (round - 1) * 40 )))"
  kill -TERM "$PB" 2>/dev/null
  dp_wait "$PA" 10; ra=$?
  dp_wait "$PB" 10; rb=$?
  dd_check "round $round: both stopped at once, A exits 0 (got $ra)" test "$ra" = 0
  dd_check "round $round: both stopped at once, B exits 0 (got $rb)" test "$rb" = 0
done
dd_done

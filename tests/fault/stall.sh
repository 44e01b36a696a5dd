#!/usr/bin/env bash
# fault-stall: a receiver that stops reading.
# Starts: dpdist-epmd, and two dd_stress nodes over a net_memif pair (CPU 0 and CPU 1) with
# small bounds: max_msg_bytes 1 MiB, rx_window_bytes 8 MiB (what the receiver holds for the
# application at most), tx_queue_bytes 8 MiB (what the sender queues at most).
# After 2000 messages to warm up, the sender asks the receiver to stop reading for 3 s, then
# streams 20 000 messages of the mixed distribution up to 1 MiB (~36 MB) with non-blocking
# sends.
# Checks:
#  1. while the receiver stalls, the sender is pushed back (sends answer "would block") and
#     gets rid of no more than the bounds allow (rx window + send queue + one message);
#  2. the receiver's unconsumed bytes stay within rx_window_bytes, and its resident memory
#     grows by no more than that plus the packet pool;
#  3. once it reads again, everything arrives: exactly once, in order, intact, no nodedown.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init stall
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd

WINDOW=$((8 * 1024 * 1024))
QUEUE=$((8 * 1024 * 1024))
MAXMSG=$((1024 * 1024))
dp_memif_pair a b "[lanes]\nhb_missed_limit = 30\nmin_rto_us = 5000\nmax_msg_bytes = $MAXMSG\nrx_window_bytes = $WINDOW\ntx_queue_bytes = $QUEUE"
dd_check "receiver starts (memif server, CPU 0)" dp_start a 0 "$DD_TMP/a.log" serve
PA=$DP_PID
dd_check "sender starts (memif client, CPU 1)" \
  dp_start b 1 "$DD_TMP/b.log" source --to "$DP_NODE_A" --senders 2 --count 20000 \
  --max 1000000 --warmup 2000 --stall 3000 --seed 21 --timeout 30 --stop-peer 1
PB=$DP_PID
dp_wait "$PB" 120
dd_check "the sender finished" test $? -eq 0
dp_wait "$PA" 20
dd_check "the receiver, stopped by its peer, exits 0" test $? -eq 0

dp_check_phase "after the stall" "$DD_TMP/b.log" main
line=$(dp_line "$DD_TMP/b.log" '^RESULT source phase=main ')
stall=$(dp_line "$DD_TMP/a.log" '^STALL ')
echo "# $stall"
dd_check "the receiver stalled for 3 s" test -n "$stall"
accepted=$(dp_field "$line" stall_accepted_bytes)
echo "# while the receiver stalled the sender got rid of $accepted bytes" \
  "($(dp_field "$line" stall_accepted_msgs) messages) and was told to wait" \
  "$(dp_field "$line" stall_wouldblock) times"
dp_check_cmp "the sender was pushed back" "$(dp_field "$line" stall_wouldblock)" -gt 0
dp_check_cmp "the sender got rid of no more than the bounds allow" "$accepted" -le \
  $((WINDOW + QUEUE + MAXMSG))
dp_check_cmp "the receiver's data plane holds unread data (it was filled)" \
  "$(dp_field "$stall" max_unconsumed)" -gt $((WINDOW / 2))
dp_check_cmp "unread data stays within rx_window_bytes" "$(dp_field "$stall" max_unconsumed)" \
  -le "$WINDOW"
dd_check "the receiver reports its bound" test "$(dp_field "$stall" window)" = "$WINDOW"
# The packet pool (8191 mbufs of 2176 bytes, ~18 MiB) is touched for the first time while
# frames arrive, so it may become resident during the stall too.
dp_check_cmp "the receiver's memory grows by at most the window and the pool (KiB)" \
  "$(dp_field "$stall" rss_growth_kb)" -le $(( (WINDOW + 24 * 1024 * 1024) / 1024 ))
dd_done

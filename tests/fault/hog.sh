#!/usr/bin/env bash
# fault-hog: a node whose application threads keep its only core busy does not look dead.
# Starts: dpdist-epmd, and two dd_stress nodes over a net_memif pair, each pinned to one CPU
# (A: CPU 0, B: CPU 1), both inline-polling, heartbeats every 5 ms, 10 missed = down.
# B streams to A (source, 2 senders, 1 KiB); first it asks A to hog its CPU for 500 ms: four
# threads of A (its serving thread, the inline poller, among them) spin on CPU 0 without
# calling dd_recv. Nothing of A's application polls the port for 500 ms = 100 heartbeat
# intervals: only the watchdog poller (runtime/carrier_dpdk/dpc_watchdog.c) keeps A's
# heartbeats and acks going.
# Checks: before the hog, while A's serving thread polls in dd_recv for 200 ms, A's watchdog
# does not wake (its timer follows the heartbeat deadline the polls push on); A hogged for
# 500 ms; meanwhile A's watchdog polled and took at most 30 % of the core (the duty-cycle
# cap is 25 %); B never saw A go down; everything B sent arrived, once, in order, intact;
# A's watchdog ran at SCHED_FIFO (else a SKIP with the reason) and polled.
# Bounded: each node ends within 60 s.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init hog
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd

HOG_MS=500
dp_memif_pair a b '[lanes]\nhb_interval_us = 5000\nhb_missed_limit = 10'
dd_check "A starts (memif server, pinned to CPU 0)" dp_start a 0 "$DD_TMP/a.log" serve
PA=$DP_PID
dd_check "B starts (memif client, CPU 1), A hogs its CPU for $HOG_MS ms" \
  dp_start b 1 "$DD_TMP/b.log" source --to "$DP_NODE_A" --senders 2 --count 20000 \
  --dist 1024 --hog "$HOG_MS" --seed 5 --timeout 30 --stop-peer 1
PB=$DP_PID
dp_wait "$PB" 60
dd_check "B finished" test $? -eq 0
dp_wait "$PA" 20
dd_check "A, stopped by its peer, exits 0" test $? -eq 0

calmline=$(dp_line "$DD_TMP/a.log" '^CALM ')
echo "# A: $calmline"
dd_check "A polled in dd_recv first (calm)" test -n "$calmline"
# While an application thread polls, the watchdog's timer moves with the heartbeat deadline:
# it does not wake just to find somebody polling (a timer that does not move wakes at every
# deadline: ~40 in 200 ms at 5 ms). When the kernel holds the polling thread off past a
# deadline (a loaded machine), the watchdog wakes and polls: those wake-ups are not needless.
needless=$(( $(dp_field "$calmline" watchdog_wakeups) - $(dp_field "$calmline" watchdog_runs) ))
dp_check_cmp "A's watchdog did not wake needlessly while A polled" \
  "$needless" -le $(( $(dp_field "$calmline" ms) / 20 ))
hogline=$(dp_line "$DD_TMP/a.log" '^HOG ')
echo "# A: $hogline"
dd_check "A hogged its CPU" test -n "$hogline"
took=$(dp_field "$hogline" took_ms)
dp_check_cmp "A's threads spun for at least $HOG_MS ms" "$took" -ge "$HOG_MS"
# The duty-cycle cap (dpc_watchdog.c, 25 %): B's stream keeps the watchdog busy while A's
# threads hog; it must leave them at least 70 % of the core (cap plus scheduling slack).
busy=$(dp_field "$hogline" watchdog_busy_us)
dp_check_cmp "A's watchdog polled during the hog" "$busy" -gt 0
dp_check_cmp "A's watchdog took at most 30 % of the core (${busy} us of ${took} ms)" \
  $(( busy / 10 )) -le $(( took * 30 ))
dp_check_phase "after A hogged its CPU" "$DD_TMP/b.log" main
runs=$(sed -nE 's/.*watchdog poller \([^)]*\): ([0-9]+) runs.*/\1/p' "$DD_TMP/a.log" | tail -n 1)
echo "# A's watchdog: $(grep -o 'watchdog poller (.*' "$DD_TMP/a.log" | tail -n 1)"
dp_check_cmp "A's watchdog poller polled" "${runs:-0}" -gt 0
if grep -q 'watchdog poller at SCHED_FIFO' "$DD_TMP/a.log"; then
  dd_pass "A's watchdog runs at SCHED_FIFO"
else
  dd_skip "A's watchdog runs at SCHED_FIFO" "SCHED_FIFO refused here: $(grep -o 'SCHED_FIFO refused: [^)]*' "$DD_TMP/a.log" | head -n 1)"
fi
dd_done

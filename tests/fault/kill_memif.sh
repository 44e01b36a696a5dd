#!/usr/bin/env bash
# fault-kill-memif: kill -9 of a memif server while its client streams 1 KiB messages to it,
# ROUNDS times (default 30; first argument or DD_KILL_ROUNDS).
# Starts, each round: dpdist-epmd (once), a dd_stress node A (`serve`, memif server, CPU 0)
# and a dd_stress node B (`stream`, memif client, CPU 1) streaming 1 KiB messages from two
# senders to A over DPDK; after a random 0.3-1.2 s of streaming, A gets SIGKILL.
# What happens in B (docs/dataplane.md §8): A's death closes the memif control socket, and
# the memif driver disconnects on EAL's interrupt thread, unmapping the shared regions while
# B's poller may be inside rte_eth_rx_burst/tx_burst on them (2 crashes in 21 rounds before
# dataplane/dp_mapguard.c).
# Checks, each round: B was on DPDK; B gets A's nodedown and logs why; B ends by itself with
# a status below 128 (no signal: no SIGSEGV/SIGBUS/SIGABRT) within 30 s. At the end: no new
# kernel segfault line for dd_stress (dmesg, where readable). Bounded: each round waits at
# most ~75 s, a round normally takes 2-3 s.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init kill_memif

ROUNDS=${1:-${DD_KILL_ROUNDS:-30}}
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
# Failure detection: 5 ms x 20 heartbeats (the TCP connection closes with A at once anyway).
dp_memif_pair a b '[lanes]\nhb_interval_us = 5000\nhb_missed_limit = 20'

dmesg_segv() { dmesg 2>/dev/null | grep -c 'dd_stress.*segfault\|segfault.*dd_stress'; }
DMESG_OK=1
dmesg >/dev/null 2>&1 || DMESG_OK=0
SEGV0=$(dmesg_segv)

crashed=0 guarded=0
for round in $(seq 1 "$ROUNDS"); do
  la="$DD_TMP/a$round.log" lb="$DD_TMP/b$round.log"
  dp_start_round "$round" "" stream --to "$DP_NODE_A" --size 1024 --senders 2 \
    --duration 20 || continue
  sleep "$(printf '0.%d' $((3 + RANDOM % 10)))"
  kill -KILL "$PA" 2>/dev/null
  wait "$PA" 2>/dev/null
  dp_wait "$PB" 30; rb=$?
  if [ "$rb" -ge 128 ]; then
    crashed=$((crashed + 1))
    dd_fail "round $round: B ends without a signal (status $rb)"
    tail -n 5 "$lb" | sed 's/^/#   /'
  else
    dd_pass "round $round: B ends without a signal (status $rb)"
  fi
  dd_check_grep "round $round: B got A's nodedown" '^RESULT stream nodedown=1 ' "$lb"
  dd_check_grep "round $round: B logged why" "node $DP_NODE_A down" "$lb"
  w=$(sed -nE 's/.*unmaps that waited for a poller.s burst: ([0-9]+).*/\1/p' "$lb" | tail -n 1)
  guarded=$((guarded + ${w:-0}))
done
echo "# $crashed of $ROUNDS rounds: B died of a signal"
echo "# B's unmaps on the interrupt thread that waited for its poller to leave a burst: $guarded"
if [ $DMESG_OK = 1 ]; then
  dp_check_cmp "no dd_stress segfault in the kernel log" "$(( $(dmesg_segv) - SEGV0 ))" -eq 0
else
  echo "ok - no dd_stress segfault in the kernel log # SKIP dmesg is not readable"
fi
dd_done

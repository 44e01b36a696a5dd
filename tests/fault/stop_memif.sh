#!/usr/bin/env bash
# fault-stop-memif: a peer frozen with SIGSTOP during a memif stream is declared down while it
# is still frozen, ROUNDS times (default 5; first argument).
# Starts, each round: dpdist-epmd (once), a dd_stress node A (`serve`, memif server, CPU 0)
# and a dd_stress node B (`stream`, memif client, CPU 1) streaming 1 KiB messages from two
# senders to A; after 0.5 s of streaming, A gets SIGSTOP. A stopped process keeps its TCP
# connection open (the kernel holds it) and its memif rings mapped: only the data plane's
# heartbeat timeout can tell. B's port backs up behind A's full ring, and before the liveness
# check ran outside the transmit path (dataplane/dp_worker.c) B saw A go down only after
# SIGCONT.
# Checks, each round: B reports A's nodedown while A is still stopped, after the SIGSTOP
# (a nodedown before it would be a false one) and within 1 s of the
# SIGSTOP (the window is 5 ms x 20 = 100 ms; the rest is slack for a shared machine). Then A
# is killed. Bounded: each round waits at most ~40 s, normally ~2 s.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init stop_memif

ROUNDS=${1:-5}
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
dp_memif_pair a b '[lanes]\nhb_interval_us = 5000\nhb_missed_limit = 20'

stopped() { grep -q '^State:[[:space:]]*T' "/proc/$1/status" 2>/dev/null; }

for round in $(seq 1 "$ROUNDS"); do
  la="$DD_TMP/a$round.log" lb="$DD_TMP/b$round.log"
  dp_start_round "$round" 1 stream --to "$DP_NODE_A" --size 1024 --senders 2 \
    --duration 20 || continue
  sleep 0.5
  t_stop=$(date +%s%N)
  kill -STOP "$PA"
  got=0
  if dp_wait_line "$lb" '^RESULT stream nodedown=1 ' 10; then got=1; fi
  frozen=0
  stopped "$PA" && frozen=1
  kill -KILL "$PA" 2>/dev/null
  wait "$PA" 2>/dev/null
  dp_wait "$PB" 20 >/dev/null
  line=$(dp_line "$lb" '^RESULT stream nodedown=')
  dd_check "round $round: B declared A down" test "$got" = 1
  dd_check "round $round: ... while A was still stopped" test "$frozen" = 1
  if [ "$got" = 1 ]; then
    ms=$(( ($(dp_field "$line" nodedown_wall_ns) - t_stop) / 1000000 ))
    echo "# round $round: SIGSTOP to nodedown: $ms ms"
    dp_check_cmp "round $round: not before the SIGSTOP (no false nodedown)" "$ms" -ge 0
    dp_check_cmp "round $round: within 1 s of the SIGSTOP" "$ms" -le 1000
  fi
done
dd_done

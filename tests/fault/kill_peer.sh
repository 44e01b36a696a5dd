#!/usr/bin/env bash
# fault-kill: a peer killed with kill -9, then one frozen with SIGSTOP, among three nodes.
# Starts (as root; skips with the reason otherwise): the netns topology of
# tests/dataplane/netns_afpacket.sh (three hosts on a Linux bridge, each with a dpdist-epmd
# and a node whose data plane is net_af_packet on its veth), nodes waiting lazily. Node 3 is
# the victim (dd_stress serve); nodes 1 and 2 (dd_stress watch) link to its `stress` mailbox,
# monitor it by pid and by name, and ping each other every 5 ms over DPDK. Failure detection
# of the data plane: hb_interval_us 5000 x hb_missed_limit 10 = 50 ms; net_ticktime stays 60 s.
# Checks, for each of nodes 1 and 2:
#  1. kill -9 of node 3: nodedown within the detection time (the TCP connection closes at
#     once, so well within it); the link fires {'EXIT', Pid, noconnection}, both monitors
#     'DOWN' noconnection; node 1 <-> 2 unaffected: no nodedown, every ping answered, still
#     on DPDK;
#  2. SIGSTOP of node 3 (its TCP connections stay open): nodedown from the data plane's
#     heartbeat timeout at the detection time: not before it less one heartbeat interval (the
#     victim's last heartbeat may predate the signal by that much; nothing else notices), not
#     after it plus two (the lazy watchers poll and wake a little late); same exits and
#     monitors; nodes 1 and 2 unaffected.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dp_need_root
dd_test_init kill_peer

HB_US=5000
MISSED=10
DETECT_MS=$((HB_US * MISSED / 1000))
dd_check "three hosts and a bridge in network namespaces" dp_netns_up 3 || { dd_done; exit 1; }
EPMD_PORT=$(dd_free_port)
for i in 1 2 3; do
  dd_check "dpdist-epmd in host $i" dp_netns_epmd "$i"
  dp_netns_config "$i" "n$i" "[lanes]\nhb_interval_us = $HB_US\nhb_missed_limit = $MISSED\nmin_rto_us = 5000"
done
node() { echo "n$1$DD_RUN_ID@10.66.1.$1"; }

# run_case NAME SIGNAL: starts victim and watchers, sends SIGNAL to the victim once both
# watchers are armed, waits for the watchers; sets T0 (ns, just before the signal).
run_case() {
  local name=$1 sig=$2
  dd_check "$name: victim starts" dp_netns_start 3 n3 "$DD_TMP/$name-n3.log" -lazy serve
  VICTIM=$DP_PID
  dd_check "$name: watcher 1 starts" dp_netns_start 1 n1 "$DD_TMP/$name-n1.log" -lazy -keep watch \
    --victim "$(node 3)" --peer "$(node 2)" --duration 6
  W1=$DP_PID
  dd_check "$name: watcher 2 starts" dp_netns_start 2 n2 "$DD_TMP/$name-n2.log" -lazy -keep watch \
    --victim "$(node 3)" --peer "$(node 1)" --duration 6
  W2=$DP_PID
  dd_check "$name: watcher 1 armed" dp_wait_line "$DD_TMP/$name-n1.log" '^ARMED' 30
  dd_check "$name: watcher 2 armed" dp_wait_line "$DD_TMP/$name-n2.log" '^ARMED' 30
  sleep 0.5
  T0=$(date +%s%N)
  kill "-$sig" "$VICTIM"
  # -keep: a watcher that is done goes on answering pings until both are done.
  dp_wait_line "$DD_TMP/$name-n1.log" '^DONE' 30
  dp_wait_line "$DD_TMP/$name-n2.log" '^DONE' 30
  dp_stop "$W1" "$W2"
}

# check_watch NAME I MIN_MS MAX_MS REASON: what watcher I saw.
check_watch() {
  local name=$1 i=$2 min=$3 max=$4 reason=$5 log="$DD_TMP/$1-n$2.log" line ms
  line=$(dp_line "$log" '^RESULT watch phase=done ')
  echo "# $line"
  dd_check_grep "$name: node $i: victim and peer were on DPDK" \
    '^RESULT watch phase=connect up=1 victim_carrier=dpdk peer_carrier=dpdk' "$log"
  dp_check_cmp "$name: node $i: one nodedown for the victim" "$(dp_field "$line" victim_nodedown)" -eq 1
  ms=$(( ($(dp_field "$line" victim_nodedown_wall_ns) - T0) / 1000000 ))
  echo "# $name: node $i: nodedown ${ms} ms after the signal (detection time ${DETECT_MS} ms)"
  dp_check_cmp "$name: node $i: nodedown not before ${min} ms" "$ms" -ge "$min"
  dp_check_cmp "$name: node $i: nodedown within ${max} ms" "$ms" -le "$max"
  dp_check_cmp "$name: node $i: the link fired with noconnection" \
    "$(dp_field "$line" exit_noconnection)" -eq 1
  dp_check_cmp "$name: node $i: both monitors fired with noconnection" \
    "$(dp_field "$line" down_noconnection)" -eq 2
  dp_check_cmp "$name: node $i: no exit or 'DOWN' with another reason" \
    "$(( $(dp_field "$line" exit_other) + $(dp_field "$line" down_other) ))" -eq 0
  dp_check_cmp "$name: node $i: no nodedown for the other peer" "$(dp_field "$line" peer_nodedown)" -eq 0
  dp_check_cmp "$name: node $i: pinged the other peer throughout" "$(dp_field "$line" pings)" -ge 300
  dp_check_cmp "$name: node $i: every ping answered" "$(dp_field "$line" pongs)" -eq \
    "$(dp_field "$line" pings)"
  dd_check "$name: node $i: still on DPDK with the other peer" \
    test "$(dp_field "$line" peer_carrier)" = dpdk
  dd_check_grep "$name: node $i: logged why" "node $(node 3) down: $reason" "$log"
}

# --- 1. kill -9: the TCP connection closes with the process
run_case kill KILL
for i in 1 2; do check_watch kill "$i" 0 "$DETECT_MS" 'connection closed by peer'; done

# --- 2. SIGSTOP: only the data plane's heartbeats tell
run_case stop STOP
for i in 1 2; do
  check_watch stop "$i" $((DETECT_MS - HB_US / 1000)) $((DETECT_MS + 2 * HB_US / 1000)) \
    'data plane: no frame from the peer'
done
kill -CONT "$VICTIM" 2>/dev/null
dp_stop "$VICTIM"
dd_done

#!/usr/bin/env bash
# dp-netns-afpacket: three nodes on a real multi-peer L2 segment, over net_af_packet.
# Starts (as root; skips with the reason otherwise): four network namespaces, three "hosts"
# with a veth each and one holding the Linux bridge that joins the veths; in each host a
# dpdist-epmd and a dd_stress node with a long name (nI@10.66.1.I) whose data plane is DPDK's
# af_packet driver on the host's veth, at 10.66.2.I: an address no kernel has, so the kernels
# drop the dpdist frames they also see. Everything is removed at exit (deleting a namespace
# deletes its links and the bridge). The nodes wait lazily (-lazy: short sleeps instead of
# busy polling) since three of them share two CPUs.
# Checks:
#  1. every node streams to the next one at the same time (1->2, 2->3, 3->1): each pair is
#     upgraded to DPDK, and 2 senders x 3000 messages of 64 B .. 1 MiB arrive exactly once, in
#     per-sender order and intact;
#  2. a node receives nothing that was not meant for it: frames between the other two that
#     the bridge floods to it are dropped by its data plane (no foreign message delivered).
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dp_need_root
dd_test_init netns_afpacket

dd_check "three hosts and a bridge in network namespaces" dp_netns_up 3 || { dd_done; exit 1; }
EPMD_PORT=$(dd_free_port)
for i in 1 2 3; do
  dd_check "dpdist-epmd in host $i" dp_netns_epmd "$i"
  # Lazy nodes are polled by their control thread every hb_interval/4: 4 ms heartbeats give
  # a poll each ms; RTO 5 ms above that (see tests/fault/inject.sh for the RTO).
  dp_netns_config "$i" "n$i" '[lanes]\nhb_interval_us = 4000\nhb_missed_limit = 50\nmin_rto_us = 5000'
done
node() { echo "n$1$DD_RUN_ID@10.66.1.$1"; }

for i in 1 2 3; do
  next=$(( i % 3 + 1 ))
  dd_check "node $i starts and streams to node $next" \
    dp_netns_start "$i" "n$i" "$DD_TMP/n$i.log" -lazy -keep source --to "$(node $next)" \
    --senders 2 --count 6000 --max 1048576 --seed "$i" --timeout 30
  PIDS[$i]=$DP_PID
done
for i in 1 2 3; do
  dp_wait_line "$DD_TMP/n$i.log" '^DONE' 240 || dd_fail "node $i did not finish"
done
for i in 1 2 3; do
  next=$(( i % 3 + 1 ))
  dd_check_grep "node $i reached node $next over DPDK" \
    '^RESULT source phase=connect connected=1 carrier=dpdk' "$DD_TMP/n$i.log"
  dp_check_phase "$i -> $next" "$DD_TMP/n$i.log" main
  line=$(dp_line "$DD_TMP/n$i.log" '^RESULT source phase=main ')
  dp_check_cmp "node $next got no foreign message" "$(dp_field "$line" foreign)" -eq 0
done
dp_stop "${PIDS[@]}"
for i in 1 2 3; do
  dd_check_no_grep "node $i: no message out of order" 'expected [0-9]+$' "$DD_TMP/n$i.log"
  dd_check_grep "node $i: its port carried the traffic" 'port: rx [0-9]{4,} frames' "$DD_TMP/n$i.log"
done
dd_done

#!/bin/bash
# show_eal_args: `dpdist-config show` prints every example's effective configuration in a
# form that checks clean and shows back identically; `eal-args` gives the EAL arguments the
# node will use (exact vectors for the demo pair, the netns node and an Intel NIC); `get`
# prints one value for scripts. Starts nothing.
source "$(dirname "$0")/../lib/common.sh"
dd_test_init show_eal_args

DDC="$DPDIST_BUILD/tools/dpdist-config"
CONFIGS="$DPDIST_SRC/configs"

for f in "$CONFIGS"/*.ini; do
  name=$(basename "$f" .ini)
  "$DDC" show "$f" >"$DD_TMP/$name.show" 2>"$DD_TMP/$name.err"
  dd_check "$name: show succeeds" test $? -eq 0
  "$DDC" check --no-system "$DD_TMP/$name.show" >"$DD_TMP/$name.recheck" 2>&1
  dd_check "$name: show's output checks clean" test $? -eq 0
  dd_check_no_grep "$name: show's output has no warnings" ': warning: ' "$DD_TMP/$name.recheck"
  "$DDC" show "$DD_TMP/$name.show" >"$DD_TMP/$name.show2" 2>&1
  dd_check "$name: show of show is the same (but the header)" \
    diff <(tail -n +2 "$DD_TMP/$name.show") <(tail -n +2 "$DD_TMP/$name.show2")
  dd_check "$name: lines stay short" test "$(awk 'length > 100' "$DD_TMP/$name.show" | wc -l)" -eq 0
done

# defaults and derived values are filled in
s="$DD_TMP/local-memif-a.show"
dd_check_grep "show: the file's value" '^file_prefix = dd-demo-a$' "$s"
dd_check_grep "show: a derived value" '^main_lcore = 0$' "$s"
dd_check_grep "show: a default" '^hb_interval_us = 10000$' "$s"
dd_check_grep "show: its comment" '^# \(integer; default 10000\)$' "$s"
dd_check_grep "show: an unset key" '^# name =$' "$s"
dd_check_grep "show: no fault injection" '^# \[fault\]$' "$s"
dd_check_grep "show: derived file prefix" '^file_prefix = dpdist-dd1$' "$DD_TMP/netns-afpacket-1.show"
dd_check_grep "show: derived listen range end" '^listen_port_max = 4389$' "$DD_TMP/netns-afpacket-1.show"
printf '[node]\nsname = tcp\n' >"$DD_TMP/tcp.ini"
"$DDC" show "$DD_TMP/tcp.ini" >"$DD_TMP/tcp.show"
dd_check_grep "show: no [port] is commented out" '^# \[port\]$' "$DD_TMP/tcp.show"
dd_check_grep "show: and says why" 'this node runs TCP distribution only' "$DD_TMP/tcp.show"

# eal-args: exact vectors
expect_args() {
  local name=$1; shift
  "$DDC" eal-args "$CONFIGS/$name" >"$DD_TMP/$name.args" 2>&1
  dd_check "$name: eal-args succeeds" test $? -eq 0
  if diff <(printf '%s\n' "$@") "$DD_TMP/$name.args" >"$DD_TMP/$name.args.diff"; then
    dd_pass "$name: eal-args as expected"
  else
    dd_fail "$name: eal-args differ"; sed 's/^/#   /' "$DD_TMP/$name.args.diff"
  fi
}
expect_args local-memif-a.ini -l 0 --main-lcore 0 --no-huge -m 128 --file-prefix dd-demo-a \
  --no-pci --vdev net_memif0,role=server,id=0,socket=/tmp/dpdist-demo.memif,socket-abstract=no,bsize=9216
expect_args local-memif-b.ini -l 1 --main-lcore 1 --no-huge -m 128 --file-prefix dd-demo-b \
  --no-pci --vdev net_memif0,role=client,id=0,socket=/tmp/dpdist-demo.memif,socket-abstract=no,bsize=9216
expect_args netns-afpacket-2.ini -l 1 --main-lcore 1 --no-huge -m 128 --file-prefix dpdist-dd2 \
  --no-pci --vdev net_af_packet0,iface=ddveth2,qpairs=2
expect_args vfio-i40e.ini -l 2,4 --main-lcore 2 --socket-mem 1024,0 --file-prefix dpdist-app1 \
  -a 0000:3b:00.0 -n 4
expect_args mlx5-bifurcated.ini -l 9,11 --main-lcore 9 --socket-mem 0,1024 \
  --file-prefix dpdist-app3 -a 0000:af:00.0

# get
dd_check "get: a value" test "$("$DDC" get "$CONFIGS/vfio-ice.ini" port.pci)" = 0000:d8:00.0
dd_check "get: a default" test "$("$DDC" get "$CONFIGS/vfio-ice.ini" lanes.max_flows)" = 64
dd_check "get: an unset key prints nothing" test -z "$("$DDC" get "$CONFIGS/local-memif-a.ini" port.pci)"
"$DDC" get "$CONFIGS/local-memif-a.ini" port.nothing >/dev/null 2>&1
dd_check "get: an unknown key is a usage error" test $? -eq 2

# a broken file gives no arguments at all
printf '[node]\nsname = x\n[eal]\nlcores = 0-\n' >"$DD_TMP/broken.ini"
"$DDC" eal-args "$DD_TMP/broken.ini" >"$DD_TMP/broken.args" 2>"$DD_TMP/broken.err"
dd_check "eal-args of a broken file fails" test $? -eq 1
dd_check "eal-args of a broken file prints no argument" test ! -s "$DD_TMP/broken.args"
dd_check_grep "eal-args of a broken file says why" 'broken.ini:4: error: \[eal\] lcores' "$DD_TMP/broken.err"

dd_done

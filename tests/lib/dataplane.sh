# shellcheck shell=bash
# Helpers of the data-plane and fault tests (tests/dataplane, tests/fault), on top of
# common.sh: node configs for a memif pair, dd_stress processes, RESULT lines, and the
# network-namespace topology. Source common.sh first.

DD_STRESS="$DPDIST_BUILD/tests/dataplane/dd_stress"
DD_COOKIE=${DD_COOKIE:-dpdistcookie}

# dp_memif_pair NAME_A NAME_B [EXTRA_INI]: writes $DD_TMP/NAME_A.ini (memif server, CPU 0)
# and $DD_TMP/NAME_B.ini (client, CPU 1) with unique node names (NAME + run id), EAL file
# prefixes and socket; EXTRA_INI (sections and keys, e.g. "[lanes]\nhb_interval_us = 1000")
# is appended to both. Sets DP_NODE_A, DP_NODE_B (full node names).
dp_memif_pair() {
  local a=$1 b=$2 extra=${3:-}
  local host sock="$DD_TMP/memif-$a-$b.sock"
  host=$(dd_short_host)
  DP_NODE_A="$a$DD_RUN_ID@$host"
  DP_NODE_B="$b$DD_RUN_ID@$host"
  local role name cpu ip last n=0
  for name in "$a" "$b"; do
    if [ $n -eq 0 ]; then role=server; cpu=0; ip=10.88.0.1; last=01; else
      role=client; cpu=1; ip=10.88.0.2; last=02; fi
    {
      printf '[node]\nsname = %s\n' "$name$DD_RUN_ID"
      printf '[eal]\nlcores = %s\nno_huge = true\nmem_mb = 512\nfile_prefix = ddt-%s-%s\n' \
        "$cpu" "$DD_RUN_ID" "$name"
      printf '[port]\nvdev = net_memif0,role=%s,id=0,socket=%s,socket-abstract=no\n' "$role" "$sock"
      printf 'ip = %s\nudp_port = 4370\nmac = 02:dd:00:00:00:%s\n' "$ip" "$last"
      printf '%b\n' "$extra"
    } >"$DD_TMP/$name.ini"
    dd_on_exit "rm -rf /var/run/dpdk/ddt-$DD_RUN_ID-$name"
    n=1
  done
  dd_on_exit "rm -f '$sock'"
}

# dp_start NAME CPU LOG [dd_stress args...]: dd_stress with $DD_TMP/NAME.ini pinned to CPU
# (empty: not pinned), registered with the EPMD on $EPMD_PORT; waits for READY (or for the
# process to end); sets DP_PID. Returns 1 if it did not get ready.
dp_start() {
  local name=$1 cpu=$2 log=$3; shift 3
  local pin=()
  [ -n "$cpu" ] && pin=(taskset -c "$cpu")
  ERL_EPMD_PORT=$EPMD_PORT "${pin[@]}" "$DD_STRESS" -config "$DD_TMP/$name.ini" \
    -setcookie "$DD_COOKIE" "$@" >"$log" 2>&1 &
  DP_PID=$!
  dd_track $DP_PID
  local i
  for i in $(seq 1 300); do
    grep -q '^READY' "$log" && return 0
    kill -0 $DP_PID 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# dp_start_round ROUND BCPU B-ARGS...: one round of a memif pair made by dp_memif_pair a b:
# node A (`serve`, CPU 0, log $DD_TMP/aROUND.log) and node B (CPU BCPU, log
# $DD_TMP/bROUND.log) running B-ARGS, which must print B's connect RESULT line; waits until B
# reached A over DPDK. Sets PA and PB. On failure reports it, kills what it started, returns 1.
dp_start_round() {
  local round=$1 bcpu=$2; shift 2
  local la="$DD_TMP/a$round.log" lb="$DD_TMP/b$round.log"
  rm -f "$DD_TMP/memif-a-b.sock" # a killed server leaves its socket file behind
  if ! dp_start a 0 "$la" serve; then
    dd_fail "round $round: node A starts"; tail -n 5 "$la" | sed 's/^/#   /'; return 1
  fi
  PA=$DP_PID
  if ! dp_start b "$bcpu" "$lb" "$@"; then
    dd_fail "round $round: node B starts"; tail -n 5 "$lb" | sed 's/^/#   /'
    kill -KILL "$PA" 2>/dev/null; wait "$PA" 2>/dev/null; return 1
  fi
  PB=$DP_PID
  if ! dp_wait_line "$lb" '^RESULT stream phase=connect connected=1 carrier=dpdk' 20; then
    dd_fail "round $round: B reached A over DPDK"; tail -n 5 "$lb" | sed 's/^/#   /'
    echo "#   node A:"; tail -n 40 "$la" | sed 's/^/#   /'
    kill -KILL "$PA" "$PB" 2>/dev/null; wait "$PA" "$PB" 2>/dev/null; return 1
  fi
  return 0
}

# dp_wait PID SECONDS: waits for a process to end, killing it after SECONDS; returns its
# status (124 when it had to be killed).
dp_wait() {
  local pid=$1 limit=$2 i
  for i in $(seq 1 $((limit * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null
      return $?
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 124
}

# dp_bulk_round WHAT LOG_A LOG_B SEED: a round of a memif pair made by dp_memif_pair a b:
# node A serves, node B sends 2 senders x 2 messages of 64 MiB to it and stops it; checks
# that both exit 0 and every message arrived once, in order and intact ("WHAT: ..." checks).
dp_bulk_round() {
  local what=$1 la=$2 lb=$3 seed=$4
  dd_check "$what: node A starts" dp_start a 0 "$la" serve
  PA=$DP_PID
  dd_check "$what: node B starts" dp_start b 1 "$lb" source --to "$DP_NODE_A" --senders 2 \
    --count 4 --dist 67108864 --max 67108864 --seed "$seed" --stop-peer 1
  PB=$DP_PID
  dp_wait "$PB" 150
  dd_check "$what: the 64 MiB sender finished (exit 0)" test $? -eq 0
  dp_check_phase "$what: 64 MiB messages B -> A" "$lb" main
  dp_wait "$PA" 20
  dd_check "$what: the receiver, stopped by its peer, exits 0" test $? -eq 0
  dd_check_no_grep "$what: no message was reported out of order" 'expected [0-9]+$' "$la"
}

# dp_line LOG PATTERN: the last line of LOG matching the extended regex PATTERN.
dp_line() { grep -E -- "$2" "$1" | tail -n 1; }

# dp_field LINE KEY: the value of KEY=value in LINE (empty when absent).
dp_field() {
  local line=$1 key=$2
  sed -nE "s/.*(^| )$key=([^ ]*).*/\\2/p" <<<"$line" | head -n 1
}

# dp_check_cmp "description" A OP B  (integers or decimals; OP one of -lt -le -eq -ge -gt)
dp_check_cmp() {
  local desc=$1 a=$2 op=$3 b=$4 r
  if [ -z "$a" ] || [ -z "$b" ]; then dd_fail "$desc (missing value: '$a' $op '$b')"; return; fi
  case $op in
    -lt) r=$(awk -v a="$a" -v b="$b" 'BEGIN{print (a<b)}') ;;
    -le) r=$(awk -v a="$a" -v b="$b" 'BEGIN{print (a<=b)}') ;;
    -eq) r=$(awk -v a="$a" -v b="$b" 'BEGIN{print (a==b)}') ;;
    -ge) r=$(awk -v a="$a" -v b="$b" 'BEGIN{print (a>=b)}') ;;
    -gt) r=$(awk -v a="$a" -v b="$b" 'BEGIN{print (a>b)}') ;;
  esac
  if [ "$r" = 1 ]; then dd_pass "$desc ($a $op $b)"; else dd_fail "$desc ($a $op $b is false)"; fi
}

# dp_check_phase "what" LOG PHASE: the checks every source phase must pass: complete, every
# message delivered exactly once and in order per sender, intact, over DPDK.
dp_check_phase() {
  local what=$1 log=$2 phase=$3 line
  line=$(dp_line "$log" "^RESULT source phase=$phase ")
  if [ -z "$line" ]; then
    dd_fail "$what: no result for phase $phase"; tail -n 20 "$log" | sed 's/^/#   /'; return
  fi
  echo "# $line"
  dp_check_cmp "$what: the peer has every sequence number of every sender" \
    "$(dp_field "$line" complete)" -eq 1
  dp_check_cmp "$what: messages received = sent (all phases)" "$(dp_field "$line" msgs)" -eq \
    "$(dp_field "$line" total_sent)"
  dp_check_cmp "$what: bytes received = sent (all phases)" "$(dp_field "$line" bytes)" -eq \
    "$(dp_field "$line" total_sent_bytes)"
  dp_check_cmp "$what: the data plane acknowledged at least every message" \
    "$(dp_field "$line" dp_tx_msgs)" -ge "$(dp_field "$line" sent)"
  dp_check_cmp "$what: no duplicate" "$(dp_field "$line" dups)" -eq 0
  dp_check_cmp "$what: no gap or reordering" "$(dp_field "$line" gaps)" -eq 0
  dp_check_cmp "$what: no damaged message" "$(dp_field "$line" corrupt)" -eq 0
  dp_check_cmp "$what: no send error" "$(dp_field "$line" send_errors)" -eq 0
  dp_check_cmp "$what: the peer never went down" "$(dp_field "$line" nodedowns)" -eq 0
  dd_check "$what: still on DPDK" test "$(dp_field "$line" carrier)" = dpdk
}

# dp_wait_line LOG PATTERN SECONDS: waits until LOG has a line matching PATTERN.
dp_wait_line() {
  local log=$1 pat=$2 limit=$3 i
  for i in $(seq 1 $((limit * 10))); do
    grep -qE -- "$pat" "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# dp_stop PID...: SIGTERM, then waits (a node stopping cleanly takes a moment).
dp_stop() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "$@"; do dp_wait "$pid" 10; done
}

# ---- network namespaces --------------------------------------------------------------------

# dp_need_root: skips the test (exit 77, meson's SKIP) with the reason when not root, without
# the ip tool, or when this machine cannot make namespaces, veth pairs or bridges.
dp_need_root() {
  if [ "$(id -u)" != 0 ]; then echo "# SKIP: needs root (network namespaces)"; exit 77; fi
  command -v ip >/dev/null || { echo "# SKIP: no ip(8)"; exit 77; }
  local ns="ddprobe$$" ok=1
  ip netns add "$ns" 2>/dev/null || ok=0
  if [ $ok = 1 ]; then
    ip -n "$ns" link add br0 type bridge 2>/dev/null &&
      ip -n "$ns" link add v0 type veth peer name v1 2>/dev/null || ok=2
    ip netns del "$ns"
  fi
  case $ok in
    0) echo "# SKIP: cannot create network namespaces here"; exit 77 ;;
    2) echo "# SKIP: cannot create bridges or veth pairs here"; exit 77 ;;
  esac
}

# dp_netns_up N: N namespaces ${DP_NS[i]} (i = 1..N), each with a veth whose other end sits
# in a bridge inside one more namespace ($DP_NS_SW): a multi-peer L2 segment. Kernel
# addresses 10.66.1.i/24 (TCP: EPMD, distribution), data-plane addresses 10.66.2.i (never
# configured in a kernel, so the kernels ignore dpdist frames). Everything goes when the
# test ends (deleting the namespaces deletes their links and the bridge).
dp_netns_up() {
  local n=$1 i ns
  DP_NS=()
  DP_NS_SW="ddsw$DD_RUN_ID"
  ip netns add "$DP_NS_SW" || return 1
  dd_on_exit "ip netns del $DP_NS_SW"
  ip -n "$DP_NS_SW" link add br0 type bridge || return 1
  ip -n "$DP_NS_SW" link set br0 up || return 1
  ip -n "$DP_NS_SW" link set lo up
  for i in $(seq 1 "$n"); do
    ns="ddn$DD_RUN_ID$i"
    DP_NS[$i]=$ns
    ip netns add "$ns" || return 1
    dd_on_exit "ip netns del $ns"
    ip link add "dv$DD_RUN_ID$i" netns "$ns" type veth peer name "dp$i" netns "$DP_NS_SW" ||
      return 1
    ip -n "$DP_NS_SW" link set "dp$i" master br0 up || return 1
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "dv$DD_RUN_ID$i" name eth0
    ip -n "$ns" addr add "10.66.1.$i/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
  done
}

# dp_netns_config I NAME [EXTRA_INI]: config $DD_TMP/NAME.ini for node NAME$DD_RUN_ID@10.66.1.I
# in namespace I: af_packet on its eth0, data plane at 10.66.2.I, CPU (I+1) % 2.
dp_netns_config() {
  local i=$1 name=$2 extra=${3:-}
  {
    printf '[node]\nname = %s@10.66.1.%s\nlisten_address = 10.66.1.%s\n' "$name$DD_RUN_ID" "$i" "$i"
    printf '[eal]\nlcores = %s\nno_huge = true\nmem_mb = 256\nfile_prefix = ddt-%s-%s\n' \
      $(((i + 1) % 2)) "$DD_RUN_ID" "$name"
    printf '[port]\nvdev = net_af_packet0,iface=eth0,qpairs=2\nip = 10.66.2.%s\nudp_port = 4370\n' "$i"
    printf '[mempool]\nmbuf_count = 16383\n'
    printf '%b\n' "$extra"
  } >"$DD_TMP/$name.ini"
  dd_on_exit "rm -rf /var/run/dpdk/ddt-$DD_RUN_ID-$name"
}

# dp_netns_epmd I: dpdist-epmd inside namespace I on port $EPMD_PORT (the same port number
# in every namespace: each is its own host).
dp_netns_epmd() {
  local i=$1
  ip netns exec "${DP_NS[$i]}" "$DPDIST_BUILD/tools/dpdist-epmd" -port "$EPMD_PORT" \
    >"$DD_TMP/epmd$i.log" 2>&1 &
  dd_track $!
  local k
  for k in $(seq 1 100); do
    ip netns exec "${DP_NS[$i]}" ss -Hltn "( sport = :$EPMD_PORT )" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}

# dp_netns_start I NAME LOG [dd_stress args...]: dd_stress in namespace I with
# $DD_TMP/NAME.ini, pinned to CPU (I+1) % 2; waits for READY; sets DP_PID.
dp_netns_start() {
  local i=$1 name=$2 log=$3; shift 3
  ERL_EPMD_PORT=$EPMD_PORT ip netns exec "${DP_NS[$i]}" taskset -c $(((i + 1) % 2)) \
    "$DD_STRESS" -config "$DD_TMP/$name.ini" -setcookie "$DD_COOKIE" "$@" >"$log" 2>&1 &
  DP_PID=$!
  dd_track $DP_PID
  local k
  for k in $(seq 1 300); do
    grep -q '^READY' "$log" && return 0
    kill -0 $DP_PID 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

#!/bin/bash
# node_refuses: a node given a broken configuration stops before it touches anything, with
# the same messages as `dpdist-config check`.
# Starts: dpdist-config (check, eal-args) and the node binary itself (dpdist-echo -config
# FILE) on two broken files: one broken in the file (a typo, a missing IP), one broken only
# for this machine (a CPU it does not have). Nothing else runs: no EPMD is needed, as the node
# must stop before it registers.
# Checks: check and eal-args refuse (exit 1, no EAL arguments for a launcher); the node
# refuses with exit status 78 (EX_CONFIG, which the systemd unit does not restart on) and
# prints every error line that check printed; and there are
# no side effects: no EAL runtime directory, no memif socket, no hugepage taken, no driver
# binding changed, no process left.
source "$(dirname "$0")/../lib/common.sh"
dd_test_init node_refuses

DDC="$DPDIST_BUILD/tools/dpdist-config"
SOCK="$DD_TMP/refuse.memif"
PREFIX="dd-refuse-$DD_RUN_ID"

snapshot() {
  {
    cat /sys/kernel/mm/hugepages/hugepages-*/free_hugepages 2>/dev/null
    for d in /sys/bus/pci/devices/*; do echo "$d $(readlink "$d/driver" 2>/dev/null)"; done
    ls -d /var/run/dpdk/* /run/dpdk/* 2>/dev/null
    grep hugetlbfs /proc/mounts
  } >"$1"
}
snapshot "$DD_TMP/before"

# broken in the file: a typo and a missing IP
cat >"$DD_TMP/typo.ini" <<INI
[node]
sname = refuse
[eal]
lcroes = 0
no_huge = true
file_prefix = $PREFIX
[port]
vdev = net_memif0,role=server,socket=$SOCK,socket-abstract=no
INI
# fine as a file, but not for this machine: a CPU it does not have
cat >"$DD_TMP/machine.ini" <<INI
[node]
sname = refuse
[eal]
lcores = 0,127
no_huge = true
file_prefix = $PREFIX
[port]
vdev = net_memif0,role=server,socket=$SOCK,socket-abstract=no
ip = 10.0.0.1
INI

for f in typo machine; do
  "$DDC" check "$DD_TMP/$f.ini" >"$DD_TMP/$f.out" 2>&1
  dd_check "$f: refused (exit 1)" test $? -eq 1
  "$DDC" eal-args "$DD_TMP/$f.ini" >"$DD_TMP/$f.args" 2>/dev/null
  rc=$?
  if [ $f = typo ]; then
    dd_check "$f: no EAL arguments for a launcher" test $rc -eq 1 -a ! -s "$DD_TMP/$f.args"
  fi
done
dd_check_grep "typo: the typo, with the fix" 'typo.ini:4: error: \[eal\] lcroes: unknown key; did you mean `lcores`\? fix: rename it to lcores' "$DD_TMP/typo.out"
dd_check_grep "typo: the missing address" 'typo.ini:7: error: \[port\] ip: the data plane has no IPv4 address' "$DD_TMP/typo.out"
dd_check_grep "machine: the CPU it does not have" 'machine.ini:4: error: \[eal\] lcores: CPU 127 does not exist on this machine' "$DD_TMP/machine.out"

# The node itself, on the same files: it refuses with the same error lines.
NOEPMD=$(dd_free_port)
for f in typo machine; do
  ERL_EPMD_PORT=$NOEPMD timeout 30 "$DPDIST_BUILD/tools/dpdist-echo" -config "$DD_TMP/$f.ini" \
    -setcookie refusecookie >"$DD_TMP/$f.node" 2>&1
  rc=$?
  dd_check "$f: the node refuses to start with EX_CONFIG (exit $rc, 78 expected)" test $rc -eq 78
  dd_check_no_grep "$f: the node never got ready" 'ready' "$DD_TMP/$f.node"
  n=0
  while IFS= read -r line; do
    n=$((n + 1))
    if grep -qF -- "$line" "$DD_TMP/$f.node"; then
      dd_pass "$f: the node prints check's error $n"
    else
      dd_fail "$f: the node prints check's error $n: $line"; sed 's/^/#   /' "$DD_TMP/$f.node"
    fi
  done < <(grep ': error: ' "$DD_TMP/$f.out")
  dd_check "$f: check printed errors to compare with" test "$n" -gt 0
done

snapshot "$DD_TMP/after"
dd_check "no memif socket was created" test ! -e "$SOCK"
dd_check "no EAL runtime directory was created" test ! -e "/var/run/dpdk/$PREFIX" -a ! -e "/run/dpdk/$PREFIX"
if diff "$DD_TMP/before" "$DD_TMP/after" >"$DD_TMP/diff"; then
  dd_pass "hugepages, driver bindings, DPDK runtime dirs and mounts unchanged"
else
  dd_fail "the machine changed"; sed 's/^/#   /' "$DD_TMP/diff"
fi
dd_check "no process left behind" test -z "$(pgrep -f "$PREFIX" || true)"

dd_done

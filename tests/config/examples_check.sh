#!/bin/bash
# examples_check: every example in configs/ passes `dpdist-config check`. Starts nothing.
#   - the local ones (memif pair, netns af_packet trio) with the system checks on this
#     machine (2 CPUs; the af_packet veths need not exist: that is a warning), alone and
#     together (clashes between the nodes of one host);
#   - the hardware ones with --no-system, and against a fake sysfs/procfs tree
#     (tests/config/fake_sys.sh) that has their NICs on the right NUMA nodes, so the
#     system checks pass through their positive path.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/fake_sys.sh"
dd_test_init examples_check

DDC="$DPDIST_BUILD/tools/dpdist-config"
CONFIGS="$DPDIST_SRC/configs"
LOCAL=(local-memif-a.ini local-memif-b.ini netns-afpacket-1.ini netns-afpacket-2.ini netns-afpacket-3.ini)
HARDWARE=(vfio-i40e.ini vfio-ice.ini mlx5-bifurcated.ini)
AGENT=(agent-loopback.ini agent-memif-a.ini agent-memif-b.ini)

# check_ok DESC OUT ARGS...: exit 0 and no error lines
check_ok() {
  local desc=$1 out=$2; shift 2
  "$DDC" check "$@" >"$out" 2>&1
  local rc=$?
  dd_check "$desc: exit 0" test $rc -eq 0
  dd_check_no_grep "$desc: no errors" ': error: ' "$out"
}

# every example is in one of the lists (a new one must be added here)
for f in "$CONFIGS"/*.ini; do
  name=$(basename "$f")
  dd_check "$name is tested" grep -qw "$name" <<<"${LOCAL[*]} ${HARDWARE[*]} ${AGENT[*]}"
done

for f in "${LOCAL[@]}"; do
  check_ok "$f on this machine" "$DD_TMP/$f.out" "$CONFIGS/$f"
done
check_ok "the memif pair together" "$DD_TMP/memif.out" "$CONFIGS"/local-memif-{a,b}.ini
dd_check_no_grep "the memif pair: not even a warning" ': warning: ' "$DD_TMP/memif.out"
check_ok "the netns trio together" "$DD_TMP/netns.out" "$CONFIGS"/netns-afpacket-{1,2,3}.ini
# on 2 CPUs nodes 1 and 3 share CPU 0: said, but allowed
dd_check_grep "the netns trio: shared CPU noticed" \
  "netns-afpacket-3.ini:[0-9]+: warning: \[eal\] lcores: lcore 0 is also used by" "$DD_TMP/netns.out"

for f in "${HARDWARE[@]}"; do
  check_ok "$f without system checks" "$DD_TMP/$f.nosys" --no-system "$CONFIGS/$f"
  dd_check_no_grep "$f without system checks: no warnings" ': warning: ' "$DD_TMP/$f.nosys"
done

# the agent's examples: as written, and with system checks for a socket in a directory of
# this test (the example's /run/dpdist exists only under the service unit)
for f in "${AGENT[@]}"; do
  check_ok "$f without system checks" "$DD_TMP/$f.nosys" --no-system "$CONFIGS/$f"
  dd_check_no_grep "$f without system checks: no warnings" ': warning: ' "$DD_TMP/$f.nosys"
  mkdir -p "$DD_TMP/run" && chmod 755 "$DD_TMP/run"
  sed "s|^socket = .*|socket = $DD_TMP/run/agent.sock|" "$CONFIGS/$f" >"$DD_TMP/$f"
  check_ok "$f on this machine (socket under $DD_TMP/run)" "$DD_TMP/$f.sys" "$DD_TMP/$f"
done
check_ok "the agents' memif pair together" "$DD_TMP/agent-memif.out" --no-system \
  "$CONFIGS"/agent-memif-{a,b}.ini
dd_check_no_grep "the agents' memif pair: not even a warning" ': warning: ' "$DD_TMP/agent-memif.out"

# the fake machine the hardware examples were written for
fake_sys "$DD_TMP/machine"
export DPDIST_SYSFS_ROOT="$DD_TMP/machine/sys" DPDIST_PROCFS_ROOT="$DD_TMP/machine/proc"
for f in "${HARDWARE[@]}"; do
  check_ok "$f on the fake machine" "$DD_TMP/$f.fake" "$CONFIGS/$f"
  dd_check_no_grep "$f on the fake machine: no warnings" ': warning: ' "$DD_TMP/$f.fake"
done
check_ok "the hardware examples together on the fake machine" "$DD_TMP/hw.out" \
  "${HARDWARE[@]/#/$CONFIGS/}"

# and the same files fail on the fake machine when it does not fit them: the system
# checks really ran (details in system_checks.sh)
fake_pci_driver "$DD_TMP/machine" 0000:3b:00.0 i40e
"$DDC" check "$CONFIGS/vfio-i40e.ini" >"$DD_TMP/i40e-bound.out" 2>&1
dd_check "vfio-i40e.ini fails when its NIC is bound to i40e" test $? -eq 1
dd_check_grep "  ... naming the driver" "0000:3b:00.0 is bound to i40e, another driver; it needs vfio-pci" \
  "$DD_TMP/i40e-bound.out"

dd_done

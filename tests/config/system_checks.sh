#!/bin/bash
# system_checks: `dpdist-config check` compares a configuration with the machine, read from
# a fake sysfs/procfs tree (tests/config/fake_sys.sh, through DPDIST_SYSFS_ROOT and
# DPDIST_PROCFS_ROOT). Starts nothing, touches no device. Each case changes one thing of
# the fake machine the hardware examples fit, and expects that problem, with its fix.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/fake_sys.sh"
dd_test_init system_checks

DDC="$DPDIST_BUILD/tools/dpdist-config"
CONFIGS="$DPDIST_SRC/configs"
M="$DD_TMP/machine"

fresh() { rm -rf "$M"; fake_sys "$M"; }
export DPDIST_SYSFS_ROOT="$M/sys" DPDIST_PROCFS_ROOT="$M/proc"

# expect_fail NAME CONFIG PATTERN...: check exits 1 and prints each pattern
expect_fail() {
  local name=$1 cfg=$2 pat; shift 2
  "$DDC" check "$cfg" >"$DD_TMP/$name.out" 2>&1
  dd_check "$name: check exits 1" test $? -eq 1
  for pat in "$@"; do dd_check_grep "$name: $pat" "$pat" "$DD_TMP/$name.out"; done
}

fresh
rm -rf "$M/sys/bus/pci/devices/0000:3b:00.0"
expect_fail missing-device "$CONFIGS/vfio-i40e.ini" \
  "vfio-i40e.ini:[0-9]+: error: \[port\] pci: no PCI device 0000:3b:00.0 on this machine. fix: find the port with .dpdk-devbind.py --status."

fresh
fake_pci_driver "$M" 0000:3b:00.0 i40e
mkdir -p "$M/sys/bus/pci/devices/0000:3b:00.0/net/ens1f0"
echo up >"$M/sys/bus/pci/devices/0000:3b:00.0/net/ens1f0/operstate"
expect_fail kernel-driver "$CONFIGS/vfio-i40e.ini" \
  "error: \[port\] pci: 0000:3b:00.0 is bound to i40e, another driver; it needs vfio-pci \(interface ens1f0, up\)" \
  "fix: make sure nothing uses ens1f0 \(is it your SSH link\?\)"

fresh
fake_pci_driver "$M" 0000:d8:00.0 ""
expect_fail unbound "$CONFIGS/vfio-ice.ini" \
  "error: \[port\] pci: 0000:d8:00.0 is not bound to any driver; it needs vfio-pci. fix: run configs/setup-host"

fresh
fake_pci "$M" 0000:3b:00.0 0x8086 0x1583 1 vfio-pci 30
expect_fail numa "$CONFIGS/vfio-i40e.ini" \
  "error: \[eal\] lcores: polling lcore 4 is on NUMA node 0, the NIC 0000:3b:00.0 on node 1. fix: poll from CPUs of node 1: 1,3,5,7,9,11,13,15" \
  "error: \[eal\] socket_mem: no memory on NUMA node 1, where the NIC is"
dd_check_no_grep "numa: the main lcore is not a poller" "polling lcores 2" "$DD_TMP/numa.out"

fresh
fake_free_pages "$M" 1 100
expect_fail hugepages "$CONFIGS/vfio-ice.ini" \
  "error: \[eal\] socket_mem: NUMA node 1 has 200 MiB of free hugepages, 2048 are asked for. fix: reserve 924 more 2 MiB pages on node 1"

fresh
grep -v hugetlbfs "$M/proc/mounts" >"$M/proc/mounts.new" && mv "$M/proc/mounts.new" "$M/proc/mounts"
expect_fail no-mount "$CONFIGS/mlx5-bifurcated.ini" "error: \[eal\] socket_mem: no hugetlbfs is mounted"

fresh
echo 0-3 >"$M/sys/devices/system/cpu/online"
expect_fail offline "$CONFIGS/vfio-i40e.ini" "error: \[eal\] lcores: CPU 4 is offline"
echo 0-7 >"$M/sys/devices/system/cpu/present"
echo 0-7 >"$M/sys/devices/system/cpu/online"
expect_fail absent "$CONFIGS/mlx5-bifurcated.ini" \
  "error: \[eal\] lcores: CPUs 9,11 do not exist on this machine \(online: 0-7\). fix: choose lcores among 0-7"

fresh
sed 's/^driver = kernel/driver = vfio-pci/' "$CONFIGS/mlx5-bifurcated.ini" >"$DD_TMP/mlx5-vfio.ini"
expect_fail mlx5-vfio "$DD_TMP/mlx5-vfio.ini" \
  "error: \[port\] driver: 0000:af:00.0 is a Mellanox device: the mlx5 driver works with the kernel driver kept"

fresh
fake_socket "$M" udp 192.168.70.13 4370 07
expect_fail udp-clash "$CONFIGS/mlx5-bifurcated.ini" \
  "error: \[port\] udp_port: a local socket already uses UDP port 4370 on 192.168.70.13"
# vfio-pci takes the port from the kernel: a kernel socket there cannot clash
fake_socket "$M" udp 192.168.50.11 4370 07
"$DDC" check "$CONFIGS/vfio-i40e.ini" >"$DD_TMP/vfio-udp.out" 2>&1
dd_check "vfio: a kernel UDP socket on the port is no clash" test $? -eq 0

fresh
for p in $(seq 4380 4399); do fake_socket "$M" tcp 0.0.0.0 "$p" 0A; done
expect_fail listen-full "$CONFIGS/vfio-ice.ini" \
  "error: \[node\] listen_port_min: every TCP port from 4380 to 4399 already has a listener"

fresh
rm -f "$M/sys/bus/pci/devices/0000:3b:00.0/iommu_group"
"$DDC" check "$CONFIGS/vfio-i40e.ini" >"$DD_TMP/iommu.out" 2>&1
dd_check "no IOMMU group: a warning, check passes" test $? -eq 0
dd_check_grep "no IOMMU group: said" "warning: \[port\] pci: 0000:3b:00.0 has no IOMMU group, which vfio-pci needs" "$DD_TMP/iommu.out"

# the cookie file (a real file: it is not in sysfs)
fresh
printf 'SECRET' >"$DD_TMP/cookie"; chmod 644 "$DD_TMP/cookie"
printf '[node]\nsname = c\ncookie_file = %s\n' "$DD_TMP/cookie" >"$DD_TMP/cookie.ini"
expect_fail cookie-mode "$DD_TMP/cookie.ini" \
  "cookie.ini:3: error: \[node\] cookie_file: .*cookie can be read by others \(mode 644\); erl refuses such cookie files. fix: chmod 400"
chmod 400 "$DD_TMP/cookie"
"$DDC" check "$DD_TMP/cookie.ini" >"$DD_TMP/cookie-ok.out" 2>&1
dd_check "cookie file with mode 400 passes" test $? -eq 0

# an agent's socket directory and the users and groups it names (real files and databases)
mkdir -p "$DD_TMP/agentdir" && chmod 777 "$DD_TMP/agentdir"
printf '[agent]\nsocket = %s/agent.sock\nallow_uids = root,nosuchuser%s\nallow_gids = 0\n' \
  "$DD_TMP/agentdir" "$RANDOM" >"$DD_TMP/agent.ini"
expect_fail agent-dir-and-users "$DD_TMP/agent.ini" \
  "agent.ini:2: error: \[agent\] socket: the socket's directory .*agentdir is writable by every user \(mode 0777\).* fix: chmod o-w" \
  "agent.ini:3: error: \[agent\] allow_uids: there is no user .nosuchuser[0-9]*. here"
printf '[agent]\nsocket = %s/nodir/agent.sock\n' "$DD_TMP" >"$DD_TMP/agent2.ini"
expect_fail agent-no-dir "$DD_TMP/agent2.ini" \
  "agent2.ini:2: error: \[agent\] socket: the socket's directory .*nodir does not exist"
chmod 755 "$DD_TMP/agentdir"
printf '[agent]\nsocket = %s/agent.sock\nallow_uids = root,0\nsocket_group = root\n' \
  "$DD_TMP/agentdir" >"$DD_TMP/agent3.ini"
"$DDC" check "$DD_TMP/agent3.ini" >"$DD_TMP/agent3.out" 2>&1
dd_check "an agent with a private socket directory and known users passes" test $? -eq 0

# --no-system skips all of it
fresh
rm -rf "$M/sys/bus/pci/devices"
"$DDC" check --no-system "$CONFIGS/vfio-i40e.ini" >"$DD_TMP/nosys.out" 2>&1
dd_check "--no-system does not look at the machine" test $? -eq 0

dd_done

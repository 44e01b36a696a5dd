#!/bin/bash
# setup_host: configs/setup-host.
#   1. --dry-run on this machine, with the examples: what it says, and that nothing on the
#      machine changed (hugepages, mounts, modules, bindings, the files it would write).
#   2. --dry-run against a fake sysfs/procfs/etc tree: the binding it would do.
#   3. for real against a fake tree (all of /sys, /proc and /etc replaced, running commands
#      forbidden): it writes the reservation and the tmpfiles entry, and a second run
#      changes nothing (idempotent). Needs root for the real mode, like the script.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/fake_sys.sh"
dd_test_init setup_host

SETUP="$DPDIST_SRC/configs/setup-host"
CONFIGS="$DPDIST_SRC/configs"
export DPDIST_CONFIG="$DPDIST_BUILD/tools/dpdist-config"

snapshot() {
  {
    for f in /sys/kernel/mm/hugepages/*/nr_hugepages /sys/devices/system/node/node*/hugepages/*/nr_hugepages; do
      [ -e "$f" ] && echo "$f $(cat "$f")"
    done
    grep hugetlbfs /proc/mounts
    ls /sys/bus/pci/drivers
    for d in /sys/bus/pci/devices/*; do echo "$d $(readlink "$d/driver" 2>/dev/null)"; done
    ls -la /etc/tmpfiles.d /etc/modules-load.d /etc/systemd/system 2>/dev/null
    md5sum /etc/fstab 2>/dev/null
    ls -d /dev/hugepages* 2>/dev/null
  } >"$1"
}

# --- 1. dry run on this machine -------------------------------------------------------
snapshot "$DD_TMP/before"
run() { local out=$1; shift; "$SETUP" "$@" >"$out" 2>&1; echo $? >"$out.rc"; }

run "$DD_TMP/memif.out" --dry-run "$CONFIGS/local-memif-a.ini" "$CONFIGS/local-memif-b.ini"
o="$DD_TMP/memif.out"
dd_check "memif pair: exit 0" test "$(cat "$o.rc")" -eq 0
dd_check_grep "memif pair: no hugepages needed" '^ok: no configuration needs hugepages' "$o"
dd_check_grep "memif pair: nothing to bind" '^ok: .*local-memif-a.ini: virtual device net_memif0: nothing to bind' "$o"
dd_check_grep "memif pair: isolation advice for CPUs 0,1" '^advice: polling CPUs 0,1 are not in isolcpus/nohz_full' "$o"
dd_check_grep "memif pair: says it was a dry run" '^setup-host: dry run, nothing was changed$' "$o"
dd_check_no_grep "memif pair: did nothing" '^do: ' "$o"

have=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages 2>/dev/null || echo 0)
want=$((have + 64))
run "$DD_TMP/huge.out" --dry-run --hugepages-2m "$want" --units "$CONFIGS/netns-afpacket-1.ini"
o="$DD_TMP/huge.out"
dd_check "hugepages: exit 0" test "$(cat "$o.rc")" -eq 0
dd_check_grep "hugepages: would reserve" "^would: echo $want > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages$" "$o"
dd_check_grep "hugepages: would persist in tmpfiles.d" '^would: write /etc/tmpfiles.d/dpdist-hugepages.conf:$' "$o"
dd_check_grep "hugepages: the tmpfiles line" "^    w /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages - - - - $want$" "$o"
if grep -q hugetlbfs /proc/mounts; then
  dd_check_grep "hugetlbfs: already mounted" '^ok: hugetlbfs mounted on' "$o"
else
  dd_check_grep "hugetlbfs: would mount" '^would: mount hugetlbfs: mount -t hugetlbfs nodev /dev/hugepages$' "$o"
fi
dd_check_grep "units: would write the CPUAffinity drop-in" \
  '^would: write /etc/systemd/system/dpdist-node@netns-afpacket-1.service.d/50-cpus.conf:$' "$o"
dd_check_grep "units: with the lcores" '^    CPUAffinity=0$' "$o"
dd_check_no_grep "hugepages: did nothing" '^do: ' "$o"

run "$DD_TMP/nic.out" --dry-run "$CONFIGS/vfio-i40e.ini"
o="$DD_TMP/nic.out"
dd_check "absent NIC: exit 1" test "$(cat "$o.rc")" -eq 1
dd_check_grep "absent NIC: said" '^problem: .*vfio-i40e.ini: no PCI device 0000:3b:00.0 on this machine$' "$o"
dd_check_grep "absent NIC: per-node hugepages" 'nr_hugepages' "$o"

printf '[node]\nsname = x\n[eal]\nlcroes = 0\n' >"$DD_TMP/bad.ini"
run "$DD_TMP/bad.out" --dry-run "$DD_TMP/bad.ini"
dd_check "a broken config: exit 1" test "$(cat "$DD_TMP/bad.out.rc")" -eq 1
dd_check_grep "a broken config: the errors first" 'did you mean `lcores`' "$DD_TMP/bad.out"
"$SETUP" --hugepages-2m x "$CONFIGS/local-memif-a.ini" >/dev/null 2>&1
dd_check "a bad option value: exit 2" test $? -eq 2

snapshot "$DD_TMP/after"
if diff "$DD_TMP/before" "$DD_TMP/after" >"$DD_TMP/diff"; then
  dd_pass "dry runs changed nothing on this machine"
else
  dd_fail "dry runs changed the machine"; sed 's/^/#   /' "$DD_TMP/diff"
fi

# --- 2. dry run against a fake tree: binding ------------------------------------------
M="$DD_TMP/machine"
fake_sys "$M"
mkdir -p "$M/etc"
export DPDIST_SYSFS_ROOT="$M/sys" DPDIST_PROCFS_ROOT="$M/proc" DPDIST_ETC_ROOT="$M/etc"
fake_pci_driver "$M" 0000:3b:00.0 i40e
mkdir -p "$M/sys/bus/pci/devices/0000:3b:00.0/net/ens1f0"
echo down >"$M/sys/bus/pci/devices/0000:3b:00.0/net/ens1f0/operstate"
run "$DD_TMP/bind.out" --dry-run "$CONFIGS/vfio-i40e.ini"
o="$DD_TMP/bind.out"
dd_check "bind: exit 0" test "$(cat "$o.rc")" -eq 0
dd_check_grep "bind: would bind with dpdk-devbind.py" \
  '^would: bind 0000:3b:00.0 \(now: i40e\) to vfio-pci: dpdk-devbind.py -b vfio-pci 0000:3b:00.0$' "$o"
dd_check_grep "bind: vfio-pci already loaded" '^ok: driver vfio-pci loaded$' "$o"
dd_check_grep "bind: hugepages on node 0 suffice" '^ok: 2 MiB pages on NUMA node 0: 1024 pages reserved \(>= 512\)$' "$o"
echo up >"$M/sys/bus/pci/devices/0000:3b:00.0/net/ens1f0/operstate"
run "$DD_TMP/up.out" --dry-run "$CONFIGS/vfio-i40e.ini"
dd_check "bind: refused while the interface is up" test "$(cat "$DD_TMP/up.out.rc")" -eq 1
dd_check_grep "bind: and says why" 'is ens1f0, up in the kernel: not binding it' "$DD_TMP/up.out"
run "$DD_TMP/mlx.out" --dry-run "$CONFIGS/mlx5-bifurcated.ini"
dd_check "mlx5: exit 0" test "$(cat "$DD_TMP/mlx.out.rc")" -eq 0
dd_check_grep "mlx5: stays with the kernel driver" '^ok: 0000:af:00.0 stays bound to mlx5_core \(bifurcated\)$' "$DD_TMP/mlx.out"

# --- 3. for real against the fake tree: idempotent --------------------------------------
if [ "$(id -u)" != 0 ]; then
  dd_skip "setup-host for real against the fake tree, twice (idempotent)" \
    "the real mode needs root"
else
  export DPDIST_SETUP_NO_COMMANDS=1
  fake_pci_driver "$M" 0000:3b:00.0 vfio-pci
  echo "BOOT_IMAGE=/vmlinuz ro isolcpus=managed_irq,domain,4,6 nohz_full=4,6" >"$M/proc/cmdline"
  run "$DD_TMP/real1.out" --hugepages-2m 3000 "$CONFIGS/vfio-i40e.ini"
  o="$DD_TMP/real1.out"
  dd_check "real run: exit 0" test "$(cat "$o.rc")" -eq 0
  dd_check "real run: reserved the pages" test "$(cat "$M/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")" = 3000
  dd_check_grep "real run: persisted them" '^w /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages - - - - 3000$' \
    "$M/etc/tmpfiles.d/dpdist-hugepages.conf"
  dd_check_grep "real run: per node too (keeping the 1024 it has)" '^w /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages - - - - 1024$' \
    "$M/etc/tmpfiles.d/dpdist-hugepages.conf"
  dd_check_grep "real run: isolation ok" '^ok: polling CPUs 4 are in isolcpus and nohz_full$' "$o"
  run "$DD_TMP/real2.out" --hugepages-2m 3000 "$CONFIGS/vfio-i40e.ini"
  o="$DD_TMP/real2.out"
  dd_check "second run: exit 0" test "$(cat "$o.rc")" -eq 0
  dd_check_no_grep "second run: changes nothing" '^(do|would): ' "$o"
  dd_check_grep "second run: the file is up to date" 'dpdist-hugepages.conf is up to date' "$o"
  run "$DD_TMP/real3.out" --hugepages-2m 100 "$CONFIGS/vfio-i40e.ini"
  dd_check "never lowers a reservation" test "$(cat "$M/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")" = 3000
  dd_check_grep "nor the persisted one" '^w /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages - - - - 3000$' \
    "$M/etc/tmpfiles.d/dpdist-hugepages.conf"
fi

dd_done

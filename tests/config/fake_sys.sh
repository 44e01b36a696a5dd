# Builds a fake sysfs/procfs tree for the configuration's system checks (source it, then
# `fake_sys DIR`; point DPDIST_SYSFS_ROOT at DIR/sys and DPDIST_PROCFS_ROOT at DIR/proc).
#
# The machine it describes is the one the hardware examples in configs/ were written for:
#   16 CPUs, all online; NUMA node 0 = even CPUs, node 1 = odd CPUs;
#   1024 free 2 MiB hugepages on each node (2048 in total), hugetlbfs mounted;
#   0000:3b:00.0  Intel XL710 (8086:1583), node 0, bound to vfio-pci, IOMMU group 30
#   0000:d8:00.0  Intel E810  (8086:159b), node 1, bound to vfio-pci, IOMMU group 31
#   0000:af:00.0  Mellanox ConnectX-6 Dx (15b3:101d), node 1, mlx5_core, ens6f0np0 up
#   no sockets in /proc/net/{udp,udp6,tcp,tcp6}.
# Tests then change one thing at a time (fake_pci_driver, fake_free_pages, ...).

fake_sys() {
  local root=$1 s=$1/sys p=$1/proc n cpu
  mkdir -p "$s/devices/system/cpu" "$s/bus/pci/drivers" "$s/kernel/iommu_groups/30" \
    "$s/kernel/iommu_groups/31" "$s/class/net" "$p/net"
  echo 0-15 >"$s/devices/system/cpu/present"
  echo 0-15 >"$s/devices/system/cpu/online"
  for n in 0 1; do
    mkdir -p "$s/devices/system/node/node$n/hugepages/hugepages-2048kB"
    if [ $n = 0 ]; then echo 0,2,4,6,8,10,12,14; else echo 1,3,5,7,9,11,13,15; fi \
      >"$s/devices/system/node/node$n/cpulist"
    echo 1024 >"$s/devices/system/node/node$n/hugepages/hugepages-2048kB/nr_hugepages"
    echo 1024 >"$s/devices/system/node/node$n/hugepages/hugepages-2048kB/free_hugepages"
  done
  mkdir -p "$s/kernel/mm/hugepages/hugepages-2048kB" "$s/kernel/mm/hugepages/hugepages-1048576kB"
  echo 2048 >"$s/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
  echo 2048 >"$s/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
  echo 0 >"$s/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
  echo 0 >"$s/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"
  for d in vfio-pci mlx5_core i40e ice; do mkdir -p "$s/bus/pci/drivers/$d"; done
  mkdir -p "$s/module/mlx5_core" "$s/module/mlx5_ib" "$s/module/ib_uverbs"
  fake_pci "$root" 0000:3b:00.0 0x8086 0x1583 0 vfio-pci 30
  fake_pci "$root" 0000:d8:00.0 0x8086 0x159b 1 vfio-pci 31
  fake_pci "$root" 0000:af:00.0 0x15b3 0x101d 1 mlx5_core ""
  mkdir -p "$s/bus/pci/devices/0000:af:00.0/net/ens6f0np0"
  echo up >"$s/bus/pci/devices/0000:af:00.0/net/ens6f0np0/operstate"
  ln -s ../../bus/pci/devices/0000:af:00.0/net/ens6f0np0 "$s/class/net/ens6f0np0"
  cat >"$p/mounts" <<'MOUNTS'
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0
MOUNTS
  local hdr4='  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'
  for f in udp tcp; do echo "$hdr4" >"$p/net/$f"; echo "$hdr4" >"$p/net/${f}6"; done
  echo "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet" >"$p/cmdline"
}

# fake_pci ROOT ADDR VENDOR DEVICE NUMA DRIVER IOMMU_GROUP (DRIVER/GROUP "": none)
fake_pci() {
  local s=$1/sys dev=$1/sys/bus/pci/devices/$2
  mkdir -p "$dev"
  echo "$3" >"$dev/vendor"
  echo "$4" >"$dev/device"
  echo "$5" >"$dev/numa_node"
  rm -f "$dev/driver" "$dev/iommu_group"
  [ -n "$6" ] && mkdir -p "$s/bus/pci/drivers/$6" && ln -s "../../drivers/$6" "$dev/driver"
  [ -n "$7" ] && ln -s "../../../../kernel/iommu_groups/$7" "$dev/iommu_group"
  return 0
}

# fake_pci_driver ROOT ADDR DRIVER ("" unbinds)
fake_pci_driver() {
  local s=$1/sys dev=$1/sys/bus/pci/devices/$2
  rm -f "$dev/driver"
  [ -n "$3" ] && mkdir -p "$s/bus/pci/drivers/$3" && ln -s "../../drivers/$3" "$dev/driver"
  return 0
}

# fake_free_pages ROOT NODE PAGES: free 2 MiB pages on a node (and the total follows)
fake_free_pages() {
  local s=$1/sys n total=0
  echo "$3" >"$s/devices/system/node/node$2/hugepages/hugepages-2048kB/free_hugepages"
  for n in 0 1; do
    total=$((total + $(cat "$s/devices/system/node/node$n/hugepages/hugepages-2048kB/free_hugepages")))
  done
  echo $total >"$s/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
}

# fake_socket ROOT FILE IPV4 PORT STATE: a socket line in proc/net/FILE (udp: state 07,
# tcp listener: 0A). The address is written as the kernel does: the network-order word
# printed as the (little-endian) host reads it.
fake_socket() {
  local a b c d
  IFS=. read -r a b c d <<<"$3"
  printf '   1: %02X%02X%02X%02X:%04X 00000000:0000 %s 00000000:00000000 00:00000000 00000000     0        0 12345\n' \
    "$d" "$c" "$b" "$a" "$4" "$5" >>"$1/proc/net/$2"
}

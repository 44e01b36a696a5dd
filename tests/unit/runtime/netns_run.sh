#!/usr/bin/env bash
# Runs runtime unit tests inside new network, UTS and mount namespaces (as root; skips with
# the reason otherwise). Everything goes away with the namespaces when the test ends.
# Usage: netns_run.sh MODE UNIT-TEST-BINARY GTEST-FILTER
#  unreachable (runtime-hsio-netns, test_hsio.cc RuntimeHsio.UnreachableHostsFailCleanly):
#   - the host name is "ddunreach" and /etc/hosts (a copy bind-mounted over it in the mount
#     namespace) maps it to 10.99.2.7, on a veth link whose other end has no address: nobody
#     answers ARP, so connecting there fails with EHOSTUNREACH after about 3 s (the root
#     where runtime-conn crashed: "cannot ask EPMD on vm:...: No route to host");
#   - 10.99.1.0/24 has an unreachable route: EHOSTUNREACH at once;
#   - 10.99.3.7 has a static neighbour entry on the veth: SYNs vanish, connects time out.
#  noipv6 (runtime-node-netns, test_node.cc RuntimeNode.*): IPv6 disabled by sysctl
#   (net.ipv6.conf.{all,default,lo}.disable_ipv6 = 1): loopback has 127.0.0.1 only.
mode=$1 exe=$2 filter=$3
[ -x "$exe" ] && [ -n "$filter" ] || { echo "usage: $0 unreachable|noipv6 BINARY FILTER"; exit 2; }
if [ "$(id -u)" != 0 ]; then echo "# SKIP: needs root (network namespaces)"; exit 77; fi
for t in unshare ip mount hostname sysctl; do
  command -v $t >/dev/null || { echo "# SKIP: no $t(8)"; exit 77; }
done
hosts=$(mktemp)
trap 'rm -f "$hosts"' EXIT
printf '127.0.0.1 localhost\n::1 localhost\n10.99.2.7 ddunreach\n' >"$hosts"

# Set-up failures exit 77 (skip, with the reason); the test's own status passes through.
unshare --net --uts --mount --propagation private bash -c '
  mode=$1 hosts=$2; shift 2
  setup() { "$@" >/dev/null || { echo "# SKIP: cannot set up the namespace: $*"; exit 77; }; }
  setup ip link set lo up
  case $mode in
  unreachable)
    setup mount --bind "$hosts" /etc/hosts
    setup hostname ddunreach
    setup ip route add unreachable 10.99.1.0/24
    setup ip link add ddv0 type veth peer name ddv1
    setup ip link set ddv0 up
    setup ip link set ddv1 up
    setup ip addr add 10.99.2.1/24 dev ddv0
    setup ip addr add 10.99.3.1/24 dev ddv0
    setup ip neigh add 10.99.3.7 lladdr 02:00:00:00:03:07 dev ddv0
    echo "# in the namespace: $(hostname) is $(getent hosts ddunreach)"
    export DD_UNREACH_ARP=10.99.2.7 DD_UNREACH_ROUTE=10.99.1.7 DD_UNREACH_SILENT=10.99.3.7 ;;
  noipv6)
    for k in all default lo; do setup sysctl -w net.ipv6.conf.$k.disable_ipv6=1; done
    echo "# in the namespace: $(ip -brief addr show lo)"
    export DD_NETNS_IPV6_DISABLED=1 ;;
  *) echo "unknown mode $mode"; exit 2 ;;
  esac
  exec timeout 240 "$@"
' netns-run "$mode" "$hosts" "$exe" --gtest_filter="$filter"

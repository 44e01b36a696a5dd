# Shared by scripts/demo, scripts/test and .ci/run: install what is missing, build.

DPDIST_DEBIAN_PACKAGES=(
  build-essential pkg-config meson ninja-build
  libdpdk-dev dpdk dpdk-dev liburcu-dev libgtest-dev libssl-dev
  erlang-base erlang-dev
  clang libclang-rt-14-dev
  iproute2 procps util-linux hostname
  gnuplot-nox python3 systemd
)

dd_log() { printf '\033[1m== %s\033[0m\n' "$*"; }

# Installs the Debian packages that are not installed yet (apt-get update only if needed).
dd_install_deps() {
  local missing=() p
  for p in "${DPDIST_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    dd_log "Debian packages: all present"
    return 0
  fi
  dd_log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Hugepages and hugetlbfs for the memif/DPDK tests (idempotent; harmless if unavailable).
dd_setup_hugepages() {
  [ "$(id -u)" = 0 ] || return 0
  local want=${1:-256} have
  have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
  [ "$have" -ge "$want" ] || echo "$want" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
  mountpoint -q /dev/hugepages 2>/dev/null || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true; }
}

# dd_build DIR [meson options...]: configure (once) and build.
dd_build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@"
  fi
  ninja -C "$dir"
}

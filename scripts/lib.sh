# Shared by scripts/demo, scripts/test and .ci/run: install what is missing, build.

# The Erlang/OTP applications that the scripts, tests and benchmarks use, as APP:PACKAGE:
# Debian splits OTP into packages (erlang-base: erts, kernel, stdlib, compiler; erlang-dev:
# erl_interface's headers and libei), so a module of an application not listed here (crypto
# is in erlang-crypto, ssl in erlang-ssl, ...) is missing on a fresh machine.
# tests/interop/erlang_apps.sh checks that every module the Erlang code calls belongs to an
# application of this list, and dd_install_deps that each is installed.
DPDIST_ERLANG_APPS=(
  erts:erlang-base kernel:erlang-base stdlib:erlang-base
  compiler:erlang-base     # erlc (dd_interop.erl, dd_bench.erl)
  erl_interface:erlang-dev # libei, ei.h (meson.build)
  eunit:erlang-eunit       # the EUnit tests of beam/ (suite beam)
  crypto:erlang-crypto     # beam/: the handshake transcript's SHA-256 (later HKDF, X25519)
)

DPDIST_DEBIAN_PACKAGES=(
  build-essential pkg-config meson ninja-build
  libdpdk-dev dpdk dpdk-dev liburcu-dev libgtest-dev libssl-dev
  libipsec-mb-dev          # frame authentication's fast backend (dataplane/fauth_imb.c)
  $(printf '%s\n' "${DPDIST_ERLANG_APPS[@]#*:}" | sort -u)
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
    dd_check_erlang_apps
    return
  fi
  dd_log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  dd_check_erlang_apps
}

# Fails (with the package to install) unless erl finds every application of
# DPDIST_ERLANG_APPS.
dd_check_erlang_apps() {
  local missing
  missing=$(erl -noshell -eval '
    [io:format("~s~n", [A]) || A <- init:get_plain_arguments(),
                               code:lib_dir(list_to_atom(A)) =:= {error, bad_name}],
    halt().' -extra "${DPDIST_ERLANG_APPS[@]%%:*}") || missing="erl itself"
  [ -z "$missing" ] && return 0
  echo "Erlang applications missing: $missing (packages: ${DPDIST_ERLANG_APPS[*]})" >&2
  return 1
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

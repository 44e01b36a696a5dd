#!/bin/bash
# systemd_units: configs/systemd/*.socket and *.service pass `systemd-analyze verify` with
# no complaint at all (it exits 0 on unknown keys, so its output must be empty), including
# a node instance with the CPUAffinity drop-in setup-host writes. Starts nothing; needs
# systemd-analyze (Debian package systemd) and skips without it.
source "$(dirname "$0")/../lib/common.sh"
dd_test_init systemd_units

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "# SKIP: systemd-analyze not found (install the Debian package 'systemd')"
  exit 77
fi
UNITS="$DPDIST_SRC/configs/systemd"
DDC="$DPDIST_BUILD/tools/dpdist-config"
U="$DD_TMP/units"
BIN="$DD_TMP/bin"
mkdir -p "$U" "$BIN"

# verify wants every ExecStart binary to exist: the units name /usr/bin, which a package
# installs; here the built binaries and a stand-in for the node stand there
ln -s "$DPDIST_BUILD/tools/dpdist-epmd" "$BIN/dpdist-epmd"
ln -s "$DDC" "$BIN/dpdist-config"
printf '#!/bin/sh\nexit 0\n' >"$BIN/dpdist-node"; chmod +x "$BIN/dpdist-node"
for f in "$UNITS"/*.socket "$UNITS"/*.service; do
  sed "s|/usr/bin/|$BIN/|g" "$f" >"$U/$(basename "$f")"
done
dd_check "the units name only binaries under /usr/bin we know" \
  test -z "$(grep -ohE '^Exec[A-Za-z]*=[-+!@]*/[^ ]+' "$UNITS"/* | sed 's/^[^=]*=[-+!@]*//' | sort -u |
    grep -vxE '/usr/bin/(dpdist-epmd|dpdist-config|dpdist-node)')"

# the drop-in setup-host --units writes, from an example's lcores
mkdir -p "$U/dpdist-node@app1.service.d"
printf '[Service]\nCPUAffinity=%s\n' "$("$DDC" get "$DPDIST_SRC/configs/vfio-i40e.ini" eal.lcores)" \
  >"$U/dpdist-node@app1.service.d/50-cpus.conf"

verify() {
  local desc=$1; shift
  (cd "$U" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$@") >"$DD_TMP/verify.out" 2>&1
  local rc=$?
  dd_check "$desc: systemd-analyze verify exits 0" test $rc -eq 0
  dd_check_no_grep "$desc: and has nothing to say" . "$DD_TMP/verify.out"
}
verify "dpdist-epmd.socket" ./dpdist-epmd.socket
verify "dpdist-epmd.service" ./dpdist-epmd.service
verify "dpdist-node@app1.service with its drop-in" ./dpdist-node@app1.service

# the checks are real: a broken unit is noticed
cp "$U/dpdist-node@.service" "$DD_TMP/good"
echo "CPUAfinity=1" >>"$U/dpdist-node@.service"
(cd "$U" && systemd-analyze verify ./dpdist-node@app1.service) >"$DD_TMP/bad.out" 2>&1
dd_check_grep "a misspelt key is reported" "Unknown key 'CPUAfinity'" "$DD_TMP/bad.out"
cp "$DD_TMP/good" "$U/dpdist-node@.service"

# what the units promise
N="$UNITS/dpdist-node@.service"
dd_check_grep "node: checks its config first" '^ExecStartPre=/usr/bin/dpdist-config check /etc/dpdist/%i.ini$' "$N"
dd_check_grep "node: LimitMEMLOCK" '^LimitMEMLOCK=infinity$' "$N"
dd_check_grep "node: restarts on failure" '^Restart=on-failure$' "$N"
dd_check_grep "node: not after a refused config" '^RestartPreventExitStatus=78$' "$N"
dd_check_grep "node: vfio devices" '^DeviceAllow=char-vfio rw$' "$N"
dd_check_grep "node: hugepages" '^ReadWritePaths=.*/dev/hugepages' "$N"
dd_check_grep "epmd: socket activation with -systemd" '^ExecStart=/usr/bin/dpdist-epmd -systemd$' "$UNITS/dpdist-epmd.service"
dd_check_grep "epmd: port 4369" '^ListenStream=4369$' "$UNITS/dpdist-epmd.socket"

dd_done

#!/bin/bash
# systemd_units: the systemd units as `meson install` puts them on a host, checked against
# the installed files. Starts: `meson install --destdir` into a temporary root; then the
# installed binaries with the command lines of the installed units: dpdist-config (the node's
# ExecStartPre), dpdist-echo (the node's ExecStart) against a dpdist-epmd of the test, and
# dpdist-epmd -systemd under systemd-socket-activate (the socket unit's activation).
# Checks:
#  1. meson install puts the three units, the binaries they name and the documentation they
#     point to into the root; every example config is installed beside the README;
#  2. `systemd-analyze verify --root` on the installed units (with systemd's own units copied
#     into the root, and the CPUAffinity drop-in `setup-host --units` writes, at its place)
#     exits 0 and says nothing (it exits 0 on unknown keys): it also fails when an Exec
#     binary is not in the root, and runs man(1) for man: documentation, which a host
#     without man pages lacks;
#  3. the flags in the Exec lines are the binaries' own: the node's ExecStartPre accepts a
#     good file and refuses a broken one; its ExecStart starts a node from a good file (it
#     gets ready, registers, answers a ping, stops on SIGTERM with 0) and refuses a broken
#     one with EX_CONFIG (78, RestartPreventExitStatus) naming the error; dpdist-epmd serves
#     the socket systemd passes.
# Needs systemd-analyze and systemd-socket-activate (Debian package systemd): skipped
# without them, with the reason.
source "$(dirname "$0")/../lib/common.sh"
dd_test_init systemd_units

for tool in systemd-analyze systemd-socket-activate; do
  if ! command -v $tool >/dev/null 2>&1; then
    echo "# SKIP: $tool not found (install the Debian package 'systemd')"
    exit 77
  fi
done
ROOT="$DD_TMP/root"

# --- 1. the installed files ------------------------------------------------------------
if meson install -C "$DPDIST_BUILD" --no-rebuild --destdir "$ROOT" --quiet >"$DD_TMP/install.log" 2>&1
then dd_pass "meson install --destdir succeeds"
else dd_fail "meson install --destdir succeeds"; sed 's/^/#   /' "$DD_TMP/install.log"; fi
# the unit directory: wherever the build put it (the option systemdunitdir)
UNITS=$(dirname "$(find "$ROOT" -name dpdist-epmd.socket | head -n 1)")
dd_check "the units are installed ($UNITS)" test -f "$UNITS/dpdist-epmd.socket"
for u in dpdist-agent.service dpdist-epmd.service dpdist-node@.service; do
  dd_check "  ... $u" test -f "$UNITS/$u"
done
dd_check "no unit is left unsubstituted" test -z "$(grep -l '@[A-Z]*@' "$UNITS"/dpdist-* 2>/dev/null)"
# every binary an Exec line names, and every file: documentation, is in the root
grep -ohE '^Exec[A-Za-z]*=[-+!@:]*/[^ ]+' "$UNITS"/dpdist-* | sed 's/^[^=]*=[-+!@:]*//' |
  sort -u >"$DD_TMP/exec"
dd_check "the units start binaries ($(wc -l <"$DD_TMP/exec"))" test -s "$DD_TMP/exec"
while read -r bin; do
  dd_check "$bin is installed" test -x "$ROOT$bin"
done <"$DD_TMP/exec"
cat "$UNITS"/dpdist-* >"$DD_TMP/units.all"
dd_check_no_grep "the units point to no man page (dpdist installs none; verify runs man(1) for it)" \
  '^Documentation=.*man:' "$DD_TMP/units.all"
grep -ohE 'file://[^ ]+' "$UNITS"/dpdist-* | sed 's|^file://||' | sort -u >"$DD_TMP/docs"
while read -r doc; do
  dd_check "$doc is installed" test -f "$ROOT$doc"
done <"$DD_TMP/docs"
DOCS=$(dirname "$(head -n 1 "$DD_TMP/docs")")
for f in "$DPDIST_SRC"/configs/*.ini; do
  dd_check "configs/$(basename "$f") is installed beside the README" cmp -s "$f" "$ROOT$DOCS/$(basename "$f")"
done

# --- 2. systemd-analyze verify on the installed units -------------------------------------
# systemd's own units (targets, mounts the units order after) as on a host
mkdir -p "$ROOT/usr/lib/systemd"
cp -a /lib/systemd/system "$ROOT/usr/lib/systemd/"
DROPIN="$ROOT/etc/systemd/system/dpdist-node@app1.service.d/50-cpus.conf"
mkdir -p "$(dirname "$DROPIN")"
printf '[Service]\nCPUAffinity=%s\n' \
  "$("$DPDIST_BUILD/tools/dpdist-config" get "$DPDIST_SRC/configs/vfio-i40e.ini" eal.lcores)" >"$DROPIN"

verify() {
  local desc=$1 unit=$2 out=$DD_TMP/verify.$2
  (cd "$UNITS" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --root="$ROOT" "./$unit") >"$out" 2>&1
  local rc=$?
  dd_check "$desc: systemd-analyze verify exits 0" test $rc -eq 0
  dd_check_no_grep "$desc: and has nothing to say" . "$out"
}
verify "dpdist-epmd.socket" dpdist-epmd.socket
verify "dpdist-epmd.service" dpdist-epmd.service
verify "dpdist-node@app1.service with its drop-in" dpdist-node@app1.service
verify "dpdist-agent.service" dpdist-agent.service

# the checks are real: a misspelt key in the drop-in (so the drop-in is read), a unit whose
# binary is not installed
cp "$DROPIN" "$DD_TMP/dropin.good"
echo "CPUAfinity=1" >>"$DROPIN"
(cd "$UNITS" && systemd-analyze verify --root="$ROOT" ./dpdist-node@app1.service) >"$DD_TMP/bad.out" 2>&1
dd_check_grep "a misspelt key in the drop-in is reported" "Unknown key 'CPUAfinity'" "$DD_TMP/bad.out"
cp "$DD_TMP/dropin.good" "$DROPIN"
bin=$(head -n 1 "$DD_TMP/exec")
mv "$ROOT$bin" "$ROOT$bin.away"
(cd "$UNITS" && systemd-analyze verify --root="$ROOT" ./dpdist-agent.service ./dpdist-epmd.service \
  ./dpdist-node@app1.service) \
  >"$DD_TMP/nobin.out" 2>&1
dd_check_grep "a binary missing from the root is reported" "Command $bin is not executable" "$DD_TMP/nobin.out"
mv "$ROOT$bin.away" "$ROOT$bin"

# --- 3. the Exec lines' flags, run with the installed binaries ------------------------------
# exec_argv UNIT KEY INSTANCE: the command line of the unit's KEY= line as an array EXEC,
# with the instance name for %i, the binary in the root and /etc/dpdist/ in the test's root
exec_argv() {
  local line
  line=$(sed -n "s/^$2=//p" "$UNITS/$1")
  line=${line//%i/$3}
  line=${line//\/etc\/dpdist\//$ROOT/etc/dpdist/}
  read -ra EXEC <<<"$line"
  EXEC[0]=$ROOT${EXEC[0]}
}
mkdir -p "$ROOT/etc/dpdist"
printf 'unitcookie' >"$ROOT/etc/dpdist/cookie"; chmod 400 "$ROOT/etc/dpdist/cookie"
printf '[node]\nsname = unit%s\ncookie_file = %s\n' "$DD_RUN_ID" "$ROOT/etc/dpdist/cookie" \
  >"$ROOT/etc/dpdist/good.ini"
printf '[node]\nsname = unit%s\ncookie_file = %s\nticktime = never\n' "$DD_RUN_ID" \
  "$ROOT/etc/dpdist/cookie" >"$ROOT/etc/dpdist/broken.ini"

exec_argv dpdist-node@.service ExecStartPre good
"${EXEC[@]}" >"$DD_TMP/pre-good.out" 2>&1
dd_check "node ExecStartPre (${EXEC[*]#$ROOT}) passes a good file" test $? -eq 0
exec_argv dpdist-node@.service ExecStartPre broken
"${EXEC[@]}" >"$DD_TMP/pre-broken.out" 2>&1
dd_check "node ExecStartPre refuses a broken file (exit 1)" test $? -eq 1
dd_check_grep "  ... naming the error" 'broken.ini:4: error: \[node\] ticktime' "$DD_TMP/pre-broken.out"

dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
exec_argv dpdist-node@.service ExecStart good
echo "# node ExecStart: ${EXEC[*]}"
ERL_EPMD_PORT=$EPMD_PORT "${EXEC[@]}" >"$DD_TMP/node.log" 2>&1 &
NODE_PID=$!
dd_track $NODE_PID
dd_check "node ExecStart starts the node from the file" \
  env DD_WAIT=20 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q 'unit$DD_RUN_ID@.* ready' '$DD_TMP/node.log'"
ERL_EPMD_PORT=$EPMD_PORT "$(dirname "${EXEC[0]}")/dpdist-ping" -setcookie unitcookie "unit$DD_RUN_ID@$(dd_short_host)" >"$DD_TMP/ping.out" 2>&1
dd_check_grep "  ... which answers a ping with the file's cookie" '^pong$' "$DD_TMP/ping.out"
kill -TERM $NODE_PID 2>/dev/null
rc=0; wait $NODE_PID || rc=$?
dd_check "  ... and stops on SIGTERM with exit 0 (got $rc)" test $rc -eq 0
exec_argv dpdist-node@.service ExecStart broken
ERL_EPMD_PORT=$EPMD_PORT timeout 30 "${EXEC[@]}" >"$DD_TMP/node-broken.log" 2>&1
rc=$?
dd_check "node ExecStart refuses a broken file with EX_CONFIG (exit $rc, 78 expected)" test $rc -eq 78
dd_check_grep "  ... naming the error" 'broken.ini:4: error: \[node\] ticktime' "$DD_TMP/node-broken.log"
dd_check_grep "the unit does not restart on that status" '^RestartPreventExitStatus=78$' \
  "$UNITS/dpdist-node@.service"

P=$(dd_free_port)
exec_argv dpdist-epmd.service ExecStart x
systemd-socket-activate -l "127.0.0.1:$P" "${EXEC[@]}" >"$DD_TMP/activated.log" 2>&1 &
dd_track $!
dd_check "dpdist-epmd.service's ExecStart under socket activation listens" dd_wait_port "$P" 10
"$DPDIST_BUILD/tools/dpdist-epmd" -port "$P" -names >"$DD_TMP/activated-names.out" 2>&1
# (it reports the port of its configuration, 4369, as the reference daemon does under systemd)
dd_check_grep "  ... and serves the socket systemd passed" "^epmd: up and running on port [0-9]+ with data:" \
  "$DD_TMP/activated-names.out"
dd_check_grep "the socket unit listens on the EPMD port" '^ListenStream=4369$' "$UNITS/dpdist-epmd.socket"

# the agent unit's command lines, with an agent file whose socket is in the test's root
mkdir -p "$ROOT/run/dpdist" && chmod 755 "$ROOT/run/dpdist"
printf '[agent]\nsocket = %s\n' "$ROOT/run/dpdist/agent.sock" >"$ROOT/etc/dpdist/agent.ini"
exec_argv dpdist-agent.service ExecStartPre x
"${EXEC[@]}" >"$DD_TMP/agent-pre.out" 2>&1
dd_check "agent ExecStartPre (${EXEC[*]#$ROOT}) passes its file" test $? -eq 0
exec_argv dpdist-agent.service ExecStart x
"${EXEC[@]}" >"$DD_TMP/agent.out" 2>"$DD_TMP/agent.err" &
AGENT_PID=$!
dd_track $AGENT_PID
dd_check "agent ExecStart starts the agent from the file" \
  env DD_WAIT=20 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q ready '$DD_TMP/agent.out'"
kill -TERM $AGENT_PID 2>/dev/null
rc=0; wait $AGENT_PID || rc=$?
dd_check "  ... and stops on SIGTERM with exit 0 (got $rc)" test $rc -eq 0
printf '[agent]\nsocket = %s\n[node]\nsname = x\n' "$ROOT/run/dpdist/agent.sock" >"$ROOT/etc/dpdist/agent.ini"
exec_argv dpdist-agent.service ExecStart x
timeout 30 "${EXEC[@]}" >/dev/null 2>"$DD_TMP/agent-broken.err"
rc=$?
dd_check "agent ExecStart refuses a broken file with EX_CONFIG (exit $rc)" test $rc -eq 78
dd_check_grep "the agent unit does not restart on that status" '^RestartPreventExitStatus=78$' \
  "$UNITS/dpdist-agent.service"

# what the node unit promises
N="$UNITS/dpdist-node@.service"
dd_check_grep "node: checks its config first" '^ExecStartPre=/.*/dpdist-config check /etc/dpdist/%i.ini$' "$N"
dd_check_grep "node: LimitMEMLOCK" '^LimitMEMLOCK=infinity$' "$N"
dd_check_grep "node: restarts on failure" '^Restart=on-failure$' "$N"
dd_check_grep "node: vfio devices" '^DeviceAllow=char-vfio rw$' "$N"
dd_check_grep "node: hugepages" '^ReadWritePaths=.*/dev/hugepages' "$N"

dd_done

#!/usr/bin/env bash
# agent-daemon: the dpdist-agent process (docs/agent.md §9). Starts: two real dpdist-agents
# joined by a memif pair (configs/agent-memif-a/b.ini, paths made unique to this run), a third
# without a port (limits, a socket every user may open), python3 VMs speaking the agent
# protocol (tests/agent/ag_client.py), one of them as user nobody.
# Checks: bad configs and flags are refused with a clear error and start nothing; both agents
# print `ready`, -socket overrides the file, the socket has the file's mode; a second agent on
# a live socket is refused; the protocol (REGISTER/WELCOME, probes both ways, offers refused
# ATTACH rules, versions); offers: v2 trailers with the agent's endpoint and the VM's key, an
# answer to a peer's offer, a broken offer refused, max_conns pending, expiry, an ATTACH that
# names an offer refused because no channel is built yet, once); several VMs at once; max_vms; every
# bad vector of ag_proto.txt and random bytes close their socket and the agent keeps serving;
# a VM that answers no probe is closed; SO_PEERCRED refuses a uid not allowed; the socket's
# mode keeps out other users; SIGTERM tells the links, removes the socket, exits 0.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init agent_daemon
AGENT=$DPDIST_BUILD/tools/dpdist-agent
PY=/usr/bin/python3 # readable by user nobody, unlike a python under /root
CLIENT=$DPDIST_SRC/tests/agent/ag_client.py
RUN=$DD_TMP/run
mkdir -p "$RUN" && chmod 0755 "$RUN" "$DD_TMP" # user nobody reaches the sockets

# client SOCKET MODE ARGS...: runs ag_client.py; its PASS/FAIL lines become checks.
client() {
  local line out rc fails=0
  out=$(timeout 60 "$PY" "$CLIENT" "$@" 2>&1)
  rc=$?
  [ -n "$out" ] || { dd_fail "ag_client $2 printed nothing"; return 1; }
  while IFS= read -r line; do
    case $line in
      PASS\ *) dd_pass "${line#PASS }" ;;
      FAIL\ *) dd_fail "${line#FAIL }"; fails=$((fails + 1)) ;;
      *) echo "# $line" ;;
    esac
  done <<<"$out"
  # a client that died (a traceback, the timeout) failed even if its checks so far passed
  [ $rc -eq 0 ] || [ $fails -gt 0 ] || dd_fail "ag_client $2 exited $rc"
}

# agent_conf SIDE EXTRA...: configs/agent-memif-SIDE.ini with this run's paths, plus lines.
agent_conf() {
  local side=$1; shift
  sed -e "s|^socket = .*|socket = $RUN/agent-$side.sock|" \
      -e "s|socket=/tmp/dpdist-agent.memif|socket=$RUN/memif.sock|" \
      -e "s|^file_prefix = .*|file_prefix = dd-agent-$side-$DD_RUN_ID|" \
      "$DPDIST_SRC/configs/agent-memif-$side.ini" > "$DD_TMP/agent-$side.ini"
  local line
  for line in "$@"; do sed -i "/^\[agent\]/a $line" "$DD_TMP/agent-$side.ini"; done
}

# start_agent NAME ARGS...: starts it in the background; AG_PID; waits for `ready`.
start_agent() {
  local name=$1; shift
  "$AGENT" "$@" > "$DD_TMP/$name.out" 2> "$DD_TMP/$name.err" &
  AG_PID=$!
  dd_track "$AG_PID"
  DD_WAIT=30 dd_wait_for grep -q ready "$DD_TMP/$name.out"
}

# ---- refusals before anything starts ---------------------------------------------------
"$AGENT" > /dev/null 2> "$DD_TMP/usage.err"
dd_check "no -config: usage, exit 2" test $? -eq 2
"$AGENT" -config "$DPDIST_SRC/configs/local-memif-a.ini" > /dev/null 2> "$DD_TMP/node.err"
rc=$?
dd_check "a node's file: exit 78 (EX_CONFIG)" test $rc -eq 78
dd_check_grep "... saying it has no [agent] section" "has no \[agent\] section" "$DD_TMP/node.err"
agent_conf a "vm_probe_interval_ms = 10" "vm_probe_timeout_ms = 10"
"$AGENT" -config "$DD_TMP/agent-a.ini" > "$DD_TMP/bad.out" 2> "$DD_TMP/bad.err"
rc=$?
dd_check "probe timeout below the interval: exit 78" test $rc -eq 78
dd_check_grep "... with the config's diagnostic" "vm_probe_timeout_ms 10 is not above vm_probe_interval_ms 10" "$DD_TMP/bad.err"
dd_check "... and no ready line, no socket" test ! -s "$DD_TMP/bad.out" -a ! -e "$RUN/agent-a.sock"
agent_conf a
"$AGENT" -config "$DD_TMP/agent-a.ini" -socket "$DD_TMP/nodir/a.sock" > /dev/null 2> "$DD_TMP/nodir.err"
rc=$?
dd_check "-socket in a directory that does not exist: exit 78" test $rc -eq 78
dd_check_grep "... naming the directory" "directory $DD_TMP/nodir does not exist" "$DD_TMP/nodir.err"
"$AGENT" -config "$DD_TMP/agent-a.ini" -epmd_port 0 > /dev/null 2>&1
dd_check "-epmd_port 0: exit 2" test $? -eq 2
: > "$RUN/not-a-socket"
"$AGENT" -config "$DD_TMP/agent-a.ini" -socket "$RUN/not-a-socket" > /dev/null 2> "$DD_TMP/file.err"
rc=$?
dd_check "a regular file at the socket path: exit 1, file kept" \
  test $rc -eq 1 -a -f "$RUN/not-a-socket"
dd_check_grep "... saying so" "is not a socket: not replacing it" "$DD_TMP/file.err"

# ---- a memif pair of agents --------------------------------------------------------------
agent_conf a "max_conns = 16" "attach_timeout_ms = 500"
agent_conf b
dd_check "agent A (memif server) prints ready, socket from -socket" \
  start_agent A -config "$DD_TMP/agent-a.ini" -socket "$RUN/A.sock"
A_PID=$AG_PID
dd_check "agent B (memif client) prints ready" start_agent B -config "$DD_TMP/agent-b.ini"
B_PID=$AG_PID
dd_check_grep "A's data plane is up on its memif port" "port net_memif0 up" "$DD_TMP/A.err"
dd_check "A's socket is at the -socket path with mode 660, the file's not used" \
  test "$(stat -c %a "$RUN/A.sock" 2>/dev/null)" = 660 -a ! -e "$RUN/agent-a.sock"
"$AGENT" -config "$DD_TMP/agent-a.ini" -socket "$RUN/A.sock" > /dev/null 2> "$DD_TMP/second.err"
rc=$?
dd_check "a second agent on A's live socket: exit 1" test $rc -eq 1
dd_check_grep "... another agent answers there" "another agent answers on" "$DD_TMP/second.err"
client "$RUN/A.sock" protocol
client "$RUN/A.sock" many 12
client "$RUN/A.sock" offers 02:dd:00:00:01:01 10.88.1.1 4370 16 500
client "$RUN/agent-b.sock" garbage
dd_check "A and B are still running" kill -0 "$A_PID" "$B_PID"
dd_check_grep "B logged the refused input" "does not decode" "$DD_TMP/B.err"
# User nobody must be able to run python3 at all: not so where the root directory is not
# searchable by others (a chroot made in a mode-0700 directory, as fresh-root's is).
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
NOBODY_WHY=
if ! as_nobody "$PY" -c 'print("ok")' > "$DD_TMP/nobody-probe.out" 2>&1; then
  NOBODY_WHY="user nobody cannot run $PY here (/ has mode $(stat -c %a /)): $(head -c 200 "$DD_TMP/nobody-probe.out")"
fi
if [ -z "$NOBODY_WHY" ]; then
  as_nobody "$PY" "$CLIENT" "$RUN/A.sock" denied > "$DD_TMP/eacces.out" 2>&1
  dd_check_grep "mode 660 keeps user nobody from connecting at all" \
    "^REFUSED at connect: Permission denied" "$DD_TMP/eacces.out"
else
  dd_skip "mode 660 keeps user nobody from connecting at all" "$NOBODY_WHY"
fi

# ---- limits, probes, credentials: an agent without a port ---------------------------------
cat > "$DD_TMP/agent-c.ini" <<CONF
[agent]
socket = $RUN/C.sock
socket_mode = 0666
allow_uids = root
max_vms = 4
vm_probe_interval_ms = 50
vm_probe_timeout_ms = 300
CONF
dd_check "agent C (no port) prints ready" start_agent C -config "$DD_TMP/agent-c.ini"
C_PID=$AG_PID
dd_check_grep "C says it has no data plane" "no \[port\]: no data plane" "$DD_TMP/C.out"
client "$RUN/C.sock" limit 4
client "$RUN/C.sock" offers-without-port
dd_check_grep "C logged the limit" "max_vms links open" "$DD_TMP/C.err"
client "$RUN/C.sock" silent 300
if [ -z "$NOBODY_WHY" ]; then
  as_nobody "$PY" "$CLIENT" "$RUN/C.sock" denied > "$DD_TMP/denied.out" 2>&1
  dd_check_grep "uid 65534 can open C's socket (mode 666) but is closed without a reply" \
    "^PASS uid 65534: closed without a reply" "$DD_TMP/denied.out"
  dd_check_grep "... SO_PEERCRED refused it, logged" "uid 65534 gid 65534 may not use this agent" \
    "$DD_TMP/C.err"
else
  dd_skip "uid 65534 can open C's socket (mode 666) but is closed without a reply" "$NOBODY_WHY"
  dd_skip "... SO_PEERCRED refused it, logged" "$NOBODY_WHY"
fi

# ---- SIGTERM ------------------------------------------------------------------------------
"$PY" "$CLIENT" "$RUN/A.sock" hold "$DD_TMP/held.out" &
HOLD=$!
dd_track "$HOLD"
DD_WAIT=10 dd_wait_for grep -q welcome "$DD_TMP/held.out"
for pid in "$A_PID" "$B_PID" "$C_PID"; do kill -TERM "$pid"; done
for name in A B C; do
  pid_var=${name}_PID
  timeout 10 tail --pid="${!pid_var}" -f /dev/null
  wait "${!pid_var}"
  rc=$?
  dd_check "agent $name stops on SIGTERM with status 0" test $rc -eq 0
  dd_check_grep "... and prints its counters" "stopped; counters" "$DD_TMP/$name.err"
done
wait "$HOLD"
dd_check_grep "a held link was told: REFUSED shutting_down (8)" "^refused 8" "$DD_TMP/held.out"
dd_check "the sockets are gone" test ! -e "$RUN/A.sock" -a ! -e "$RUN/agent-b.sock" -a ! -e "$RUN/C.sock"
if [ -z "$NOBODY_WHY" ]; then
  dd_check_grep "C counted the refused uid" "refused_cred +1 " "$DD_TMP/C.err"
else
  dd_skip "C counted the refused uid" "$NOBODY_WHY"
fi
dd_check_grep "B counted the bad messages" "bad_message +[1-9]" "$DD_TMP/B.err"
dd_check_grep "A counted the expired offers" "offers_expired +1[0-9] " "$DD_TMP/A.err"
dd_done

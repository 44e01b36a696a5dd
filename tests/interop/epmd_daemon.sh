#!/usr/bin/env bash
# The dpdist-epmd daemon as a program: command line, environment, -daemon, -address,
# IPv6, and access rules for remote peers. Starts: dpdist-epmd several times; a network
# namespace joined to this host by a veth pair (a real remote peer); raw EPMD requests
# written with bash's /dev/tcp. Needs root for the namespace (skipped with a reason if not).
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init epmd_daemon
EPMD=$DPDIST_BUILD/tools/dpdist-epmd

# hexdump of what a raw request gets back (empty if the daemon closed silently;
# "noconnect" if there was no daemon to ask, so that "closed silently" cannot pass by
# accident)
raw_request() { # host port printf-format
  bash -c "exec 3<>/dev/tcp/$1/$2 || { echo noconnect; exit 9; }; printf '$3' >&3; timeout 3 cat <&3 | od -An -tx1 | tr -d ' \n'" 2>/dev/null
}

# --- command line and environment -------------------------------------------------
"$EPMD" -port notaport >"$DD_TMP/bad1.txt" 2>&1; rc=$?
dd_check "-port with garbage fails (rc=$rc)" test $rc -eq 1
dd_check_grep "-port error says what is wrong" "-port needs a port number" "$DD_TMP/bad1.txt"
"$EPMD" -bogus >"$DD_TMP/bad2.txt" 2>&1; rc=$?
dd_check "unknown option fails with usage (rc=$rc)" test $rc -eq 1
dd_check_grep "usage printed" "^usage: dpdist-epmd" "$DD_TMP/bad2.txt"
P=$(dd_free_port)
"$EPMD" -port "$P" -address "1.2.3.x" >"$DD_TMP/bad3.txt" 2>&1; rc=$?
dd_check "unparsable -address fails (rc=$rc)" test $rc -eq 1
dd_check_grep "-address error names the token" 'cannot parse IP address "1.2.3.x"' "$DD_TMP/bad3.txt"

# -daemon returns once listening; ERL_EPMD_PORT is honoured by daemon and client.
P=$(dd_free_port)
ERL_EPMD_PORT=$P "$EPMD" -daemon; rc=$?
dd_check "-daemon returns 0 (rc=$rc)" test $rc -eq 0
dd_check "daemonised server listens on ERL_EPMD_PORT" dd_wait_port "$P" 5
DPID=$(ss -Hltnp "( sport = :$P )" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$DPID" ] && dd_track "$DPID"
ERL_EPMD_PORT=$P "$EPMD" -names >"$DD_TMP/d-names.txt" 2>&1
dd_check_grep "client finds the daemon through ERL_EPMD_PORT" "up and running on port $P" "$DD_TMP/d-names.txt"
"$EPMD" -port "$P" >"$DD_TMP/inuse.txt" 2>&1; rc=$?
dd_check "a second daemon on a busy port exits 0 like the reference (rc=$rc)" test $rc -eq 0
dd_check_grep "and says why" "there is already a epmd running at port $P" "$DD_TMP/inuse.txt"
ERL_EPMD_PORT=$P "$EPMD" -kill >/dev/null 2>&1
dd_check "daemon gone after -kill" dd_wait_for bash -c "! ss -Hltn '( sport = :$P )' | grep -q ."

# ERL_EPMD_RELAXED_COMMAND_CHECK allows -kill with a live registration.
EPMD_PORT=$(dd_free_port)
ERL_EPMD_RELAXED_COMMAND_CHECK=1 "$EPMD" -port "$EPMD_PORT" >"$DD_TMP/relaxed.log" 2>&1 &
RPID=$!; dd_track $RPID
dd_check "relaxed daemon starts" dd_wait_port "$EPMD_PORT"
# a registration held open by a background shell: ALIVE2 for "rn", port 5000
bash -c "exec 3<>/dev/tcp/127.0.0.1/$EPMD_PORT; printf '\x00\x0fx\x13\x88M\x00\x00\x06\x00\x05\x00\x02rn\x00\x00' >&3; sleep 30" &
dd_track $!
dd_check "raw registration listed" dd_wait_for bash -c "'$EPMD' -port $EPMD_PORT -names | grep -q '^name rn at port 5000'"
"$EPMD" -port "$EPMD_PORT" -kill >"$DD_TMP/rkill.txt" 2>&1
dd_check_grep "ERL_EPMD_RELAXED_COMMAND_CHECK: -kill with live nodes is honoured" "^Killed" "$DD_TMP/rkill.txt"
dd_check "relaxed daemon exited" dd_wait_for bash -c "! kill -0 $RPID"

# --- IPv6 and -address ---------------------------------------------------------------
EPMD_PORT=$(dd_free_port)
"$EPMD" -port "$EPMD_PORT" -address 127.0.0.1 >"$DD_TMP/v6.log" 2>&1 &
dd_track $!
dd_check "daemon with -address 127.0.0.1 starts" dd_wait_port "$EPMD_PORT"
bash -c "exec 3<>/dev/tcp/127.0.0.1/$EPMD_PORT; printf '\x00\x0fx\x13\x88M\x00\x00\x06\x00\x05\x00\x02v6\x00\x00' >&3; sleep 30" &
dd_track $!
dd_check "raw registration v6 listed" \
  dd_wait_for bash -c "'$EPMD' -port $EPMD_PORT -names | grep -q '^name v6'"
V6="PORT_PLEASE2 over IPv6 (::1 is always listened on) finds the node"
if [ -e /proc/net/if_inet6 ] && ip -6 addr show dev lo | grep -q '::1'; then
  out=$(raw_request ::1 "$EPMD_PORT" '\x00\x03zv6')
  dd_check "$V6 [$out]" test "${out:0:8}" = "77001388"
else
  dd_skip "$V6" "IPv6 loopback (::1) not available on this machine"
fi
dd_check "-address list: nothing listens on the wildcard address" \
  bash -c "! ss -Hltn '( sport = :$EPMD_PORT )' | grep -q '0.0.0.0:$EPMD_PORT'"

# --- a remote peer (another network namespace) ----------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  dd_skip "the access rules for a remote peer (another network namespace)" \
    "needs root and iproute2 to create the namespace"
  dd_done; exit
fi
NS=ddns$DD_RUN_ID
VH=ddh${DD_RUN_ID:0:8}
VN=ddn${DD_RUN_ID:0:8}
NET=10.$((200 + RANDOM % 50)).$((RANDOM % 250)).
peer_up() {
  ip netns add "$NS" && dd_on_exit "ip netns del $NS" &&
    ip link add "$VH" type veth peer name "$VN" && dd_on_exit "ip link del $VH" &&
    ip link set "$VN" netns "$NS" &&
    ip addr add "${NET}1/24" dev "$VH" && ip link set "$VH" up &&
    ip netns exec "$NS" ip addr add "${NET}2/24" dev "$VN" &&
    ip netns exec "$NS" ip link set "$VN" up &&
    ip netns exec "$NS" ip link set lo up
}
dd_check "a network namespace joined to this host by a veth pair" peer_up || { dd_done; exit; }
EPMD_PORT=$(dd_free_port)
"$EPMD" -port "$EPMD_PORT" -address "${NET}1" -d >"$DD_TMP/remote.log" 2>&1 &
dd_track $!
dd_check "daemon on the veth address starts" dd_wait_port "$EPMD_PORT"
bash -c "exec 3<>/dev/tcp/127.0.0.1/$EPMD_PORT; printf '\x00\x0fx\x13\x88M\x00\x00\x06\x00\x05\x00\x02ln\x00\x00' >&3; sleep 30" &
dd_track $!
dd_check "local registration ln listed" \
  dd_wait_for bash -c "'$EPMD' -port $EPMD_PORT -names | grep -q '^name ln'"
remote() { ip netns exec "$NS" bash -c "$(declare -f raw_request); raw_request ${NET}1 $EPMD_PORT '$1'"; }
out=$(remote '\x00\x03zln')
dd_check "remote PORT_PLEASE2 is answered [$out]" test "${out:0:8}" = "77001388"
out=$(remote '\x00\x01n')
# NAMES_RESP starts with the daemon's port (4 bytes)
dd_check "remote NAMES is answered [${out:0:24}..]" test "${out:0:8}" = "$(printf '%08x' "$EPMD_PORT")"
out=$(remote '\x00\x0fx\x13\x89M\x00\x00\x06\x00\x05\x00\x02rr\x00\x00')
dd_check "remote ALIVE2 is closed without an answer [$out]" test -z "$out"
out=$(remote '\x00\x01k')
dd_check "remote KILL is closed without an answer [$out]" test -z "$out"
out=$(remote '\x00\x01d')
dd_check "remote DUMP is closed without an answer [$out]" test -z "$out"
dd_check "daemon survived the remote requests" bash -c "'$EPMD' -port $EPMD_PORT -names | grep -q '^name ln'"
dd_check "remote registration did not happen" dd_epmd_lacks "$EPMD_PORT" rr "$EPMD"
dd_check_grep "debug log names the refusal" "from non local address refused" "$DD_TMP/remote.log"
dd_done

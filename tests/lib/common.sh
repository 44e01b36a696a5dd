# Shared helpers for shell-driven tests (interop, fault, config). Source it, then call
# dd_test_init. Every process a test starts is registered with dd_track so it is killed on
# exit; every name, port and file is unique to the test run.
#
# Results are TAP lines: `ok N - what`, `not ok N - what`, and `ok N - what # SKIP why` for
# a check this machine cannot make (dd_skip): never a silent pass. A test whose checks were
# all skipped exits 77 (meson's SKIP); one that made no check at all fails.
#
# Environment (set by meson): DPDIST_BUILD (build dir), DPDIST_SRC (source dir).

set -uo pipefail

DD_PIDS=()
DD_CLEANUP=()
DD_FAILS=0
DD_CHECKS=0
DD_SKIPS=0

dd_test_init() {
  DD_NAME=${1:-$(basename "$0" .sh)}
  : "${DPDIST_BUILD:?DPDIST_BUILD must point at the build directory}"
  : "${DPDIST_SRC:?DPDIST_SRC must point at the source directory}"
  DD_TMP=$(mktemp -d "/tmp/dpdist-${DD_NAME}.XXXXXX")
  # A private HOME so erl's cookie file stays in the test's directory, and its crash dumps
  # too (erl writes them in its working directory, the build directory under meson).
  export HOME="$DD_TMP/home"
  export ERL_CRASH_DUMP="$DD_TMP/erl_crash.dump"
  mkdir -p "$HOME"
  DD_RUN_ID=$(printf '%04x%04x' $$ $RANDOM)
  trap dd_cleanup EXIT
  trap 'exit 130' INT TERM
}

dd_cleanup() {
  local rc=$?
  for pid in "${DD_PIDS[@]}"; do
    dd_is_ours "$pid" || continue
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
  done
  sleep 0.2
  for pid in "${DD_PIDS[@]}"; do dd_is_ours "$pid" && kill -KILL "$pid" 2>/dev/null; done
  for cmd in "${DD_CLEANUP[@]}"; do eval "$cmd" 2>/dev/null; done
  if [ "${DD_KEEP_TMP:-0}" = 1 ] || [ $DD_FAILS -gt 0 ]; then
    echo "# test files kept in $DD_TMP"
  else
    rm -rf "$DD_TMP"
  fi
  if [ $rc -eq 0 ] && [ $DD_FAILS -gt 0 ]; then rc=1; fi
  exit $rc
}

# dd_track PID: the test's exit stops PID. Its start time is kept with it: PIDs wrap around
# within seconds on a busy machine, and a PID whose process ended long ago may belong to
# another test's (or another user's) process by then; dd_is_ours says whether it still is ours.
declare -A DD_PID_START=()
dd_pid_start() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
dd_track() { DD_PIDS+=("$1"); DD_PID_START[$1]=$(dd_pid_start "$1"); }
dd_is_ours() {
  local now
  now=$(dd_pid_start "$1") || return 1
  [ -n "$now" ] && [ "$now" = "${DD_PID_START[$1]:-}" ]
}
dd_on_exit() { DD_CLEANUP+=("$1"); }

# A TCP port nobody listens on now (v4 and v6), from a range away from ephemeral ports.
dd_free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! ss -Hltn "( sport = :$p )" | grep -q . ; then echo "$p"; return 0; fi
  done
  echo "no free port" >&2; return 1
}

# Waits until something listens on TCP port $1 (up to $2 seconds, default 10).
dd_wait_port() {
  local port=$1 limit=${2:-10} i
  for i in $(seq 1 $((limit * 20))); do
    ss -Hltn "( sport = :$port )" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}

# Waits until command "$@" succeeds, for up to DD_WAIT seconds (default 15).
dd_wait_for() {
  local limit=${DD_WAIT:-15} i
  for i in $(seq 1 $((limit * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

dd_pass() { DD_CHECKS=$((DD_CHECKS + 1)); echo "ok $DD_CHECKS - $*"; }
# dd_fail returns 1, so `dd_check ... || what to do then` works
dd_fail() {
  DD_CHECKS=$((DD_CHECKS + 1)); DD_FAILS=$((DD_FAILS + 1)); echo "not ok $DD_CHECKS - $*"
  return 1
}
# dd_skip "description" "reason": a check not made here, reported as skipped with its reason
dd_skip() {
  DD_CHECKS=$((DD_CHECKS + 1)); DD_SKIPS=$((DD_SKIPS + 1)); echo "ok $DD_CHECKS - $1 # SKIP $2"
}

# dd_check "description" command...   (passes when the command succeeds; returns its result)
dd_check() {
  local desc=$1; shift
  if "$@"; then dd_pass "$desc"; else dd_fail "$desc"; fi
}

# dd_check_grep "description" pattern file
dd_check_grep() {
  if grep -qE -- "$2" "$3"; then dd_pass "$1"; else
    dd_fail "$1 (no /$2/ in $3:)"; sed 's/^/#   /' "$3" | tail -n 20
  fi
}

# dd_check_no_grep "description" pattern file   (the file must exist: no file proves nothing)
dd_check_no_grep() {
  if [ ! -r "$3" ]; then dd_fail "$1 (no file $3 to look in)"; return; fi
  if ! grep -qE -- "$2" "$3"; then dd_pass "$1"; else
    dd_fail "$1 (unexpected /$2/ in $3:)"; grep -E -- "$2" "$3" | sed 's/^/#   /' | head
  fi
}

# The summary; the test's status: 1 with a failure or without any check, 77 (meson's SKIP)
# when every check was skipped, else 0. Call it last: `dd_done` (its status is the script's).
dd_done() {
  echo "# $DD_NAME: $DD_CHECKS checks, $DD_FAILS failed, $DD_SKIPS skipped"
  if [ $DD_CHECKS -eq 0 ]; then
    echo "not ok 1 - $DD_NAME made no check"
    DD_FAILS=1
    exit 1
  fi
  [ $DD_FAILS -eq 0 ] || exit 1
  [ $DD_SKIPS -lt $DD_CHECKS ] || exit 77
  return 0
}

# Starts dpdist-epmd on a fresh port; sets EPMD_PORT and EPMD_PID. Extra args passed on.
dd_start_dpdist_epmd() {
  EPMD_PORT=$(dd_free_port) || return 1
  "$DPDIST_BUILD/tools/dpdist-epmd" -port "$EPMD_PORT" "$@" >"$DD_TMP/dpdist-epmd.log" 2>&1 &
  EPMD_PID=$!
  dd_track $EPMD_PID
  dd_wait_port "$EPMD_PORT" 10
}

# Starts the reference epmd (Debian's) on a fresh port; sets EPMD_PORT and EPMD_PID.
dd_start_real_epmd() {
  EPMD_PORT=$(dd_free_port) || return 1
  epmd -port "$EPMD_PORT" "$@" >"$DD_TMP/real-epmd.log" 2>&1 &
  EPMD_PID=$!
  dd_track $EPMD_PID
  dd_wait_port "$EPMD_PORT" 10
}

# dd_remote_peer_ns: a network namespace joined to this host by a veth pair, so that a process
# run in it (ip netns exec "$DD_PEER_NS" ...) is a real remote peer. Sets DD_PEER_NS, DD_HOST_IP
# (this host's end) and DD_PEER_IP (the namespace's end); both are removed on exit. Needs root.
dd_remote_peer_ns() {
  local net=10.$((150 + RANDOM % 100)).$((RANDOM % 250)).
  local vh=ddh${DD_RUN_ID:0:8} vn=ddn${DD_RUN_ID:0:8}
  DD_PEER_NS=ddns$DD_RUN_ID
  ip netns add "$DD_PEER_NS" || return 1
  dd_on_exit "ip netns del $DD_PEER_NS"
  ip link add "$vh" type veth peer name "$vn" || return 1
  dd_on_exit "ip link del $vh"
  ip link set "$vn" netns "$DD_PEER_NS" && ip addr add "${net}1/24" dev "$vh" &&
    ip link set "$vh" up && ip -n "$DD_PEER_NS" addr add "${net}2/24" dev "$vn" &&
    ip -n "$DD_PEER_NS" link set "$vn" up && ip -n "$DD_PEER_NS" link set lo up || return 1
  DD_HOST_IP=${net}1
  DD_PEER_IP=${net}2
}

# dd_erl NAME LOGFILE EVAL-EXPR [extra erl args...]: a real BEAM node in the background,
# registered with the EPMD on $EPMD_PORT; sets ERL_PID. The node never starts its own epmd.
dd_erl() {
  local name=$1 log=$2 expr=$3; shift 3
  ERL_EPMD_PORT=$EPMD_PORT erl -sname "$name" -start_epmd false -noshell -noinput \
    -setcookie "${DD_COOKIE:-dpdistcookie}" "$@" -eval "$expr" >"$log" 2>&1 &
  ERL_PID=$!
  dd_track $ERL_PID
}

# dd_epmd_lacks PORT NAME [CLIENT]: the EPMD on PORT answers -names (asked with CLIENT,
# default the real `epmd`) and does not list NAME. A daemon that does not answer lists
# nothing either: that must not count as the name being gone.
dd_epmd_lacks() {
  local out
  out=$("${3:-epmd}" -port "$1" -names 2>&1) || return 1
  grep -q '^epmd: up and running' <<<"$out" && ! grep -q "^name $2 " <<<"$out"
}

# Short host name as erl uses it for -sname.
dd_short_host() { hostname -s; }

# Compiles tests/interop/dd_interop.erl into $DD_TMP/ebin (once per test).
dd_build_erl() {
  mkdir -p "$DD_TMP/ebin"
  erlc -o "$DD_TMP/ebin" "$DPDIST_SRC/tests/interop/dd_interop.erl"
}

# dd_start_echo NAME LOG [flags...]: dpdist-echo in the background (registered with the EPMD
# on $EPMD_PORT); waits for its "ready" line; sets ECHO_PID.
dd_start_echo() {
  local name=$1 log=$2; shift 2
  ERL_EPMD_PORT=$EPMD_PORT "$DPDIST_BUILD/tools/dpdist-echo" -sname "$name" \
    -setcookie "${DD_COOKIE:-dpdistcookie}" "$@" >"$log" 2>&1 &
  ECHO_PID=$!
  dd_track $ECHO_PID
  DD_WAIT=20 dd_wait_for grep -q "ready" "$log"
}

# dd_erl_run NAME LOG EXPR [erl args...]: a BEAM node that runs EXPR with dd_interop loaded,
# then halts; waits for it (bounded) and returns its exit status.
dd_erl_run() {
  local name=$1 log=$2 expr=$3; shift 3
  ERL_EPMD_PORT=$EPMD_PORT timeout "${DD_ERL_TIMEOUT:-90}" erl -sname "$name" \
    -start_epmd false -noshell -noinput -setcookie "${DD_COOKIE:-dpdistcookie}" \
    -pa "$DD_TMP/ebin" "$@" -eval "$expr, halt(0)." >"$log" 2>&1
}

# dd_erl_checks LOG [STATUS]: counts the dd_interop check lines of an erl's log into the
# test's totals; a log without any check line fails (an erl that printed nothing checked
# nothing), and so does an erl exit STATUS other than 0 (with the log's end).
dd_erl_checks() {
  local log=$1 line n=0
  if [ $# -ge 2 ]; then
    if [ "$2" -eq 0 ]; then dd_pass "$(basename "$log"): erl exited 0"; else
      dd_fail "$(basename "$log"): erl exited $2"; tail -n 15 "$log" 2>/dev/null | sed 's/^/#   /'
    fi
  fi
  while IFS= read -r line; do
    case $line in
      "ok "*) dd_pass "${line#ok }"; n=$((n + 1)) ;;
      "FAIL "*) dd_fail "${line#FAIL }"; n=$((n + 1)) ;;
    esac
  done < <(cat "$log" 2>/dev/null)
  [ $n -gt 0 ] || { dd_fail "$(basename "$log"): erl printed no check line"; tail -n 15 "$log" 2>/dev/null | sed 's/^/#   /'; }
}

# Helpers for the tests of the BEAM application (beam/, docs/agent.md). Source after
# tests/lib/common.sh (and dd_test_init). The nodes they start are real `erl` (Debian's),
# registered with the EPMD on $EPMD_PORT, and are tracked so that the test's exit stops them.

DD_BEAM_EBIN="$DPDIST_BUILD/beam/ebin"
DD_BEAM_ARGS="$DPDIST_BUILD/beam/dpdist.args"

# dd_build_beam_erl: tests/interop/dd_interop.erl and dd_beam.erl into $DD_TMP/ebin.
dd_build_beam_erl() {
  dd_build_erl && erlc -o "$DD_TMP/ebin" "$DPDIST_SRC/tests/interop/dd_beam.erl"
}

# dd_epmd_lists PORT NAME [CLIENT]: the EPMD on PORT lists NAME (asked with CLIENT, default
# the real `epmd`).
dd_epmd_lists() {
  "${3:-epmd}" -port "$1" -names 2>/dev/null | grep -q "^name $2 "
}

# dd_beam_idle NAME LOG [erl args...]: a BEAM node in the background that serves until it is
# stopped (it halts by itself after 300 s), with $DD_TMP/ebin on its path; waits until the
# EPMD lists it. Sets ERL_PID.
dd_beam_idle() {
  local name=$1 log=$2; shift 2
  dd_erl "$name" "$log" "receive after 300000 -> ok end, halt()." -pa "$DD_TMP/ebin" "$@"
  DD_WAIT=30 dd_wait_for dd_epmd_lists "$EPMD_PORT" "$name"
}

# dd_beam_remsh DESC TARGET LOG [erl args...]: `erl -remsh TARGET` (with the extra args)
# evaluates one expression on TARGET through a pseudo-terminal (erl ignores -remsh without
# one; script(1) from util-linux gives it one) and the check passes when the answer names
# TARGET. Then ^G q quits the local shell (q() would stop TARGET); bounded by timeout.
dd_beam_remsh() {
  local desc=$1 target=$2 log=$3; shift 3
  if ! command -v script >/dev/null; then
    dd_skip "$desc" "script(1) from util-linux is not installed: erl -remsh needs a terminal"
    return
  fi
  local expr='io:format("remsh-node ~p~n", [node()]).'
  (
    sleep 2
    printf '%s\n' "$expr"
    for _ in $(seq 1 150); do
      grep -qE 'remsh-node [a-z]' "$log" 2>/dev/null && break
      sleep 0.1
    done
    printf '\007'
    sleep 0.3
    printf 'q\n'
  ) | ERL_EPMD_PORT=$EPMD_PORT timeout 40 script -qfec "erl -sname rsh$RANDOM$DD_RUN_ID \
      -setcookie ${DD_COOKIE:-dpdistcookie} -start_epmd false -remsh $target $*" /dev/null \
      >"$log" 2>&1
  dd_check_grep "$desc" "remsh-node '?$target'?" "$log"
}

# dd_beam_stop SIGNAL PID...: sends SIGNAL to each PID (a child of this shell), waits for it
# and takes it off the list the test's exit kills. PIDs wrap around within seconds on a busy
# machine, so a PID left on that list after its process ended could belong to someone
# else's process by the time the test exits.
dd_beam_stop() {
  local sig=$1 pid p keep
  shift
  for pid in "$@"; do
    [ "$sig" = none ] || kill "-$sig" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    keep=()
    for p in "${DD_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    DD_PIDS=("${keep[@]}")
  done
}

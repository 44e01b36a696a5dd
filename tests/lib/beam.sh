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

#!/usr/bin/env bash
# beam-epmd: dpdist_epmd, the -epmd_module of the BEAM application (beam/), against both name
# servers. Starts, once with Erlang's `epmd` and once with `dpdist-epmd` (each on its own
# port, restarted once on it): real BEAM nodes (Debian's erl) with -epmd_module dpdist_epmd,
# one with -dpdist_agent and one without, a plain erl node, and short-lived erl nodes that
# check. Checks: both nodes register (listed by both EPMD clients); a raw PORT_PLEASE2 from a
# node without dpdist code sees the Extra "DPA1" 2 of the one with an agent and an empty one
# for the other; dpdist_epmd's lookup keeps that Extra; names and connections go through
# dpdist_epmd, both directions with a plain node; a duplicate name is refused; the
# registration comes back after the name server restarts; a stopped node is unregistered.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/beam.sh"
dd_test_init beam_epmd
dd_build_beam_erl || { dd_fail "erlc dd_interop.erl dd_beam.erl"; dd_done; exit 1; }
H=$(dd_short_host)
DPA='<<"DPA1",2>>'
DPEPMD=("-epmd_module" "dpdist_epmd" "-pa" "$DD_BEAM_EBIN")

start_name_server() { # KIND [PORT]: starts it (on PORT when given); sets EPMD_PID
  if [ "$1" = real ]; then
    if [ $# -gt 1 ]; then
      epmd -port "$2" >>"$DD_TMP/real-epmd.log" 2>&1 &
      EPMD_PID=$!; dd_track $EPMD_PID; dd_wait_port "$2" 10
    else dd_start_real_epmd; fi
  else
    if [ $# -gt 1 ]; then
      "$DPDIST_BUILD/tools/dpdist-epmd" -port "$2" >>"$DD_TMP/dpdist-epmd.log" 2>&1 &
      EPMD_PID=$!; dd_track $EPMD_PID; dd_wait_port "$2" 10
    else dd_start_dpdist_epmd; fi
  fi
}

for kind in real dpdist; do
  case $kind in
    real) client=epmd ;;
    dpdist) client="$DPDIST_BUILD/tools/dpdist-epmd" ;;
  esac
  A=ag$kind$DD_RUN_ID P=pl$kind$DD_RUN_ID N=np$kind$DD_RUN_ID
  dd_check "[$kind] the name server starts" start_name_server $kind || continue
  dd_check "[$kind] a node with dpdist_epmd and -dpdist_agent registers" \
    dd_beam_idle "$A" "$DD_TMP/$A.log" "${DPEPMD[@]}" -dpdist_agent "$DD_TMP/agent.sock"
  A_PID=$ERL_PID
  dd_check "[$kind] a node with dpdist_epmd and no agent registers" \
    dd_beam_idle "$P" "$DD_TMP/$P.log" "${DPEPMD[@]}"
  P_PID=$ERL_PID
  dd_check "[$kind] a plain node registers" dd_beam_idle "$N" "$DD_TMP/$N.log"
  N_PID=$ERL_PID
  dd_check "[$kind] dpdist-epmd -names lists both dpdist_epmd nodes" bash -c "
    $(declare -f dd_epmd_lists); dd_epmd_lists $EPMD_PORT $A $DPDIST_BUILD/tools/dpdist-epmd &&
    dd_epmd_lists $EPMD_PORT $P $DPDIST_BUILD/tools/dpdist-epmd"
  dd_check "[$kind] epmd -names lists both" bash -c "
    $(declare -f dd_epmd_lists); dd_epmd_lists $EPMD_PORT $A && dd_epmd_lists $EPMD_PORT $P"

  dd_erl_run "c1$kind$DD_RUN_ID" "$DD_TMP/c1-$kind.log" "
    dd_beam:expect_raw_extra(\"$A\", $EPMD_PORT, $DPA),
    dd_beam:expect_raw_extra(\"$P\", $EPMD_PORT, <<>>),
    dd_beam:expect_raw_extra(\"$N\", $EPMD_PORT, <<>>)"
  dd_erl_checks "$DD_TMP/c1-$kind.log" $?
  dd_erl_run "c2$kind$DD_RUN_ID" "$DD_TMP/c2-$kind.log" \
    "dd_beam:dpdist_epmd_checks('$A@$H', '$P@$H', $DPA)" "${DPEPMD[@]}"
  dd_erl_checks "$DD_TMP/c2-$kind.log" $?
  # A plain node dials the node with dpdist_epmd; that node dials a plain one.
  dd_erl_run "c3$kind$DD_RUN_ID" "$DD_TMP/c3-$kind.log" "
    dd_interop:ping_expect('$A@$H', pong),
    R = rpc:call('$A@$H', net_adm, ping, ['$N@$H']),
    dd_interop:report(\"the dpdist_epmd node pings a plain node\", R =:= pong orelse R)"
  dd_erl_checks "$DD_TMP/c3-$kind.log" $?

  ERL_EPMD_PORT=$EPMD_PORT timeout 60 erl -sname "$A" -start_epmd false -noshell -noinput \
    -setcookie dpdistcookie "${DPEPMD[@]}" -eval 'halt(0).' >"$DD_TMP/dup-$kind.log" 2>&1
  dd_check "[$kind] a second node with the same name does not start" test $? -ne 0
  dd_check_grep "[$kind] ... and erl says the name is in use" "seems to be in use" \
    "$DD_TMP/dup-$kind.log"
  dd_check "[$kind] the first one stays registered" dd_epmd_lists "$EPMD_PORT" "$A"

  dd_beam_stop TERM "$EPMD_PID"
  dd_check "[$kind] the name server restarts on its port" start_name_server $kind "$EPMD_PORT"
  dd_check "[$kind] the node registers again (its retry is 2 s)" \
    env DD_WAIT=15 bash -c "$(declare -f dd_wait_for dd_epmd_lists)
      dd_wait_for dd_epmd_lists $EPMD_PORT $A"
  dd_check_grep "[$kind] ... and logs the loss" "closed the registration of $A" "$DD_TMP/$A.log"
  dd_check_grep "[$kind] ... and the return" "$A is registered again" "$DD_TMP/$A.log"
  dd_erl_run "c4$kind$DD_RUN_ID" "$DD_TMP/c4-$kind.log" \
    "dd_beam:expect_raw_extra(\"$A\", $EPMD_PORT, $DPA), dd_interop:ping_expect('$A@$H', pong)"
  dd_erl_checks "$DD_TMP/c4-$kind.log" $?

  dd_beam_stop TERM "$P_PID"
  dd_check "[$kind] a stopped node is unregistered" dd_wait_for dd_epmd_lacks "$EPMD_PORT" "$P"
  dd_check "[$kind] the nodes kept running" kill -0 "$A_PID" "$N_PID"
  dd_beam_stop TERM "$A_PID" "$N_PID" "$EPMD_PID"
done
dd_done

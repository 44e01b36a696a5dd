#!/usr/bin/env bash
# Interop: a real BEAM node (Debian's erl) guessing the cookie of a dpdist node. Starts:
# dpdist-epmd, dpdist-echo (default handshake_backoff_ms 50, max 10 s), a BEAM node with a
# wrong cookie that pings echo again and again for 3 s from 127.0.0.1 (every ping a new
# handshake), and meanwhile a BEAM node with the cookie that connects from 127.0.0.2
# (inet_dist_connect_options). Checks: the guesser gets at most 6 answers in 3 s (holds of
# 50, 100, 200, 400, 800 ms after its failures; the 7th answer comes after 3.1 s), where the
# node answered thousands before; the other node gets pong at once; echo logs at most 3
# lines for the guesser's failures, then one summary line after its 10 s interval.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init node_handshake_guard
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
H=$(dd_short_host)
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
E=hg$DD_RUN_ID
dd_check "dpdist-echo starts" dd_start_echo "$E" "$DD_TMP/echo.log"
EPID=$ECHO_PID

DD_COOKIE=WRONG dd_erl "g$DD_RUN_ID" "$DD_TMP/guesser.log" "
  code:add_patha(\"$DD_TMP/ebin\"), dd_interop:guess_for('$E@$H', 3000, 6), halt(0)."
GPID=$ERL_PID
sleep 1.5 # the guesser is being held by now
dd_erl_run "l$DD_RUN_ID" "$DD_TMP/legit.log" "dd_interop:timed_ping('$E@$H', 3000)" \
  -kernel inet_dist_connect_options '[{ip,{127,0,0,2}}]'
dd_erl_checks "$DD_TMP/legit.log"
timeout 60 tail --pid="$GPID" -f /dev/null
dd_erl_checks "$DD_TMP/guesser.log"
grep -E "^answered|^ping took" "$DD_TMP/guesser.log" "$DD_TMP/legit.log" | sed 's/^/# /'
n=$(grep -c "Connection attempt from disallowed node g$DD_RUN_ID" "$DD_TMP/echo.log")
dd_check "echo logs at most 3 of the guesser's failures one by one (logged $n)" test "$n" -le 3
dd_check "echo logs them with the address" \
  grep -q "disallowed node g$DD_RUN_ID@$H \*\* (address 127.0.0.1)" "$DD_TMP/echo.log"
dd_check "then one summary line after the interval" env DD_WAIT=15 bash -c \
  "$(declare -f dd_wait_for); dd_wait_for grep -q 'failed handshakes from 127.0.0.1 suppressed' '$DD_TMP/echo.log'"
kill -TERM "$EPID" 2>/dev/null
wait "$EPID"
dd_check "dpdist-echo stops cleanly on SIGTERM (exit status 0)" test $? -eq 0
dd_done

#!/usr/bin/env bash
# Interop: deeply nested terms from a real BEAM node (Debian's erl) must not kill a dpdist
# node. Starts: dpdist-epmd, dpdist-echo, one BEAM node that sends 10^6- and 10^7-deep lists,
# tuples and maps through every path of the dpdist node that decodes peer input (net_kernel
# '$gen_call' tag and request, the echo mailbox by name and by pid and all its commands, an
# exit signal with a deep reason) and checks after each that echo still answers a round trip.
# Before the fix, libei's recursive ei_skip_term overflowed the stack at 10^6 levels (6 MB).
# The largest term here, a 10^7-deep map, is 90 MB: within the TCP message limit of 256 MiB
# (dd_node_cfg.max_message_bytes' default).
# DD_DEEP_DEPTHS overrides the depths (e.g. "1000000" for a quick run).
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init node_deep_terms
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
H=$(dd_short_host)
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
E=deep$DD_RUN_ID
dd_check "dpdist-echo starts" dd_start_echo "$E" "$DD_TMP/echo.log"
EPID=$ECHO_PID

for depth in ${DD_DEEP_DEPTHS:-1000000 10000000}; do
  for shape in list tuple map; do
    log="$DD_TMP/beam-$shape-$depth.log"
    DD_ERL_TIMEOUT=600 dd_erl_run "b$shape$depth$DD_RUN_ID" "$log" \
      "dd_interop:deep_checks('$E@$H', $shape, $depth)"
    dd_erl_checks "$log"
    if ! grep -q "^ok echo still answers after every path" "$log"; then
      sed 's/^/#   /' "$log" | tail -n 15
    fi
    if kill -0 "$EPID" 2>/dev/null; then
      dd_pass "dpdist-echo is alive after the $depth-deep ${shape}s"
    else
      dd_fail "dpdist-echo is alive after the $depth-deep ${shape}s"
      break 2
    fi
  done
done
kill -TERM "$EPID" 2>/dev/null
wait "$EPID"
dd_check "dpdist-echo stops cleanly on SIGTERM at the end (exit status 0)" test $? -eq 0
dd_done

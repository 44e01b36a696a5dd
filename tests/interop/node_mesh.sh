#!/usr/bin/env bash
# Interop: the mesh of published dpdist nodes, driven from a hidden BEAM node.
# Starts: dpdist-epmd, four published dpdist-echo nodes A, B, C, D, one hidden dpdist-echo H,
# and a hidden BEAM node (Debian's erl -hidden) as the driver. The driver makes A talk to B
# and C to D, then A to C: all four must end up connected to the three others (exact sets,
# bounded wait). Then H talks to A only: H learns nobody else, and nobody learns of H. The
# driver's log must hold no warning or error report.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init node_mesh
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
H=$(dd_short_host)
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
for n in a b c d; do
  dd_check "published dpdist-echo $n starts" dd_start_echo "m$n$DD_RUN_ID" "$DD_TMP/echo_$n.log"
done
dd_check "hidden dpdist-echo h starts" dd_start_echo "mh$DD_RUN_ID" "$DD_TMP/echo_h.log" -hidden

A="'ma$DD_RUN_ID@$H'" B="'mb$DD_RUN_ID@$H'" C="'mc$DD_RUN_ID@$H'" D="'md$DD_RUN_ID@$H'"
HN="'mh$DD_RUN_ID@$H'"
T0=$(date +%s%N)
dd_erl_run "drv$DD_RUN_ID" "$DD_TMP/driver.log" "
  A = $A, B = $B, C = $C, D = $D, Hid = $HN, Me = node(),
  All = [A, B, C, D],
  Others = fun(X) -> lists:sort(All -- [X]) end,
  %% A talks to B, C to D: two pairs.
  {echo, A} ! {send_to, {echo, B}, hello},
  {echo, C} ! {send_to, {echo, D}, hello},
  dd_interop:nodes_exact(A, {[B], [Me]}, 10000),
  dd_interop:nodes_exact(C, {[D], [Me]}, 10000),
  %% A meets C: each learns the other's published nodes and connects to them.
  T0 = erlang:monotonic_time(millisecond),
  {echo, A} ! {send_to, {echo, C}, hello},
  [dd_interop:nodes_exact(X, {Others(X), [Me]}, 15000) || X <- All],
  io:format(\"# full mesh of four after ~p ms~n\", [erlang:monotonic_time(millisecond) - T0]),
  %% The hidden node connects where asked (A) and nowhere else; nobody learns of it.
  {echo, Hid} ! {send_to, {echo, A}, hello},
  dd_interop:nodes_exact(A, {Others(A), [Hid, Me]}, 10000),
  timer:sleep(1500),
  dd_interop:nodes_exact(Hid, {[], [A, Me]}, 1000),
  [dd_interop:nodes_exact(X, {Others(X), [Me]}, 1000) || X <- [B, C, D]],
  %% The driver itself is hidden: it is in no mesh list either.
  dd_interop:report(\"the driver is connected to the five echoes only\",
    lists:sort(nodes(hidden)) =:= lists:sort([Hid | All]) orelse nodes(hidden))
" -hidden -kernel logger_level info
rc=$?
T1=$(date +%s%N)
echo "# mesh scenario took $(( (T1 - T0) / 1000000 )) ms"
dd_erl_checks "$DD_TMP/driver.log" $rc
grep "^# full mesh" "$DD_TMP/driver.log"

awk '/^=[A-Z ]+REPORT====/ {r=1} r {print} /^$/ {r=0}' "$DD_TMP/driver.log" >"$DD_TMP/reports.txt"
dd_check_grep "the driver's reports are captured (progress reports at level info)" \
  "^=PROGRESS REPORT" "$DD_TMP/reports.txt"
dd_check_no_grep "the driver logs no warning, error or crash report" \
  "^=(WARNING|ERROR|CRASH|SUPERVISOR) REPORT" "$DD_TMP/reports.txt"
for n in a b c d h; do
  dd_check_no_grep "echo $n logs no warning or error" " (warning|error) " "$DD_TMP/echo_$n.log"
done
cat "$DD_TMP"/echo_[abcd].log >"$DD_TMP/echo_all.log"
dd_check_grep "the echoes log what they learnt from each other's lists" \
  "mesh: m[abcd]$DD_RUN_ID@$H knows m[abcd]$DD_RUN_ID@$H, connecting" "$DD_TMP/echo_all.log"
dd_check_no_grep "nobody meshes with the hidden node" "knows mh$DD_RUN_ID" "$DD_TMP/echo_all.log"
dd_done

#!/usr/bin/env bash
# beam-cluster: dpdist VMs (build/beam/dpdist.args) in an ordinary BEAM cluster with the
# kernel's defaults (connect_all: global meshes every node it learns of). Starts: dpdist-epmd;
# dpdist erl nodes A and B, a plain erl node P, a short-lived dpdist erl checker X that
# connects to A only. Checks: global meshes all four (connections made by global's own
# connects through dpdist_dist), global:sync, a name registered on X seen everywhere,
# rpc:multicall, pg groups with a member on every node seen from every node, and
# dpdist:info of every peer of A says tcp.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/beam.sh"
dd_test_init beam_cluster
dd_build_beam_erl || { dd_fail "erlc dd_interop.erl dd_beam.erl"; dd_done; exit 1; }
H=$(dd_short_host)
A=a$DD_RUN_ID B=b$DD_RUN_ID P=p$DD_RUN_ID
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
dd_check "dpdist node A starts" dd_beam_idle "$A" "$DD_TMP/A.log" -args_file "$DD_BEAM_ARGS"
dd_check "dpdist node B starts" dd_beam_idle "$B" "$DD_TMP/B.log" -args_file "$DD_BEAM_ARGS"
dd_check "plain node P starts" dd_beam_idle "$P" "$DD_TMP/P.log"
# A knows B and P before X arrives; X then only pings A.
dd_erl_run "k$DD_RUN_ID" "$DD_TMP/join.log" "
  dd_interop:report(\"A joins B\", rpc:call('$A@$H', net_adm, ping, ['$B@$H']) =:= pong),
  dd_interop:report(\"A joins P\", rpc:call('$A@$H', net_adm, ping, ['$P@$H']) =:= pong)" \
  -hidden
dd_erl_checks "$DD_TMP/join.log" $?
DD_ERL_TIMEOUT=120 dd_erl_run "x$DD_RUN_ID" "$DD_TMP/cluster.log" "
  A = '$A@$H', B = '$B@$H', P = '$P@$H',
  dd_interop:ping_expect(A, pong),
  dd_beam:cluster_checks([A, B, P], \"$DD_RUN_ID\"),
  [dd_interop:report(io_lib:format(\"on A, dpdist:info(~p) says tcp\", [N]),
     maps:get(carrier, rpc:call(A, dpdist, info, [N]), none) =:= tcp)
   || N <- [B, P, node()]],
  dd_interop:report(\"global made X's connections to B and P itself\",
    lists:sort(nodes()) =:= lists:sort([A, B, P]) orelse nodes())" \
  -args_file "$DD_BEAM_ARGS"
dd_erl_checks "$DD_TMP/cluster.log" $?
for n in A B; do
  dd_check_no_grep "no crash or error report on $n" "CRASH REPORT|ERROR REPORT" "$DD_TMP/$n.log"
done
dd_done

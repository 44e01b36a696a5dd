#!/usr/bin/env bash
# agent-beam: real BEAM nodes and the dpdist-agent (docs/agent.md §6, §9). Starts: Erlang's
# epmd on its own port; dpdist-agent A on its memif port (configs/agent-memif-a.ini, this
# run's paths) and agent D without a port that allows only user nobody; dpdist node N (real
# erl with build/beam/dpdist.args and -dpdist_agent A), dpdist node R (-dpdist_agent D),
# plain node P; short-lived erl checkers.
# Checks: N links to A (REGISTER/WELCOME: the agent logs it, dpdist:agent_link() says linked
# with A's endpoint); N's TCP connection to P works; A killed -9: N logs the loss, keeps
# running and keeps the very same TCP connection to P (same controller port); A started
# again: N links again by itself (new endpoint); R, whose uid D does not allow, is refused
# (D logs it, R logs why and runs over TCP); A stopped by SIGTERM: N is told shutting_down.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/beam.sh"
dd_test_init agent_beam
dd_build_beam_erl || { dd_fail "erlc dd_interop.erl dd_beam.erl"; dd_done; exit 1; }
AGENT=$DPDIST_BUILD/tools/dpdist-agent
H=$(dd_short_host)
N=n$DD_RUN_ID R=r$DD_RUN_ID P=p$DD_RUN_ID
NOCONN=(-kernel connect_all false)
RUN=$DD_TMP/run
mkdir -p "$RUN" && chmod 0755 "$RUN"
sed -e "s|^socket = .*|socket = $RUN/A.sock|" \
    -e "s|socket=/tmp/dpdist-agent.memif|socket=$RUN/memif.sock|" \
    -e "s|^file_prefix = .*|file_prefix = dd-agent-beam-$DD_RUN_ID|" \
    "$DPDIST_SRC/configs/agent-memif-a.ini" > "$DD_TMP/A.ini"
cat > "$DD_TMP/D.ini" <<CONF
[agent]
socket = $RUN/D.sock
socket_mode = 0666
allow_uids = nobody
CONF

# start_agent NAME CONFIG: in the background, log NAME.N.err (N: how many times started);
# waits for `ready`; sets AG_PID and AG_OUT.
declare -A STARTS=()
start_agent() {
  local name=$1 conf=$2
  STARTS[$name]=$(( ${STARTS[$name]:-0} + 1 ))
  AG_OUT=$DD_TMP/$name.${STARTS[$name]}
  "$AGENT" -config "$conf" > "$AG_OUT.out" 2> "$AG_OUT.err" &
  AG_PID=$!
  dd_track "$AG_PID"
  DD_WAIT=30 dd_wait_for grep -q ready "$AG_OUT.out"
}
endpoint_of() { printf "%u" "0x$(grep -o "endpoint [0-9a-f]*" "$1.out" | cut -d" " -f2)"; }

# check_on N EXPR DESC PATTERN: a plain checker evaluates EXPR (which prints one term) with
# Node bound to N's name; the check passes when its output matches PATTERN.
CHECKS=0
check_on() {
  local node=$1 expr=$2 desc=$3 pattern=$4
  CHECKS=$((CHECKS + 1))
  local log=$DD_TMP/check$CHECKS.log
  dd_erl_run "c$CHECKS$DD_RUN_ID" "$log" \
    "Node = '$node@$H', io:format(\"RESULT ~p~n\", [begin $expr end])" "${NOCONN[@]}"
  dd_check_grep "$desc" "^RESULT $pattern" "$log"
}

dd_check "epmd starts" dd_start_real_epmd
dd_check "agent A starts on its memif port" start_agent A "$DD_TMP/A.ini"
A_PID=$AG_PID A1=$AG_OUT
dd_check "dpdist node N starts with -dpdist_agent A" \
  dd_beam_idle "$N" "$DD_TMP/N.log" -args_file "$DD_BEAM_ARGS" "${NOCONN[@]}" \
  -dpdist_agent "$RUN/A.sock"
N_PID=$ERL_PID
dd_check "plain node P starts" dd_beam_idle "$P" "$DD_TMP/P.log" "${NOCONN[@]}"
P_PID=$ERL_PID
DD_WAIT=15 dd_wait_for grep -q "linked to the agent at $RUN/A.sock" "$DD_TMP/N.log"
dd_check_grep "N logs that it linked to A" "linked to the agent at $RUN/A.sock \(vm 1," "$DD_TMP/N.log"
dd_check_grep "A logs the VM, by name and pid" "VM 1 linked: $N@$H, pid $N_PID, uid 0" "$A1.err"
check_on "$N" "maps:with([state, vm_id, endpoint_id], rpc:call(Node, dpdist, agent_link, []))" \
  "dpdist:agent_link() on N: linked, vm 1, A's endpoint" \
  "#\{endpoint_id => $(endpoint_of "$A1"),state => linked,vm_id => 1\}"
check_on "$N" "rpc:call(Node, net_kernel, connect_node, ['$P@$H'])" "N connects to P (TCP)" true
check_on "$N" "lists:keyfind('$P@$H', 1, rpc:call(Node, erlang, system_info, [dist_ctrl]))" \
  "N's controller toward P" "\{'?$P@$H'?,#Port<[0-9.]+>\}"
PORT_BEFORE=$(grep -o '#Port<[0-9.]*>' "$DD_TMP/check$CHECKS.log")

# ---- the local agent dies --------------------------------------------------------------------
dd_beam_stop KILL "$A_PID"
DD_WAIT=10 dd_wait_for grep -q "lost the agent at $RUN/A.sock" "$DD_TMP/N.log"
dd_check_grep "N logs that it lost A and runs over TCP" \
  "lost the agent at $RUN/A.sock \(it closed the link\): distribution runs over TCP until it is back" \
  "$DD_TMP/N.log"
dd_check "N keeps running" kill -0 "$N_PID"
check_on "$N" "maps:get(state, rpc:call(Node, dpdist, agent_link, []))" \
  "dpdist:agent_link() on N: not linked" "(down|connecting)"
check_on "$N" "lists:keyfind('$P@$H', 1, rpc:call(Node, erlang, system_info, [dist_ctrl]))" \
  "N keeps the same TCP connection to P (controller $PORT_BEFORE)" "\{'?$P@$H'?,$PORT_BEFORE\}"
check_on "$N" "rpc:call(Node, rpc, call, ['$P@$H', erlang, node, []])" \
  "an rpc from N to P still works" "'?$P@$H'?"
dd_check_no_grep "nobody saw N go down (P's log)" "nodedown|noconnection" "$DD_TMP/P.log"

# ---- the agent is back ------------------------------------------------------------------------
dd_check "agent A starts again (its stale socket replaced)" start_agent A "$DD_TMP/A.ini"
A_PID=$AG_PID A2=$AG_OUT
DD_WAIT=15 dd_wait_for grep -q "VM 1 linked: $N@$H" "$A2.err"
dd_check_grep "N links again by itself" "VM 1 linked: $N@$H, pid $N_PID" "$A2.err"
dd_check "N logged the link twice" test "$(grep -c "linked to the agent at $RUN/A.sock" "$DD_TMP/N.log")" -eq 2
check_on "$N" "maps:with([state, endpoint_id], rpc:call(Node, dpdist, agent_link, []))" \
  "dpdist:agent_link() on N: linked to the new A" \
  "#\{endpoint_id => $(endpoint_of "$A2"),state => linked\}"

# ---- an agent this uid may not use --------------------------------------------------------------
dd_check "agent D (allows only nobody) starts" start_agent D "$DD_TMP/D.ini"
D_PID=$AG_PID D1=$AG_OUT
dd_check "dpdist node R starts with -dpdist_agent D" \
  dd_beam_idle "$R" "$DD_TMP/R.log" -args_file "$DD_BEAM_ARGS" "${NOCONN[@]}" \
  -dpdist_agent "$RUN/D.sock"
R_PID=$ERL_PID
DD_WAIT=15 dd_wait_for grep -q "closed the link before WELCOME" "$DD_TMP/R.log"
dd_check_grep "R logs why it does not use D" \
  "the agent at $RUN/D.sock closed the link before WELCOME \(is this user in its allow_uids or allow_gids\? its log says\): distribution runs over TCP" \
  "$DD_TMP/R.log"
dd_check_grep "D logs the refused uid" "refused pid $R_PID: uid 0 gid 0 may not use this agent" "$D1.err"
sleep 1
dd_check "R logged that once, not at every retry" \
  test "$(grep -c "closed the link before WELCOME" "$DD_TMP/R.log")" -eq 1
check_on "$R" "rpc:call(Node, rpc, call, ['$P@$H', erlang, node, []])" \
  "R works over TCP (rpc to P through R)" "'?$P@$H'?"

# ---- SIGTERM ----------------------------------------------------------------------------------
dd_beam_stop TERM "$A_PID" "$D_PID"
DD_WAIT=10 dd_wait_for grep -q "shutting_down" "$DD_TMP/N.log"
dd_check_grep "A's SIGTERM: N is told shutting_down" \
  "lost the agent at $RUN/A.sock \(refused: shutting_down" "$DD_TMP/N.log"
dd_check "N and R still run" kill -0 "$N_PID" "$R_PID"
dd_beam_stop TERM "$N_PID" "$R_PID" "$P_PID"
dd_done

#!/usr/bin/env bash
# Interop: the node-wide cap on reassembly memory against real BEAM nodes (Debian's erl) over
# TCP. Starts: dpdist-epmd, dpdist-echo with `max_reassembly_bytes = 96M` in its config, three
# BEAM nodes that each send a 40 MB message to echo (BEAM cuts it into 64 KiB fragments) and
# wait for it to come back, and BEAM observers that ask echo for its reassembly figures.
# The senders start while echo is stopped (SIGSTOP), so all three messages' first fragments
# are waiting when it resumes: two fit (each reserves ~40 MiB), the third must wait for room.
# One sender is stopped in the middle of its message: its unfinished message stays held
# (within the cap) while the others go through; resumed, it completes. Nothing is lost.
# Before the cap, the three messages were held at once (120 MiB) and nothing waited.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init node_reasm_cap
dd_build_erl || { dd_fail "erlc dd_interop.erl"; dd_done; exit 1; }
H=$(dd_short_host)
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd
E=cap$DD_RUN_ID
LIMIT=$((96 * 1024 * 1024))
cat >"$DD_TMP/echo.ini" <<INI
[node]
sname = $E
max_message_bytes = 64M
max_reassembly_bytes = 96M
INI
dd_check "dpdist-echo starts with max_reassembly_bytes = 96M" \
  dd_start_echo "$E" "$DD_TMP/echo.log" -config "$DD_TMP/echo.ini"
EPID=$ECHO_PID
GO="$DD_TMP/go"

declare -A SPID
for s in 1 2 3; do
  dd_erl "s$s$DD_RUN_ID" "$DD_TMP/sender$s.log" "
    code:add_patha(\"$DD_TMP/ebin\"),
    dd_interop:bulk_sender('$E@$H', $s, 40000000, \"$GO\"), halt(0)."
  SPID[$s]=$ERL_PID
done
for s in 1 2 3; do
  dd_check "sender $s connected" env DD_WAIT=30 bash -c \
    "$(declare -f dd_wait_for); dd_wait_for grep -q ready '$DD_TMP/sender$s.log'"
done

# Echo stops; the three messages start; sender 1 stops in the middle of its own.
kill -STOP "$EPID"
touch "$GO"
for s in 1 2 3; do
  DD_WAIT=30 dd_wait_for grep -q sending "$DD_TMP/sender$s.log"
done
sleep 1 # they write what the sockets take
kill -STOP "${SPID[1]}"
kill -CONT "$EPID"

# Senders 2 and 3 get their messages back; sender 1's unfinished message is held meanwhile.
for s in 2 3; do
  timeout 120 tail --pid="${SPID[$s]}" -f /dev/null
done
dd_erl_checks "$DD_TMP/sender2.log"
dd_erl_checks "$DD_TMP/sender3.log"
dd_erl_run "o1$DD_RUN_ID" "$DD_TMP/during.log" "dd_interop:reasm_report('$E@$H', during, $LIMIT)"
dd_erl_checks "$DD_TMP/during.log"
grep "^reassembly" "$DD_TMP/during.log" | sed 's/^/# /'
dd_check_grep "echo logs that a message start waits for room" \
  "reassembly memory is at its cap.*waits for room" "$DD_TMP/echo.log"

# Sender 1 resumes: its message completes too.
kill -CONT "${SPID[1]}"
timeout 120 tail --pid="${SPID[1]}" -f /dev/null
dd_erl_checks "$DD_TMP/sender1.log"
dd_erl_run "o2$DD_RUN_ID" "$DD_TMP/after.log" "dd_interop:reasm_report('$E@$H', after_all, $LIMIT)"
dd_erl_checks "$DD_TMP/after.log"
grep "^reassembly" "$DD_TMP/after.log" | sed 's/^/# /'

kill -TERM "$EPID" 2>/dev/null
wait "$EPID"
dd_check "dpdist-echo stops cleanly on SIGTERM (exit status 0)" test $? -eq 0
dd_done

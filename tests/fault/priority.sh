#!/usr/bin/env bash
# fault-priority: lane and flow scheduling, checked functionally.
# Starts: dpdist-epmd, and two dd_stress nodes over a net_memif pair (CPU 0 and CPU 1),
# heartbeats every 1 ms, max_msg_bytes above 64 MiB.
# The sender (role priority) streams two 64 MiB messages from one mailbox; while each is on
# the wire a second mailbox sends a 64-byte probe. The receiver logs each arrival with the
# frames its port had received and the heartbeats it had received (PRIO lines).
# Checks, for each 64 MiB message:
#  1. the probe arrives before the big message completes, and after part of it arrived (the
#     big message was in flight when the probe was sent); it overtakes most of the message
#     (waits for at most a third of its frames: those already on their way, a fair share and
#     retransmissions), not for the rest of it;
#  2. heartbeats keep arriving while the big message streams (they are not queued behind its
#     frames): some arrive between the probe and the end of the big message, and no gap is
#     as long as that time;
#  3. both 64 MiB messages arrive intact, in order.
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init priority
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd

HB_US=1000
dp_memif_pair a b "[lanes]\nhb_interval_us = $HB_US\nhb_missed_limit = 100\nmin_rto_us = 5000\nmax_msg_bytes = 80M\nrx_window_bytes = 160M\ntx_queue_bytes = 160M"
dd_check "receiver starts (memif server, CPU 0)" dp_start a 0 "$DD_TMP/a.log" serve
PA=$DP_PID
dd_check "sender starts (memif client, CPU 1)" \
  dp_start b 1 "$DD_TMP/b.log" priority --to "$DP_NODE_A" --bigs 2
PB=$DP_PID
dp_wait "$PB" 120
dd_check "the priority run finished" test $? -eq 0
dp_stop "$PA"
grep -E '^(PRIO|RESULT)' "$DD_TMP/a.log" "$DD_TMP/b.log" | sed 's/^/# /'

prev=$(dp_line "$DD_TMP/a.log" '^PRIO start ')
for k in 0 1; do
  probe=$(dp_line "$DD_TMP/a.log" "^PRIO arrive kind=probe sender=1 seq=$k ")
  big=$(dp_line "$DD_TMP/a.log" "^PRIO arrive kind=big sender=0 seq=$k ")
  if [ -z "$probe" ] || [ -z "$big" ]; then
    dd_fail "big message $k and its probe both arrived"; continue
  fi
  pl=$(grep -nE "^PRIO arrive kind=probe sender=1 seq=$k " "$DD_TMP/a.log" | cut -d: -f1)
  bl=$(grep -nE "^PRIO arrive kind=big sender=0 seq=$k " "$DD_TMP/a.log" | cut -d: -f1)
  dp_check_cmp "big $k: the probe arrived before the 64 MiB message completed" "$pl" -lt "$bl"
  before=$(( $(dp_field "$probe" rx_frames) - $(dp_field "$prev" rx_frames) ))
  after=$(( $(dp_field "$big" rx_frames) - $(dp_field "$probe" rx_frames) ))
  ms_after=$(( ($(dp_field "$big" t_us) - $(dp_field "$probe" t_us)) / 1000 ))
  echo "# big $k: ~$before frames of it before the probe, ~$after after (${ms_after} ms)"
  dp_check_cmp "big $k: it was in flight when the probe came (frames before)" "$before" -ge 100
  dp_check_cmp "big $k: the probe did not wait for its end (frames after)" "$after" -ge 100
  # Frames of it that reached the receiver after the probe was sent and before the probe:
  # those on their way already (memif ring, the sender's staging, the window), a fair share,
  # and retransmissions, which go first. Without fragment-level scheduling it would be the
  # whole rest of the message.
  sent_at=$(dp_field "$(dp_line "$DD_TMP/b.log" "^RESULT priority big=$k ")" probe_sent_at_frames)
  waited=$(( $(dp_field "$probe" rx_frames) - sent_at ))
  echo "# big $k: $waited of its frames arrived between sending the probe and the probe"
  dp_check_cmp "big $k: the probe overtook most of it (frames it waited for)" "$waited" -le \
    $(( (before + after) / 3 ))
  # Heartbeats from the probe to its end: had they waited behind the data, none would have
  # arrived before it completed, and the largest gap would be that whole time.
  hb=$(( $(dp_field "$big" hb_rx) - $(dp_field "$probe" hb_rx) ))
  gap=$(dp_field "$big" hb_gap_us)
  echo "# big $k: $hb heartbeats between the probe and its end, largest gap ${gap} us"
  if [ "$ms_after" -ge 5 ]; then
    dp_check_cmp "big $k: heartbeats arrived while it streamed" "$hb" -ge 1
    dp_check_cmp "big $k: the largest heartbeat gap is shorter than the transfer (us)" "$gap" \
      -lt $(( ms_after * 1000 ))
  else
    why="the rest of the message took ${ms_after} ms, too short to expect a heartbeat"
    dd_skip "big $k: heartbeats arrived while it streamed" "$why"
    dd_skip "big $k: the largest heartbeat gap is shorter than the transfer" "$why"
  fi
  prev=$big
done
dd_check_grep "both 64 MiB messages and probes arrived in order, intact" \
  '^RESULT priority phase=done ok=1' "$DD_TMP/b.log"
dd_check_no_grep "nothing out of order" 'expected [0-9]+$' "$DD_TMP/a.log"
dd_done

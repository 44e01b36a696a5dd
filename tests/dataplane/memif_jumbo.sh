#!/usr/bin/env bash
# dp-memif-jumbo: jumbo frames over a net_memif pair, and two ends with different MTUs.
# Starts: dpdist-epmd, and two dd_stress nodes pinned to CPU 0 (memif server, A) and CPU 1
# (client, B), each polling inline on its one core; three rounds, fresh nodes each.
# Checks:
#  1. both ends at mtu 9000 (bsize=9216, data_room 9344, as configs/local-memif-*.ini): two
#     senders x two messages of 64 MiB arrive exactly once and intact, and the frames on the
#     wire are jumbo (A's port received more than 8000 bytes per frame on average);
#  2. A at mtu 1500 (standard buffers and mbufs), B at mtu 9000 sending: the upgrade takes the
#     smaller MTU, so B cuts its messages into frames A's 2048-byte mbufs hold (without that,
#     B's 9014-byte frames arrive chained over several mbufs, are dropped and resent forever):
#     the 64 MiB messages arrive intact, in frames of at most 1514 bytes;
#  3. the same with the roles of the MTUs swapped (A jumbo, B standard sending).
source "$DPDIST_SRC/tests/lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init memif_jumbo
dd_check "dpdist-epmd starts" dd_start_dpdist_epmd

# 64 MiB messages need max_msg_bytes above 64 MiB; failure detection with room for a loaded
# machine (300 ms).
dp_memif_pair a b '[lanes]\nhb_missed_limit = 30\nmax_msg_bytes = 80M\nrx_window_bytes = 160M\ntx_queue_bytes = 160M'
cp "$DD_TMP/a.ini" "$DD_TMP/a-std.ini"
cp "$DD_TMP/b.ini" "$DD_TMP/b-std.ini"

# jumbo FILE: the node file at mtu 9000 on memif buffers and mbufs that hold a whole frame
jumbo() {
  sed -E -e 's/^(vdev = net_memif0,.*socket-abstract=no)$/\1,bsize=9216/' \
    -e 's/^(udp_port = .*)$/\1\nmtu = 9000/' "$1" >"$1.tmp"
  printf '[mempool]\ndata_room = 9344\nmbuf_count = 4095\n' >>"$1.tmp"
  mv "$1.tmp" "$1"
}
cp "$DD_TMP/a-std.ini" "$DD_TMP/a-jumbo.ini"; jumbo "$DD_TMP/a-jumbo.ini"
cp "$DD_TMP/b-std.ini" "$DD_TMP/b-jumbo.ini"; jumbo "$DD_TMP/b-jumbo.ini"
dd_check "the jumbo files check clean" "$DPDIST_BUILD/tools/dpdist-config" check --no-system \
  "$DD_TMP/a-jumbo.ini" "$DD_TMP/b-jumbo.ini"

# frame_bytes LOG rx|tx: bytes per frame of the port's direction in the node's exit dump
frame_bytes() {
  local line
  line=$(grep -E 'port: rx [0-9]+ frames' "$1" | tail -n 1)
  [ -n "$line" ] || { echo 0; return; }
  if [ "$2" = rx ]; then
    sed -E 's/.*port: rx ([0-9]+) frames ([0-9]+) bytes.*/\2 \1/' <<<"$line"
  else
    sed -E 's/.*, tx ([0-9]+) frames ([0-9]+) bytes.*/\2 \1/' <<<"$line"
  fi | awk '{ print ($2 ? int($1 / $2) : 0) }'
}

# round N A-MTU B-MTU: A (A-MTU file) serves, B (B-MTU file) sends 2 x 2 messages of 64 MiB
round() {
  local n=$1 am=$2 bm=$3
  cp "$DD_TMP/a-$am.ini" "$DD_TMP/a.ini"
  cp "$DD_TMP/b-$bm.ini" "$DD_TMP/b.ini"
  rm -f "$DD_TMP/memif-a-b.sock"
  dp_bulk_round "round $n (A $am, B $bm)" "$DD_TMP/a$n.log" "$DD_TMP/b$n.log" "4$n"
}

# --- 1. jumbo on both ends
round 1 jumbo jumbo
rx=$(frame_bytes "$DD_TMP/a1.log" rx)
dd_check "round 1: A received jumbo frames ($rx bytes per frame on average, > 8000)" \
  test "$rx" -gt 8000

# --- 2. A standard, B jumbo: the smaller MTU wins
round 2 std jumbo
tx=$(frame_bytes "$DD_TMP/b2.log" tx)
dd_check "round 2: B sent frames A can hold ($tx bytes per frame on average, 1000..1514)" \
  test "$tx" -gt 1000 -a "$tx" -le 1514
dd_check_no_grep "round 2: A dropped no frame as too long" 'port drop bad_length' "$DD_TMP/a2.log"

# --- 3. A jumbo, B standard
round 3 jumbo std
tx=$(frame_bytes "$DD_TMP/b3.log" tx)
dd_check "round 3: B sent standard frames ($tx bytes per frame on average, 1000..1514)" \
  test "$tx" -gt 1000 -a "$tx" -le 1514
dd_done

#!/bin/bash
# engine_limits: `dpdist-config check` says when a file asks for more than the data-plane
# engine does: more polling lcores than its pollers, other queue counts than the queues it
# sets up (the numbers of dataplane/dp_limits.h, read from the header here), offloads it does
# not use. Starts nothing (dpdist-config only).
# Checks: such a file passes (the node runs all the same) with one warning per setting, at
# its line, with a fix; the file with every fix applied as written checks clean; the values
# the engine honours give no warning; the keys' defaults are the engine's numbers.
source "$(dirname "$0")/../lib/common.sh"
dd_test_init engine_limits

DDC="$DPDIST_BUILD/tools/dpdist-config"
limit() { sed -nE "s/^#define $1 +([0-9]+).*/\\1/p" "$DPDIST_SRC/dataplane/dp_limits.h"; }
RXQ=$(limit DP_PORT_RX_QUEUES) TXQ=$(limit DP_PORT_TX_QUEUES) POLLERS=$(limit DP_POLL_LCORES)
dd_check "dp_limits.h has the engine's numbers (rx $RXQ, tx $TXQ, pollers $POLLERS)" \
  test -n "$RXQ" -a -n "$TXQ" -a -n "$POLLERS"

# a node with more of everything than the engine uses: lcores 2 (main), then 4 pollers
cat >"$DD_TMP/more.ini" <<INI
[node]
sname = more
[eal]
lcores = 2-6
main_lcore = 2
no_huge = true
[port]
vdev = net_null0
ip = 10.0.0.1
rx_queues = $((RXQ + 3))
tx_queues = $((TXQ + 1))
offloads = ipv4_cksum,rss,fast_free
INI
at() { grep -n "^$1 = " "$DD_TMP/more.ini" | cut -d: -f1; }
"$DDC" check --no-system "$DD_TMP/more.ini" >"$DD_TMP/more.out" 2>&1
dd_check "check passes (warnings only: the node runs all the same)" test $? -eq 0
idle=$((4 - POLLERS))
dd_check_grep "too many polling lcores: said at lcores' line, with the fix" \
  "more.ini:$(at lcores): warning: \[eal\] lcores: 4 lcores would poll the port, but the engine runs $POLLERS poller \(lcore 3\): lcores? [0-9,-]+ would stay idle. fix: lcores = 2-$((2 + POLLERS))$" \
  "$DD_TMP/more.out"
dd_check_grep "rx_queues: said at its line, with the fix" \
  "more.ini:$(at rx_queues): warning: \[port\] rx_queues: rx_queues = $((RXQ + 3)) is not honoured: the engine sets up $RXQ. fix: remove the line" \
  "$DD_TMP/more.out"
dd_check_grep "tx_queues: said at its line, with the fix" \
  "more.ini:$(at tx_queues): warning: \[port\] tx_queues: tx_queues = $((TXQ + 1)) is not honoured: the engine sets up $TXQ. fix: remove the line" \
  "$DD_TMP/more.out"
dd_check_grep "offloads: said at its line, with the fix" \
  "more.ini:$(at offloads): warning: \[port\] offloads: the engine does not use rss,fast_free \(it asks the port for ipv4_cksum only\). fix: offloads = ipv4_cksum$" \
  "$DD_TMP/more.out"
dd_check "nothing else is said ($idle idle lcores)" \
  test "$(grep -c ': warning: ' "$DD_TMP/more.out")" -eq 4 -a "$(grep -c ': error: ' "$DD_TMP/more.out")" -eq 0

# every fix applied as written: `key = value` replaces the line, `remove the line` removes it
cp "$DD_TMP/more.ini" "$DD_TMP/fixed.ini"
sed -nE 's/^.*more\.ini:([0-9]+): warning: .* fix: (.*)$/\1 \2/p' "$DD_TMP/more.out" | sort -rn |
  while read -r line fix; do
    case $fix in
      "remove the line"*) sed -i "${line}d" "$DD_TMP/fixed.ini" ;;
      *" = "*) sed -i "${line}s/.*/$fix/" "$DD_TMP/fixed.ini" ;;
    esac
  done
"$DDC" check --no-system "$DD_TMP/fixed.ini" >"$DD_TMP/fixed.out" 2>&1
dd_check "with the fixes applied, check passes" test $? -eq 0
dd_check_no_grep "  ... without a warning" ': (warning|error): ' "$DD_TMP/fixed.out"

# what the engine honours, written out, is fine; so is one lcore polling inline
cat >"$DD_TMP/exact.ini" <<INI
[node]
sname = exact
[eal]
lcores = 0-$POLLERS
no_huge = true
[port]
vdev = net_null0
ip = 10.0.0.1
rx_queues = $RXQ
tx_queues = $TXQ
offloads = ipv4_cksum
INI
"$DDC" check --no-system "$DD_TMP/exact.ini" >"$DD_TMP/exact.out" 2>&1
dd_check "the engine's own numbers pass" test $? -eq 0
dd_check_no_grep "  ... without a warning" ': (warning|error): ' "$DD_TMP/exact.out"
printf '[node]\nsname = inline\n[eal]\nlcores = 1\nno_huge = true\n[port]\nvdev = net_null0\nip = 10.0.0.1\n' \
  >"$DD_TMP/inline.ini"
"$DDC" check --no-system "$DD_TMP/inline.ini" >"$DD_TMP/inline.out" 2>&1
dd_check_no_grep "one lcore polling inline: no warning" ': (warning|error): ' "$DD_TMP/inline.out"

# the defaults are the engine's numbers
dd_check "rx_queues defaults to the engine's $RXQ" test "$("$DDC" get "$DD_TMP/inline.ini" port.rx_queues)" = "$RXQ"
dd_check "tx_queues defaults to the engine's $TXQ" test "$("$DDC" get "$DD_TMP/inline.ini" port.tx_queues)" = "$TXQ"
dd_check "offloads default to what the engine uses" test "$("$DDC" get "$DD_TMP/inline.ini" port.offloads)" = ipv4_cksum
dd_done

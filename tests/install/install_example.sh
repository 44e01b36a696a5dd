#!/bin/bash
# install-example: the installed package is enough to write a program against libdpdist.
# Starts: `meson install --destdir` of the build into a temporary root; then, all from that
# root: dpdist-epmd, dpdist-echo, and examples/dd_echo_example built there with
# `pkg-config --cflags --libs dpdist` alone (PKG_CONFIG_PATH pointing into the root).
# Checks:
#  1. the library, its soname link, the static library, the headers (not the test-only
#     dd_testing.h) and both .pc files are installed; the soname is libdpdist.so.0;
#  2. it exports the public API and nothing else: every function the installed headers
#     declare is exported, and every defined dynamic symbol is a dd_*
#     function of version DPDIST_0, except munmap (dataplane/dp_mapguard.c), which must be
#     there and unversioned (runtime/api/libdpdist.map says why);
#  3. `pkg-config --cflags dpdist` carries no DPDK compile flags (-march, rte_config.h);
#  4. the example compiles with -Wall -Wextra -Werror and links, from the .pc alone, shared
#     and (dpdist-static.pc) static; the static one needs no libdpdist.so;
#  5. they work: each answers against the installed dpdist-echo ("carrier=tcp ok"); the
#     installed dpdist-ping gets a pong from an example node; the static example gets its
#     echo from the shared one; in the shared one, libraries' munmap binds to libdpdist's
#     (the data plane's guard is in effect); two examples over a net_memif pair with
#     configs move onto the data plane ("carrier=dpdk ok", drivers loaded by EAL from its
#     plugin directory through the installed library).
# An incomplete .pc (no -lei, no include directory) or a missing header fails check 4.
source "$(dirname "$0")/../lib/common.sh"
source "$DPDIST_SRC/tests/lib/dataplane.sh"
dd_test_init install_example

ROOT="$DD_TMP/root"
if meson install -C "$DPDIST_BUILD" --no-rebuild --destdir "$ROOT" --quiet >"$DD_TMP/install.log" 2>&1
then dd_pass "meson install --destdir succeeds"
else dd_fail "meson install --destdir succeeds"; sed 's/^/#   /' "$DD_TMP/install.log"; dd_done; fi

# --- 1. the files --------------------------------------------------------------------------
PC=$(find "$ROOT" -name dpdist.pc | head -n 1)
dd_check "dpdist.pc is installed (${PC#$ROOT})" test -f "$PC"
[ -f "$PC" ] || dd_done
PCDIR=$(dirname "$PC")
LIBDIR=$(dirname "$PCDIR")
dd_check "dpdist-static.pc is installed beside it" test -f "$PCDIR/dpdist-static.pc"
for f in libdpdist.so libdpdist.so.0 libdpdist.a; do
  dd_check "$f is installed in ${LIBDIR#$ROOT}" test -e "$LIBDIR/$f"
done
INC=$(dirname "$(find "$ROOT" -path '*/include/dpdist/dpdist.h' | head -n 1)")
for h in dpdist.h version.h; do
  dd_check "include/dpdist/$h is installed" test -f "$INC/$h"
done
dd_check "the test-only header dd_testing.h is not installed" \
  test -z "$(find "$ROOT" -name dd_testing.h)"
dd_check "  ... nor does an installed header declare its dd_dataplane_fault" \
  test -z "$(grep -l dd_dataplane_fault "$INC"/*.h)"
readelf -d "$LIBDIR/libdpdist.so" >"$DD_TMP/dynamic" 2>&1
dd_check_grep "soname libdpdist.so.0" 'SONAME.*\[libdpdist\.so\.0\]' "$DD_TMP/dynamic"
BIN=$(dirname "$(find "$ROOT" -name dpdist-echo -type f | head -n 1)")
for t in dpdist-epmd dpdist-echo dpdist-ping dpdist-config; do
  dd_check "$t is installed" test -x "$BIN/$t"
done
dd_check "the example's source is installed as documentation" \
  test -n "$(find "$ROOT" -path '*/doc/dpdist/examples/dd_echo_example.c')"

# --- 2. exports ----------------------------------------------------------------------------
readelf --dyn-syms -W "$LIBDIR/libdpdist.so" |
  awk '$7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") && $4 != "SECTION" {print $8}' \
  >"$DD_TMP/exports"
dd_check "it exports dd_* functions ($(grep -c '^dd_' "$DD_TMP/exports"))" \
  test "$(grep -c '^dd_.*@@DPDIST_0$' "$DD_TMP/exports")" -ge 30
grep -vE '^dd_[a-z0-9_]+@@DPDIST_0$|^DPDIST_0$|^munmap$' "$DD_TMP/exports" >"$DD_TMP/extra" || true
dd_check_no_grep "and nothing else but munmap" . "$DD_TMP/extra"
# every function the installed headers declare (comments stripped by the preprocessor) is
# exported: a declaration without DD_EXPORT outside dpdist.h's visibility region would not be
for h in "$INC"/*.h; do
  cc -E -P -I "$(dirname "$INC")" -I "$(PKG_CONFIG_PATH="$PCDIR" pkg-config --variable=eidir dpdist)/include" \
    "$h" 2>/dev/null
done | grep -oE '\bdd_[a-z0-9_]+[[:space:]]*\(' | tr -d ' (' | sort -u >"$DD_TMP/declared"
sed 's/@.*//' "$DD_TMP/exports" | sort -u >"$DD_TMP/exported"
comm -23 "$DD_TMP/declared" "$DD_TMP/exported" >"$DD_TMP/unexported"
dd_check "the installed headers declare functions ($(wc -l <"$DD_TMP/declared"))" test -s "$DD_TMP/declared"
dd_check_no_grep "  ... and every one is exported" . "$DD_TMP/unexported"
dd_check_no_grep "the test machinery (dd_dataplane_fault) is not exported" \
  '^dd_dataplane_fault' "$DD_TMP/exports"
dd_check_grep "munmap is exported unversioned (it interposes libc's for every library)" \
  '^munmap$' "$DD_TMP/exports"

# --- 3. compile flags ----------------------------------------------------------------------
export PKG_CONFIG_PATH="$PCDIR"
pkg-config --cflags dpdist >"$DD_TMP/cflags" 2>&1
dd_check "pkg-config --cflags dpdist works" test $? -eq 0
dd_check_no_grep "  ... without DPDK's flags" 'march|rte_config|-include' "$DD_TMP/cflags"
dd_check_grep "  ... pointing into the installed root" "$ROOT" "$DD_TMP/cflags"

# --- 4. the example, built from the .pc alone -----------------------------------------------
SRC="$DPDIST_SRC/examples/dd_echo_example.c"
EX="$DD_TMP/dd_echo_example"
EXS="$DD_TMP/dd_echo_example_static"
# shellcheck disable=SC2046 # word splitting of pkg-config's output is the point
cc -Wall -Wextra -Werror -o "$EX" "$SRC" $(pkg-config --cflags --libs dpdist) >"$DD_TMP/cc.log" 2>&1
dd_check "the example builds with pkg-config --cflags --libs dpdist" test $? -eq 0 ||
  sed 's/^/#   /' "$DD_TMP/cc.log" | head -n 20
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$EXS" "$SRC" $(pkg-config --cflags --libs dpdist-static) \
  >"$DD_TMP/cc-static.log" 2>&1
dd_check "  ... and statically with dpdist-static" test $? -eq 0 ||
  sed 's/^/#   /' "$DD_TMP/cc-static.log" | head -n 20
ldd "$EXS" >"$DD_TMP/ldd-static" 2>&1
dd_check_no_grep "  ... which needs no libdpdist.so" 'libdpdist' "$DD_TMP/ldd-static"
[ -x "$EX" ] && [ -x "$EXS" ] || dd_done

# --- 5. running them against real peers --------------------------------------------------
export LD_LIBRARY_PATH="$LIBDIR"
HOST=$(dd_short_host)
COOKIE=installcookie
EPMD_PORT=$(dd_free_port)
"$BIN/dpdist-epmd" -port "$EPMD_PORT" >"$DD_TMP/epmd.log" 2>&1 &
dd_track $!
dd_check "the installed dpdist-epmd listens" dd_wait_port "$EPMD_PORT" 10
export ERL_EPMD_PORT=$EPMD_PORT
"$BIN/dpdist-echo" -sname "ie$DD_RUN_ID" -setcookie $COOKIE >"$DD_TMP/echo.log" 2>&1 &
dd_track $!
dd_check "the installed dpdist-echo gets ready" \
  env DD_WAIT=20 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q ready '$DD_TMP/echo.log'"

run_client() { # run_client BINARY LOG NAME PEER [args]: the example as a client, bounded
  local bin=$1 log=$2 name=$3 peer=$4; shift 4
  timeout 60 "$bin" -sname "$name" -cookie $COOKIE -peer "$peer" "$@" >"$log" 2>&1
}
run_client "$EX" "$DD_TMP/c1.log" "ic1$DD_RUN_ID" "ie$DD_RUN_ID@$HOST"
dd_check "the shared example exits 0 against dpdist-echo" test $? -eq 0
dd_check_grep "  ... with its echo over TCP" '^carrier=tcp ok$' "$DD_TMP/c1.log"
run_client "$EXS" "$DD_TMP/c2.log" "ic2$DD_RUN_ID" "ie$DD_RUN_ID@$HOST"
dd_check "the static example exits 0 against dpdist-echo" test $? -eq 0
dd_check_grep "  ... with its echo over TCP" '^carrier=tcp ok$' "$DD_TMP/c2.log"

timeout 60 "$EX" -sname "is$DD_RUN_ID" -cookie $COOKIE -seconds 50 >"$DD_TMP/server.log" 2>&1 &
SERVER=$!
dd_track $SERVER
dd_check "the shared example serves" \
  env DD_WAIT=20 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q ready '$DD_TMP/server.log'"
timeout 30 "$BIN/dpdist-ping" -setcookie $COOKIE "is$DD_RUN_ID@$HOST" >"$DD_TMP/ping.log" 2>&1
dd_check_grep "the installed dpdist-ping gets a pong from it" '^pong$' "$DD_TMP/ping.log"
run_client "$EXS" "$DD_TMP/c3.log" "ic3$DD_RUN_ID" "is$DD_RUN_ID@$HOST"
dd_check "the static example gets its echo from the shared one" \
  grep -q '^carrier=tcp ok$' "$DD_TMP/c3.log" || sed 's/^/#   /' "$DD_TMP/c3.log" | tail -n 5
LD_DEBUG=bindings LD_DEBUG_OUTPUT="$DD_TMP/bindings" \
  run_client "$EX" "$DD_TMP/c4.log" "ic4$DD_RUN_ID" "is$DD_RUN_ID@$HOST"
cat "$DD_TMP"/bindings.* 2>/dev/null | grep "symbol \`munmap'" >"$DD_TMP/munmap-bindings"
dd_check_grep "librte_eal's munmap binds to libdpdist.so (the map guard)" \
  "librte_eal.*to .*libdpdist\.so\.0.*munmap" "$DD_TMP/munmap-bindings"
dd_check_no_grep "  ... and no library's to libc" "to .*libc\.so.*munmap" "$DD_TMP/munmap-bindings"
kill -TERM $SERVER 2>/dev/null

# two examples over a net_memif pair: the data plane through the installed library
dp_memif_pair ma mb
MA=$DP_NODE_A
timeout 90 "$EX" -sname "${MA%@*}" -cookie $COOKIE -config "$DD_TMP/ma.ini" -seconds 80 \
  >"$DD_TMP/ma.log" 2>&1 &
PA=$!
dd_track $PA
dd_check "an example with a memif config serves" \
  env DD_WAIT=40 bash -c "$(declare -f dd_wait_for); dd_wait_for grep -q ready '$DD_TMP/ma.log'"
run_client "$EX" "$DD_TMP/mb.log" "${DP_NODE_B%@*}" "$MA" -config "$DD_TMP/mb.ini"
dd_check "another one reaches it" test $? -eq 0
dd_check_grep "  ... over the data plane" '^carrier=dpdk ok$' "$DD_TMP/mb.log" ||
  tail -n 8 "$DD_TMP/ma.log" | sed 's/^/# A: /'
kill -TERM $PA 2>/dev/null
wait $PA 2>/dev/null
dd_done

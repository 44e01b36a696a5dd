#!/bin/bash
# link_layering: the runtime's rooms depend on each other one way, checked on the built
# objects (what the #include check of layering.sh cannot see: a prototype written by hand, a
# public dd_* function called from inside). For every rule "ROOM ! OTHER...", no symbol that
# ROOM's objects leave undefined may be defined by an OTHER room's objects.
# Arguments: ROOM=ARCHIVE[@MEMBER_PART] (only the members whose path contains the part belong
# to the room: libdpdist.a holds all rooms, its own are the API's), then the rules.
source "$(dirname "$0")/../lib/common.sh"
dd_test_init link_layering

declare -A ARCHIVE PREFIX
while [ $# -gt 0 ] && [[ $1 == *=* ]]; do
  room=${1%%=*} spec=${1#*=}
  ARCHIVE[$room]=${spec%%@*}
  PREFIX[$room]=$([[ $spec == *@* ]] && printf '%s' "${spec#*@}")
  shift
done

# The global symbols room $1 defines (D) or leaves undefined (U), one per line, sorted.
symbols_of() {
  nm -g "${ARCHIVE[$1]}" 2>/dev/null | awk -v pre="${PREFIX[$1]}" -v want="$2" '
    /\.o:$/ { mine = (pre == "" || index($0, pre) > 0); next }
    !mine { next }
    want == "U" && $1 == "U" { print $2 }
    want == "D" && NF == 3 && $2 ~ /^[TDBRVWG]$/ { print $3 }' | sort -u
}

for room in "${!ARCHIVE[@]}"; do
  if [ ! -s "${ARCHIVE[$room]}" ] || [ -z "$(symbols_of "$room" D)" ]; then
    dd_fail "$room: ${ARCHIVE[$room]} defines no symbol (a rule about nothing proves nothing)"
  fi
done

for rule in "$@"; do
  room=${rule%% !*} others=${rule#*! }
  used=$(symbols_of "$room" U)
  for other in $others; do
    bad=$(comm -12 <(printf '%s\n' "$used") <(symbols_of "$other" D))
    if [ -z "$bad" ]; then
      dd_pass "$room uses nothing of $other"
    else
      dd_fail "$room uses nothing of $other"
      printf '%s\n' "$bad" | sed 's/^/#   /' | head -n 20
    fi
  done
done

dd_done

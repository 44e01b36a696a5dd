#!/bin/bash
# layering: the #include graph follows the dependency direction of docs/architecture.md.
# Starts nothing: greps every #include of the source folders against the rule table below and
# fails with the offending lines. One rule per line, fields separated by ';':
#   FOLDER ; FORBIDDEN (ERE on the included path) ; EXCEPT (ERE, or -) ; why
# A folder that holds no source file is a failure (a rule about nothing proves nothing).
source "$(dirname "$0")/../lib/common.sh"
dd_test_init layering
cd "$DPDIST_SRC" || exit 1

RULES=$(cat <<'TABLE'
common     ; ^(control|dataplane|runtime|config|tools|perf|tests)/ ; - ; common/ is the bottom: it includes only itself
control    ; ^(dataplane|runtime|config|tools|perf|tests)/ ; - ; control/ never includes the data plane, the runtime or tools
dataplane  ; ^(control|runtime|config|tools|perf|tests)/ ; - ; dataplane/ never includes control/, the runtime or tools
config     ; ^(control|dataplane|runtime|tools|perf|tests)/ ; ^dataplane/dp_(limits|devargs|portlim)\.h$ ; config/ needs no library but common/ (of the data plane: three header-only files)
runtime    ; ^(tools|perf|tests)/ ; - ; libraries never include tools, benchmarks or tests
runtime/core ; ^(config|runtime/api|runtime/carrier_[a-z]+)/|^dataplane/ ; ^dataplane/dp_msg\.h$ ; the node core knows the carriers only through core/carrier.h, needs neither the config nor the data plane (but dp_msg.h: obuf's zero-copy hand-off)
runtime/carrier_tcp ; ^(config|dataplane|runtime/api|runtime/carrier_dpdk)/ ; - ; the TCP carrier needs neither the config, the data plane nor the other carrier
runtime/carrier_dpdk ; ^(runtime/api|runtime/carrier_tcp)/ ; - ; the DPDK carrier includes neither the API room nor the other carrier
agent      ; ^(runtime|tools|perf|tests)/ ; - ; the agent is not a node: it never includes the runtime, tools, benchmarks or tests
TABLE
)

# The #include lines of the C sources under $1: "file:line:text".
includes_of() {
  grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$1" \
    --include='*.c' --include='*.h' --include='*.cc' 2>/dev/null
}

# The lines of includes_of whose included path (without quotes or brackets) matches the ERE
# $1 and not the ERE $2 ('-': no exception).
includes_matching() {
  awk -v want="$1" -v except="$2" '{
    p = $0; sub(/^[^:]*:[0-9]+:[ \t]*#[ \t]*include[ \t]*["<]/, "", p); sub(/[">].*$/, "", p)
    if (p ~ want && (except == "-" || p !~ except)) print
  }'
}

# $1 without leading and trailing blanks.
trim() {
  local s=$1
  s=${s#"${s%%[![:space:]]*}"}
  printf '%s' "${s%"${s##*[![:space:]]}"}"
}

while IFS=';' read -r dir forbid except why; do
  dir=$(trim "$dir"); forbid=$(trim "$forbid"); except=$(trim "$except"); why=$(trim "$why")
  [ -n "$dir" ] || continue
  if [ -z "$(find "$dir" -name '*.[ch]' -print -quit 2>/dev/null)" ]; then
    dd_fail "$dir: $why (no source file in $dir)"
    continue
  fi
  bad=$(includes_of "$dir" | includes_matching "$forbid" "$except")
  if [ -z "$bad" ]; then
    dd_pass "$dir: $why"
  else
    dd_fail "$dir: $why"
    printf '%s\n' "$bad" | sed 's/^/#   /' | head -n 20
  fi
done <<<"$RULES"

# The public headers compile for a program that has only them and ei: nothing but standard C
# headers, <ei.h> and each other.
PUB_OK='^(dpdist/[a-z_]+\.h|ei\.h|(assert|errno|inttypes|limits|stdarg|stdbool|stddef|stdint|stdio|stdlib|string|time)\.h)$'
pub_files=$(find include/dpdist -name '*.h' | sort)
if [ -z "$pub_files" ]; then
  dd_fail "include/dpdist: public headers include only std headers, <ei.h> and dpdist/ (no header)"
else
  bad=$(includes_of include/dpdist | includes_matching '.' "$PUB_OK")
  if [ -z "$bad" ]; then
    dd_pass "include/dpdist: public headers include only std headers, <ei.h> and dpdist/"
  else
    dd_fail "include/dpdist: public headers include only std headers, <ei.h> and dpdist/"
    printf '%s\n' "$bad" | sed 's/^/#   /'
  fi
fi

# The examples are programs of the installed API: <dpdist/...>, <ei.h> and system headers
# (no folder of this tree but dpdist/).
EX_OK='^(dpdist/[a-z_]+\.h|[a-z_0-9]+\.h|(sys|arpa|netinet)/[a-z_]+\.h)$'
if [ -z "$(find examples -name '*.c' -print -quit 2>/dev/null)" ]; then
  dd_fail "examples: include only the public API, <ei.h> and system headers (no source file)"
else
  bad=$(includes_of examples | includes_matching '.' "$EX_OK")
  if [ -z "$bad" ]; then
    dd_pass "examples: include only the public API, <ei.h> and system headers"
  else
    dd_fail "examples: include only the public API, <ei.h> and system headers"
    printf '%s\n' "$bad" | sed 's/^/#   /'
  fi
fi

dd_done

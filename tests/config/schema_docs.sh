#!/bin/bash
# schema_docs: configs/README.md documents every key of the configuration's key table.
# Starts nothing: compares the README's generated schema block with `dpdist-config schema`
# (same keys, types, defaults, ranges and doc strings), and checks each key of the table
# appears in it. `schema_docs.sh --update` rewrites the block in place.
source "$(dirname "$0")/../lib/common.sh"
dd_test_init schema_docs

DDC="$DPDIST_BUILD/tools/dpdist-config"
README="$DPDIST_SRC/configs/README.md"
BEGIN='<!-- BEGIN SCHEMA -->'
END='<!-- END SCHEMA -->'

"$DDC" schema >"$DD_TMP/schema.md"
dd_check "dpdist-config schema succeeds" test -s "$DD_TMP/schema.md"

# the README with the block replaced by the generated one
awk -v b="$BEGIN" -v e="$END" -v f="$DD_TMP/schema.md" '
  $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
  $0 == e { skip = 0 }
  !skip { print }' "$README" >"$DD_TMP/README.expected"

if [ "${1:-}" = --update ]; then
  cp "$DD_TMP/README.expected" "$README"
  echo "# rewrote the schema block of $README"
fi

dd_check "README has the schema markers" grep -qxF "$BEGIN" "$README"
if diff -u "$README" "$DD_TMP/README.expected" >"$DD_TMP/diff"; then
  dd_pass "README's schema block equals dpdist-config schema"
else
  dd_fail "README's schema block differs from dpdist-config schema; run $0 --update"
  sed 's/^/#   /' "$DD_TMP/diff" | head -n 40
fi

# every key of the table, under its own section's heading
section=""
missing=0
while IFS= read -r line; do
  case $line in
    '### ['*) section=${line#'### ['}; section=${section%]} ;;
    '| `'*) key=${line#'| `'}; key=${key%%\`*}
            awk -v s="### [$section]" -v k="| \`$key\` |" '
              $0 == s { in_s = 1; next } /^### / { in_s = 0 }
              in_s && index($0, k) == 1 { found = 1 } END { exit !found }' "$README" ||
              { echo "#   [$section] $key is not documented"; missing=$((missing + 1)); } ;;
  esac
done <"$DD_TMP/schema.md"
dd_check "every key in the table is documented under its section ($missing missing)" test $missing -eq 0
nkeys=$(grep -c '^| `' "$DD_TMP/schema.md")
dd_check "the schema lists the keys ($nkeys)" test "$nkeys" -ge 50

dd_done

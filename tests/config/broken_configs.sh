#!/bin/bash
# broken_configs: every file in tests/config/broken/ fails `dpdist-config check` with the
# messages its `# expect:` lines give (extended regular expressions; `{key}` stands for the
# line of the first `key = ...` in the file, `{[section}` for the first line starting with
# `[section`). Also: every error has a fix, nothing is reported twice, and the pair in
# broken/pair/ clashes when checked together. Starts nothing; the system checks are off
# (--no-system), these are configuration errors.
source "$(dirname "$0")/../lib/common.sh"
dd_test_init broken_configs

DDC="$DPDIST_BUILD/tools/dpdist-config"
BROKEN="$DPDIST_SRC/tests/config/broken"

# line_of FILE NAME: the line a {NAME} placeholder stands for
line_of() {
  awk -v n="$2" '
    substr(n, 1, 1) == "[" { t = $0; sub(/^[ \t]+/, "", t); if (index(t, n) == 1) { print NR; exit } next }
    { t = $0; if (match(t, "^[ \t]*" n "[ \t]*=")) { print NR; exit } }' "$1"
}

# expectations FILE: the file's `# expect:` patterns with the placeholders resolved
expectations() {
  local file=$1 pat name line
  sed -n 's/^# expect: //p' "$file" | while IFS= read -r pat; do
    while [[ $pat =~ \{([^}]+)\} ]]; do
      name=${BASH_REMATCH[1]}
      line=$(line_of "$file" "$name")
      [ -n "$line" ] || line="NO-LINE-FOR-$name"
      pat=${pat/"{$name}"/$line}
    done
    printf '%s\n' "$pat"
  done
}

# check_output FILE OUT RC: exit status 1, every expectation met, every error with a fix
check_output() {
  local file=$1 out=$2 rc=$3 name pat n
  name=${file#"$BROKEN/"}
  dd_check "$name: check exits 1" test "$rc" -eq 1
  n=0
  while IFS= read -r pat; do
    n=$((n + 1))
    dd_check_grep "$name: $pat" "$pat" "$out"
  done < <(expectations "$file")
  dd_check "$name: has expectations ($n)" test "$n" -gt 0
  grep ': error: ' "$out" | grep -v ' fix: ' >"$out.nofix"
  dd_check_no_grep "$name: every error has a fix" . "$out.nofix"
  dd_check "$name: no problem reported twice" \
    test "$(grep -cE ': (error|warning): ' "$out")" -eq "$(grep -E ': (error|warning): ' "$out" | sort -u | wc -l)"
}

for file in "$BROKEN"/*.ini; do
  out="$DD_TMP/$(basename "$file").out"
  "$DDC" check --no-system "$file" >"$out" 2>&1
  check_output "$file" "$out" $?
done

# the pair: each file is fine alone, the two clash on one host
for f in a b; do
  "$DDC" check --no-system "$BROKEN/pair/$f.ini" >"$DD_TMP/pair-$f.out" 2>&1
  dd_check "pair/$f.ini alone passes" test $? -eq 0
done
"$DDC" check --no-system "$BROKEN/pair/a.ini" "$BROKEN/pair/b.ini" >"$DD_TMP/pair.out" 2>&1
check_output "$BROKEN/pair/b.ini" "$DD_TMP/pair.out" $?
dd_check_no_grep "pair: a.ini itself is not blamed" 'a\.ini:[0-9]+: ' "$DD_TMP/pair.out"

# a file that does not exist, and a directory
"$DDC" check "$DD_TMP/none.ini" >"$DD_TMP/none.out" 2>&1
dd_check "a missing file fails" test $? -eq 1
dd_check_grep "a missing file is named" "none.ini: error: cannot open the file: No such file or directory" "$DD_TMP/none.out"
"$DDC" check "$DD_TMP" >"$DD_TMP/dir.out" 2>&1
dd_check "a directory fails" test $? -eq 1

# usage errors are not configuration errors
"$DDC" check >/dev/null 2>&1
dd_check "check without files is a usage error (2)" test $? -eq 2
"$DDC" frobnicate x >/dev/null 2>&1
dd_check "an unknown command is a usage error (2)" test $? -eq 2

dd_done

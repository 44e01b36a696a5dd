#!/usr/bin/env bash
# erlang-apps: every Erlang module that the project's Erlang code calls is installed by the
# project's own install steps. Starts: one short erl (Debian's) that says where each module
# lives. Reads the Erlang code of the tests, the benchmarks, the demo and the BEAM application
# (the .erl files, the -eval strings of the scripts and of beam/'s meson files) for remote
# calls `module:function(`, and checks each module belongs to an application of
# scripts/lib.sh's DPDIST_ERLANG_APPS (so that a fresh machine gets its Debian package), and
# that erl finds every application of that list.
# A module of an unlisted application (crypto: erlang-crypto) fails here, on any machine,
# instead of only on a machine that lacks the package.
source "$DPDIST_SRC/tests/lib/common.sh"
dd_test_init erlang_apps
source "$DPDIST_SRC/scripts/lib.sh"
cd "$DPDIST_SRC" || exit 1

sources=()
for f in tests/interop/*.erl perf/*.erl scripts/demo tests/*/*.sh tests/lib/*.sh perf/run \
  perf/benchlib/*.py beam/src/*.erl beam/test/*.erl beam/meson.build beam/*/meson.build; do
  [ "$f" = tests/interop/erlang_apps.sh ] || sources+=("$f")
done
own=$(for f in tests/interop/*.erl perf/*.erl beam/src/*.erl beam/test/*.erl; do
  basename "$f" .erl; done)
grep -ohE "\b[a-z][a-z0-9_]*:[a-z_][A-Za-z0-9_]*\(" "${sources[@]}" | cut -d: -f1 | sort -u |
  grep -vxF -f <(echo "$own") >"$DD_TMP/modules"
dd_check "the Erlang code calls modules ($(wc -l <"$DD_TMP/modules") found)" \
  test "$(wc -l <"$DD_TMP/modules")" -ge 10

# MODULE APP per line: the application a module is loaded from (none: not installed)
erl -noshell -eval '
  App = fun(M) ->
      case code:which(M) of
        preloaded -> erts;
        non_existing -> none;
        P -> list_to_atom(hd(string:split(filename:basename(filename:dirname(
                                           filename:dirname(P))), "-")))
      end
    end,
  [io:format("~s ~s~n", [M, App(list_to_atom(M))]) || M <- init:get_plain_arguments()],
  halt().' -extra $(cat "$DD_TMP/modules") >"$DD_TMP/apps" 2>&1
dd_check "erl says where each module lives" test $? -eq 0
dd_check "  ... for every module" test "$(wc -l <"$DD_TMP/apps")" -eq "$(wc -l <"$DD_TMP/modules")"
listed=" ${DPDIST_ERLANG_APPS[*]%%:*} "
while read -r mod app; do
  if [ "$app" = none ]; then
    dd_fail "$mod is called but not installed here (its application's package is not in scripts/lib.sh)"
    grep -lE "\b$mod:[a-z_]" "${sources[@]}" | sed 's/^/#   called in /'
  elif [[ $listed == *" $app "* ]]; then
    dd_pass "$mod ($app) is installed by scripts/lib.sh"
  else
    dd_fail "$mod belongs to $app, which scripts/lib.sh's DPDIST_ERLANG_APPS does not list"
  fi
done <"$DD_TMP/apps"
dd_check "erl finds every application of DPDIST_ERLANG_APPS" dd_check_erlang_apps
dd_done

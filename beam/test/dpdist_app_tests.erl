%% EUnit tests of the dpdist application resource file: build/beam/ebin/dpdist.app names every
%% module compiled beside it, nothing else, and carries the project's version.
-module(dpdist_app_tests).

-include_lib("eunit/include/eunit.hrl").

app() ->
    Ebin = filename:dirname(code:which(dpdist_trailer)),
    {ok, [{application, dpdist, Props}]} = file:consult(filename:join(Ebin, "dpdist.app")),
    {Ebin, Props}.

modules_are_the_compiled_ones_test() ->
    {Ebin, Props} = app(),
    Beams = [list_to_atom(filename:basename(F, ".beam"))
             || F <- filelib:wildcard(filename:join(Ebin, "*.beam"))],
    ?assertEqual(lists:sort(Beams), lists:sort(proplists:get_value(modules, Props))).

version_is_the_project_version_test() ->
    {_, Props} = app(),
    Want = os:getenv("DPDIST_VERSION"),
    ?assertNotEqual(false, Want),
    ?assertEqual(Want, proplists:get_value(vsn, Props)).

library_application_test() ->
    {_, Props} = app(),
    ?assertEqual(undefined, proplists:get_value(mod, Props)),
    ?assertEqual(ok, application:load(dpdist)),
    ?assertMatch({ok, _}, application:get_key(dpdist, vsn)).

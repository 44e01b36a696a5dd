%% EUnit tests of dpdist_epmd's protocol pieces: the ALIVE2 request with its Extra, the
%% answers to ALIVE2 and PORT_PLEASE2 (whole, cut, refused, garbage), the Extra kinds and the
%% version choice. The module against real name servers: tests/interop/beam_epmd.sh.
-module(dpdist_epmd_tests).

-include_lib("eunit/include/eunit.hrl").

alive2_request_test() ->
    %% length 20 | 'x' | port 4711 | 'M' | tcp | high 6 | low 5 | "ab" | Extra "DPA1" 2
    ?assertEqual(<<0, 20, $x, 4711:16, 77, 0, 6:16, 5:16, 2:16, "ab", 5:16, "DPA1", 2>>,
                 dpdist_epmd:alive2_request("ab", 4711, {6, 5}, <<"DPA1", 2>>)),
    ?assertEqual(<<0, 15, $x, 1:16, 77, 0, 6:16, 5:16, 2:16, "ab", 0:16>>,
                 dpdist_epmd:alive2_request("ab", 1, {6, 5}, <<>>)).

alive2_reply_test() ->
    ?assertEqual({ok, 16#01020304}, dpdist_epmd:alive2_reply(<<$v, 0, 1, 2, 3, 4>>)),
    ?assertEqual({ok, 3}, dpdist_epmd:alive2_reply(<<$y, 0, 0, 3>>)),
    ?assertEqual({error, duplicate_name}, dpdist_epmd:alive2_reply(<<$v, 1, 0, 0, 0, 99>>)),
    ?assertEqual({error, duplicate_name}, dpdist_epmd:alive2_reply(<<$y, 1, 0, 99>>)),
    [?assertEqual(more, dpdist_epmd:alive2_reply(P))
     || P <- [<<>>, <<$v>>, <<$v, 0>>, <<$v, 0, 1, 2, 3>>, <<$y, 0, 1>>]],
    ?assertMatch({error, {garbage, _}}, dpdist_epmd:alive2_reply(<<$v, 0, 1, 2, 3, 4, 5>>)),
    ?assertMatch({error, {garbage, _}}, dpdist_epmd:alive2_reply(<<"HTTP/1.1">>)).

port2_request_test() ->
    ?assertEqual(<<0, 4, $z, "abc">>, dpdist_epmd:port2_request("abc")).

port2_reply_test() ->
    Whole = <<$w, 0, 4711:16, 77, 0, 6:16, 5:16, 2:16, "ab", 5:16, "DPA1", 2>>,
    ?assertEqual({ok, 4711, 6, 5, <<"DPA1", 2>>}, dpdist_epmd:port2_reply(Whole)),
    ?assertEqual({ok, 1, 6, 5, <<>>},
                 dpdist_epmd:port2_reply(<<$w, 0, 1:16, 77, 0, 6:16, 5:16, 1:16, "a", 0:16>>)),
    ?assertEqual(noport, dpdist_epmd:port2_reply(<<$w, 1>>)),
    [?assertMatch({error, {garbage, _}}, dpdist_epmd:port2_reply(binary:part(Whole, 0, N)))
     || N <- lists:seq(0, byte_size(Whole) - 1)],
    ?assertMatch({error, {garbage, _}}, dpdist_epmd:port2_reply(<<Whole/binary, 0>>)).

parse_extra_test() ->
    ?assertEqual({agent, 2}, dpdist_epmd:parse_extra(<<"DPA1", 2>>)),
    ?assertEqual({agent, 3}, dpdist_epmd:parse_extra(<<"DPA1", 3, "later">>)),
    ?assertEqual({dataplane, #{mac => <<2, 0, 0, 0, 0, 1>>, ipv4 => {10, 0, 0, 1},
                               udp_port => 7400, version => 1}},
                 dpdist_epmd:parse_extra(<<"DPD1", 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 7400:16, 1>>)),
    [?assertEqual(none, dpdist_epmd:parse_extra(B))
     || B <- [<<>>, <<"DPA1">>, <<"DPD1", 1, 2, 3>>, <<"XYZ12">>]].

best_version_test() ->
    ?assertEqual(6, dpdist_epmd:best_version({5, 6}, {5, 6})),
    ?assertEqual(5, dpdist_epmd:best_version({5, 6}, {5, 5})),
    ?assertEqual(0, dpdist_epmd:best_version({6, 6}, {5, 5})),
    ?assertEqual(0, dpdist_epmd:best_version({5, 6}, {7, 7})).

extra_without_agent_test() ->
    %% This VM runs without -dpdist_agent: nothing is advertised.
    ?assertEqual(error, init:get_argument(dpdist_agent)),
    ?assertEqual(<<>>, dpdist_epmd:extra()).

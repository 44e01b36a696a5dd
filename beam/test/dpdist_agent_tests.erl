%% EUnit tests of dpdist_agent's codec: the golden messages of tests/vectors/ag_proto.txt
%% (written by tests/vectors/gen_ag_proto.py; agent/ag_proto.c is held to the same bytes).
%% The VM encodes REGISTER, PROBE and PROBE_ACK; it decodes what an agent sends on a link
%% (WELCOME, REFUSED, PROBE, PROBE_ACK) and refuses everything else.
-module(dpdist_agent_tests).
-include_lib("eunit/include/eunit.hrl").

vectors() ->
    Src = os:getenv("DPDIST_SRC"),
    {ok, Text} = file:read_file(filename:join([Src, "tests", "vectors", "ag_proto.txt"])),
    [case string:lexemes(L, " ") of
         ["ok", Name, Hex] -> {ok, Name, binary:decode_hex(list_to_binary(Hex))};
         ["bad", Why, Name, Hex] -> {bad, Why, Name, binary:decode_hex(list_to_binary(Hex))}
     end || L <- string:lexemes(binary_to_list(Text), "\n"), hd(L) =/= $#].

%% The body after the 2-byte length ({packet,2} strips it).
body(<<Len:16, Body:Len/binary>>) -> Body.

vector(Name) -> hd([B || {ok, N, B} <- vectors(), N =:= Name]).

encode_matches_vectors_test() ->
    <<1, 1, 0, Pid:32, _/binary>> = body(vector("register")),
    ?assertEqual(body(vector("register")), dpdist_agent:encode({register, 1, Pid, <<"a@host">>})),
    ?assertEqual(body(vector("probe")), dpdist_agent:encode({probe, 16#11})),
    ?assertEqual(body(vector("probe_ack")), dpdist_agent:encode({probe_ack, 16#11})).

decode_agent_messages_test() ->
    ?assertEqual({ok, {welcome, 1, 1, 3, 16#0102030405060708, 65536, 10, 1000}},
                 dpdist_agent:decode(body(vector("welcome")))),
    ?assertMatch({ok, {welcome, 1, 2, 3, _, _, _, _}},
                 dpdist_agent:decode(body(vector("welcome_gcm")))),
    ?assertEqual({ok, {refused, 0, not_allowed, <<"uid 65534 is not in allow_uids">>}},
                 dpdist_agent:decode(body(vector("refused")))),
    ?assertEqual({ok, {refused, 0, limit, <<>>}},
                 dpdist_agent:decode(body(vector("refused_no_text")))),
    ?assertEqual({ok, {probe, 16#11}}, dpdist_agent:decode(body(vector("probe")))),
    ?assertEqual({ok, {probe_ack, 16#11}}, dpdist_agent:decode(body(vector("probe_ack")))).

%% Every other golden message is no message an agent sends on a link: refused.
others_refused_test_() ->
    Mine = ["welcome", "welcome_gcm", "refused", "refused_no_text", "probe", "probe_ack"],
    [{N, ?_assertMatch({error, _}, dpdist_agent:decode(body(B)))}
     || {ok, N, B} <- vectors(), not lists:member(N, Mine)].

%% The bad vectors of the types the VM decodes are refused too (mode 3, reason 0, a text
%% over 1024 bytes, a PROBE of 5 bytes); so is every cut of WELCOME and REFUSED.
bad_refused_test_() ->
    [{N, ?_assertMatch({error, _}, dpdist_agent:decode(Body))}
     || {bad, _, N, <<_:16, Body/binary>>} <- vectors(), Body =/= <<>>,
        lists:member(binary:first(Body), [2, 9, 10, 11])].

cuts_refused_test() ->
    [?assertMatch({error, _}, dpdist_agent:decode(binary:part(B, 0, K)))
     || Name <- ["welcome", "refused", "probe"], B <- [body(vector(Name))],
        K <- lists:seq(0, byte_size(B) - 1)].

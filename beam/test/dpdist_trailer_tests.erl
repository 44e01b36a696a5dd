%% EUnit tests of dpdist_trailer: the golden vectors of tests/vectors/dptrailer.txt (the same
%% file control/dptrailer.c is tested on), kinds, truncations, canonical encoding, refusals,
%% and random input. The vectors are found through DPDIST_SRC (set by meson).
-module(dpdist_trailer_tests).

-include_lib("eunit/include/eunit.hrl").

vectors() ->
    Src = os:getenv("DPDIST_SRC"),
    ?assertNotEqual(false, Src),
    {ok, Text} = file:read_file(filename:join([Src, "tests", "vectors", "dptrailer.txt"])),
    [vector(string:lexemes(L, " ")) || L <- string:split(binary_to_list(Text), "\n", all),
                                       L =/= "", hd(L) =/= $#].

vector([Name, Expect, Hex | Fields]) ->
    #{name => Name, expect => Expect,
      bytes => case Hex of "-" -> <<>>; _ -> binary:decode_hex(list_to_binary(Hex)) end,
      fields => maps:from_list([list_to_tuple(string:split(F, "=")) || F <- Fields])}.

ok_vectors() -> [V || #{expect := "ok"} = V <- vectors()].

named(Name) -> hd([V || #{name := N} = V <- vectors(), N =:= Name]).

%% The map the fields of an ok vector describe.
from_fields(F) ->
    Int = fun(K) -> list_to_integer(maps:get(K, F)) end,
    Hex = fun(K) -> binary:decode_hex(list_to_binary(maps:get(K, F))) end,
    {ok, Ip} = inet:parse_ipv4strict_address(maps:get("ipv4", F)),
    #{kind => list_to_atom(maps:get("kind", F)), mode => list_to_atom(maps:get("mode", F)),
      endpoint_id => Int("endpoint_id"), mac => Hex("mac"), ipv4 => Ip,
      udp_port => Int("udp_port"), mtu => Int("mtu"), hb_missed => Int("hb_missed"),
      window_frames => Int("window_frames"), conn_rx_window => Int("conn_rx_window"),
      hb_interval_ns => Int("hb_interval_ns"), rx_session => Int("rx_session"),
      conn_rx_id => Int("conn_rx_id"), token => Hex("token"),
      x25519_pub => Hex("x25519_pub"), ext => Hex("ext")}.

result_name({ok, _}) -> "ok";
result_name({error, {version, _}}) -> "version";
result_name({error, R}) -> atom_to_list(R).

vector_file_test() ->
    ?assert(length(vectors()) >= 40),
    ?assert(length(ok_vectors()) >= 5).

golden_vectors_decode_test_() ->
    [{Name, fun() ->
                    R = dpdist_trailer:decode(B),
                    ?assertEqual(Expect, result_name(R)),
                    case {R, F} of
                        {{ok, T}, _} -> ?assertEqual(from_fields(F), T);
                        {{error, {version, V}}, #{"version" := Want}} ->
                            ?assertEqual(list_to_integer(Want), V);
                        _ -> ok
                    end
            end}
     || #{name := Name, expect := Expect, bytes := B, fields := F} <- vectors()].

golden_vectors_encode_test_() ->
    [{Name, ?_assertEqual({ok, B}, dpdist_trailer:encode(from_fields(F)))}
     || #{name := Name, bytes := B, fields := F} <- ok_vectors()].

kind_must_be_the_one_due_test() ->
    #{bytes := Offer} = named("offer_gmac"),
    #{bytes := Answer} = named("answer_gcm_minimums"),
    ?assertMatch({ok, #{kind := offer}}, dpdist_trailer:decode(Offer, offer)),
    ?assertEqual({error, kind}, dpdist_trailer:decode(Offer, answer)),
    ?assertMatch({ok, #{kind := answer}}, dpdist_trailer:decode(Answer, answer)),
    ?assertEqual({error, kind}, dpdist_trailer:decode(Answer, offer)).

every_prefix_is_refused_test() ->
    [?assertMatch({error, _}, dpdist_trailer:decode(binary:part(B, 0, N)))
     || #{bytes := B} <- ok_vectors(), N <- lists:seq(0, byte_size(B) - 1)].

%% A changed bit is refused, or decodes to fields that encode back to exactly those bytes.
every_flipped_bit_is_refused_or_canonical_test() ->
    [case dpdist_trailer:decode(Flipped) of
         {ok, T} -> ?assertEqual({ok, Flipped}, dpdist_trailer:encode(T));
         {error, _} -> ok
     end
     || #{bytes := B} <- ok_vectors(), I <- lists:seq(0, bit_size(B) - 1),
        Flipped <- [flip(B, I)]].

flip(B, I) ->
    <<Pre:I/bits, Bit:1, Post/bits>> = B,
    <<Pre/bits, (1 - Bit):1, Post/bits>>.

encode_refuses_what_decode_refuses_test() ->
    #{fields := F} = named("offer_gmac"),
    T = from_fields(F),
    ?assertEqual({error, kind}, dpdist_trailer:encode(T#{kind => any})),
    ?assertEqual({error, mode}, dpdist_trailer:encode(T#{mode => aes})),
    ?assertEqual({error, id}, dpdist_trailer:encode(T#{conn_rx_id => 0})),
    ?assertEqual({error, address}, dpdist_trailer:encode(T#{udp_port => 0})),
    ?assertEqual({error, address}, dpdist_trailer:encode(T#{ipv4 => {239, 1, 1, 1}})),
    ?assertEqual({error, param}, dpdist_trailer:encode(T#{mtu => 9601})),
    ?assertEqual({error, key}, dpdist_trailer:encode(T#{x25519_pub => <<0:256>>})),
    ?assertEqual({error, length}, dpdist_trailer:encode(T#{ext => binary:copy(<<0>>, 156)})),
    ?assertMatch({ok, _}, dpdist_trailer:encode(T#{ext => binary:copy(<<0>>, 155)})),
    ?assertMatch({ok, _}, dpdist_trailer:encode(maps:remove(ext, T))),
    ?assertError(badarg, dpdist_trailer:encode(T#{mac => <<1, 2, 3>>})),
    ?assertError(badarg, dpdist_trailer:encode(T#{ipv4 => {10, 0, 0, 256}})),
    ?assertError(badarg, dpdist_trailer:encode(T#{udp_port => 65536})),
    ?assertError(badarg, dpdist_trailer:encode(maps:remove(token, T))).

%% Random bytes, and valid trailers with random bytes changed, never crash the decoder and
%% give either a refusal or a trailer that encodes back to the same bytes.
random_input_test() ->
    rand:seed(exsss, {1, 2, 3}),
    Valid = [B || #{bytes := B} <- ok_vectors()],
    lists:foreach(
      fun(I) ->
              In = case I rem 2 of
                       0 -> rand:bytes(rand:uniform(300) - 1);
                       1 -> mutate(lists:nth(rand:uniform(length(Valid)), Valid))
                   end,
              case dpdist_trailer:decode(In) of
                  {ok, T} -> ?assertEqual({ok, In}, dpdist_trailer:encode(T));
                  {error, R} -> ?assert(is_list(dpdist_trailer:reason_text(R)))
              end
      end, lists:seq(1, 20000)).

mutate(B) ->
    Pos = rand:uniform(byte_size(B)) - 1,
    <<Pre:Pos/binary, _, Post/binary>> = B,
    <<Pre/binary, (rand:uniform(256) - 1), Post/binary>>.

reason_texts_test() ->
    [?assert(is_list(dpdist_trailer:reason_text(R)))
     || R <- [none, magic, short, {version, 1}, kind, length, mode, id, address, param, key]].

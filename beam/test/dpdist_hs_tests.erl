%% EUnit tests of dpdist_hs: two ends fed the messages of a real handshake's shape record the
%% same transcript; trailers go on the first 'N' each way, an answer only to a valid offer;
%% the peer's trailer is read once, refusals are reported; the transcript is bounded.
-module(dpdist_hs_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FLAGS_A, 16#3f07fffd).
-define(FLAGS_B, 16#3f07dffd).

name_msg(Name) ->
    <<$N, ?FLAGS_A:64, 1234:32, (byte_size(Name)):16, Name/binary>>.
challenge_msg(Name) ->
    <<$N, ?FLAGS_B:64, 16#cafe:32, 5678:32, (byte_size(Name)):16, Name/binary>>.
reply_msg() -> <<$r, 16#beef:32, (binary:copy(<<7>>, 16))/binary>>.
ack_msg() -> <<$a, (binary:copy(<<9>>, 16))/binary>>.

offer_fun(Kind, Bin) ->
    fun(K, _Peer) when K =:= Kind -> Bin;
       (K, Peer) -> erlang:error({unexpected_trailer_request, K, Peer})
    end.
never() -> fun(K, P) -> erlang:error({no_trailer_is_due, K, P}) end.

trailer(Kind) ->
    {ok, B} = dpdist_trailer:encode(
                #{kind => Kind, mode => gmac, endpoint_id => 7, mac => <<2, 0, 0, 0, 0, 1>>,
                  ipv4 => {10, 0, 0, 1}, udp_port => 7400, mtu => 1500, hb_missed => 10,
                  window_frames => 4096, conn_rx_window => 1 bsl 23,
                  hb_interval_ns => 1000000, rx_session => 11, conn_rx_id => 1,
                  token => binary:copy(<<1>>, 16), x25519_pub => binary:copy(<<2>>, 32)}),
    B.

%% Runs the five messages of a handshake between initiator A and acceptor B: A's Offer
%% fun, B's Offer fun. Returns both summaries and what was on the wire.
handshake(OfferA, OfferB) ->
    A0 = dpdist_hs:new(initiator),
    B0 = dpdist_hs:new(acceptor),
    {W1, A1} = dpdist_hs:sent(name_msg(<<"a@h">>), OfferA, A0),
    {B1, EvB} = dpdist_hs:received(W1, B0),
    {W2, B2} = dpdist_hs:sent(<<"sok">>, never(), B1),
    {A2, none} = dpdist_hs:received(W2, A1),
    {W3, B3} = dpdist_hs:sent(challenge_msg(<<"b@h">>), OfferB, B2),
    {A3, EvA} = dpdist_hs:received(W3, A2),
    {W4, A4} = dpdist_hs:sent(reply_msg(), never(), A3),
    {B4, none} = dpdist_hs:received(W4, B3),
    {W5, B5} = dpdist_hs:sent(ack_msg(), never(), B4),
    {A5, none} = dpdist_hs:received(W5, A4),
    #{a => dpdist_hs:finish(A5), b => dpdist_hs:finish(B5), wire => [W1, W2, W3, W4, W5],
      event_a => EvA, event_b => EvB}.

th_of(Wire) -> crypto:hash(sha256, [<<(byte_size(W)):16, W/binary>> || W <- Wire]).

both_ends_record_the_same_transcript_test() ->
    #{a := A, b := B, wire := Wire} = handshake(offer_fun(offer, none), never()),
    ?assertEqual(th_of(Wire), maps:get(th, A)),
    ?assertEqual(maps:get(th, A), maps:get(th, B)),
    ?assertMatch(#{role := initiator, messages := 5, sent_trailer := none,
                   peer_trailer := none, this_flags := ?FLAGS_A, peer_flags := ?FLAGS_B}, A),
    ?assertMatch(#{role := acceptor, messages := 5, sent_trailer := none,
                   peer_trailer := none, this_flags := ?FLAGS_B, peer_flags := ?FLAGS_A}, B),
    ?assertEqual(lists:sum([byte_size(W) + 2 || W <- Wire]), maps:get(bytes, A)),
    ?assertEqual([name_msg(<<"a@h">>), <<"sok">>, challenge_msg(<<"b@h">>), reply_msg(),
                  ack_msg()], Wire).

offer_and_answer_ride_on_the_n_messages_test() ->
    Offer = trailer(offer),
    Answer = trailer(answer),
    #{a := A, b := B, wire := [W1, _, W3 | _] = Wire, event_a := EvA, event_b := EvB} =
        handshake(offer_fun(offer, Offer), offer_fun(answer, Answer)),
    ?assertEqual(<<(name_msg(<<"a@h">>))/binary, Offer/binary>>, W1),
    ?assertEqual(<<(challenge_msg(<<"b@h">>))/binary, Answer/binary>>, W3),
    ?assertMatch({peer_trailer, {ok, #{kind := offer, endpoint_id := 7}}}, EvB),
    ?assertMatch({peer_trailer, {ok, #{kind := answer}}}, EvA),
    ?assertMatch(#{sent_trailer := offer, peer_trailer := answer}, A),
    ?assertMatch(#{sent_trailer := answer, peer_trailer := offer}, B),
    %% The trailers are in the transcript: both ends agree, and it is not the bare one.
    ?assertEqual(th_of(Wire), maps:get(th, A)),
    ?assertEqual(maps:get(th, A), maps:get(th, B)),
    #{a := Bare} = handshake(offer_fun(offer, none), never()),
    ?assertNotEqual(maps:get(th, Bare), maps:get(th, A)).

no_answer_without_a_valid_offer_test() ->
    %% B's fun fails the test if it is asked: no offer came, so no answer is due.
    #{b := B, event_b := EvB} = handshake(offer_fun(offer, none), never()),
    ?assertEqual({peer_trailer, {error, none}}, EvB),
    ?assertMatch(#{sent_trailer := none, peer_trailer := none}, B),
    %% An offer that does not decode is no offer either.
    <<Head:10/binary, _EndpointId:64, Rest/binary>> = trailer(offer),
    Broken = <<Head/binary, 0:64, Rest/binary>>,
    #{b := B2, event_b := Ev2} = handshake(offer_fun(offer, Broken), never()),
    ?assertEqual({peer_trailer, {error, id}}, Ev2),
    ?assertMatch(#{sent_trailer := none, peer_trailer := {ignored, id}}, B2).

an_offer_in_the_challenge_is_refused_test() ->
    %% The acceptor must answer, not offer: the initiator refuses kind offer there.
    #{event_a := EvA, a := A} = handshake(offer_fun(offer, trailer(offer)),
                                          offer_fun(answer, trailer(offer))),
    ?assertEqual({peer_trailer, {error, kind}}, EvA),
    ?assertMatch(#{peer_trailer := {ignored, kind}}, A).

a_dpdist_0_1_trailer_is_another_version_test() ->
    B0 = dpdist_hs:new(acceptor),
    {B1, Ev} = dpdist_hs:received(<<(name_msg(<<"echo@h">>))/binary, "DPDIST", 1, 0>>, B0),
    ?assertEqual({peer_trailer, {error, {version, 1}}}, Ev),
    ?assertMatch(#{peer_trailer := {ignored, {version, 1}}}, dpdist_hs:finish(B1)).

only_the_first_n_is_read_test() ->
    A0 = dpdist_hs:new(initiator),
    {A1, {peer_trailer, _}} = dpdist_hs:received(challenge_msg(<<"b@h">>), A0),
    {A2, none} = dpdist_hs:received(<<(challenge_msg(<<"b@h">>))/binary,
                                      (trailer(answer))/binary>>, A1),
    ?assertMatch(#{peer_trailer := none, messages := 2}, dpdist_hs:finish(A2)),
    %% ... and only our first 'N' gets a trailer.
    {_, A3} = dpdist_hs:sent(name_msg(<<"a@h">>), offer_fun(offer, trailer(offer)), A2),
    {Out, _} = dpdist_hs:sent(name_msg(<<"a@h">>), never(), A3),
    ?assertEqual(name_msg(<<"a@h">>), Out).

a_cut_name_message_is_no_trailer_test() ->
    [?assertMatch({_, {peer_trailer, {error, short}}},
                  dpdist_hs:received(binary:part(name_msg(<<"a@h">>), 0, N),
                                     dpdist_hs:new(acceptor)))
     || N <- lists:seq(1, 16)].

the_transcript_is_bounded_test() ->
    Many = lists:foldl(fun(_, S) -> element(1, dpdist_hs:received(<<"sok">>, S)) end,
                       dpdist_hs:new(initiator), lists:seq(1, 9)),
    ?assertMatch(#{th := undefined}, dpdist_hs:finish(Many)),
    Eight = lists:foldl(fun(_, S) -> element(1, dpdist_hs:received(<<"sok">>, S)) end,
                        dpdist_hs:new(initiator), lists:seq(1, 8)),
    ?assertMatch(#{th := <<_:256>>, messages := 8}, dpdist_hs:finish(Eight)),
    {Big, _} = dpdist_hs:received(binary:copy(<<$s>>, 8191), dpdist_hs:new(acceptor)),
    ?assertMatch(#{th := undefined}, dpdist_hs:finish(Big)).

random_peer_messages_never_crash_test() ->
    rand:seed(exsss, {4, 5, 6}),
    lists:foreach(
      fun(_) ->
              Role = case rand:uniform(2) of 1 -> initiator; 2 -> acceptor end,
              Msg = <<$N, (rand:bytes(rand:uniform(400) - 1))/binary>>,
              {S, {peer_trailer, _}} = dpdist_hs:received(Msg, dpdist_hs:new(Role)),
              ?assertMatch(#{messages := 1}, dpdist_hs:finish(S))
      end, lists:seq(1, 5000)).

%% dpdist_hs: what one connection's distribution handshake looks like to dpdist. dpdist_dist's
%% f_send / f_recv wrappers hand it every handshake message in wire order; it appends our
%% trailer to our first 'N' message when one is due, reads the peer's trailer from the
%% peer's first 'N', and records the transcript that keys the connection (docs/agent.md §5:
%% th = SHA-256 of every message as 2-byte length ‖ body, both directions, wire order, so the
%% trailers are covered).
%%
%% Pure: state in, state out; the caller keeps it (dpdist_dist: the connection process's
%% dictionary) and does the I/O, the counting and the logging. The offer itself comes from a
%% function the caller passes (the agent link's; none while there is no agent).
%%
%% Trailers: the initiator's first message is its name 'N' (an offer is due there); the
%% acceptor answers in its challenge 'N', and only when the peer's offer decoded. Only the
%% first 'N' each way is looked at. Peer input is hostile: any bytes are taken (dist_util
%% refuses a malformed message itself), a malformed trailer is no trailer, and the transcript
%% is bounded (HS_MAX_MSGS, HS_MAX_BYTES; beyond, it is dropped and the connection can only
%% be TCP).
-module(dpdist_hs).

-export([new/1, sent/3, received/2, finish/1]).
-export_type([state/0, role/0, summary/0]).

%% dist_util's handshake has at most 7 messages (N s [s] N [c] r a); a name is at most 1020
%% bytes and a trailer at most 266.
-define(HS_MAX_MSGS, 8).
-define(HS_MAX_BYTES, 8192).

-type role() :: initiator | acceptor.
-type peer_trailer() :: undefined | {ok, dpdist_trailer:trailer()}
                      | {error, dpdist_trailer:reason()}.
-record(hs, {role :: role(),
             msgs = [] :: [binary()],        % newest first
             count = 0 :: non_neg_integer(),
             bytes = 0 :: non_neg_integer(),
             overflow = false :: boolean(),
             sent_n = false :: boolean(),
             sent_trailer = none :: none | dpdist_trailer:kind(),
             this_flags = undefined :: undefined | non_neg_integer(),
             peer_flags = undefined :: undefined | non_neg_integer(),
             peer = undefined :: peer_trailer()}).
-opaque state() :: #hs{}.
-type summary() :: #{role := role(),
                     messages := non_neg_integer(),
                     bytes := non_neg_integer(),
                     th := binary() | undefined,
                     sent_trailer := none | dpdist_trailer:kind(),
                     peer_trailer := none | dpdist_trailer:kind() | {ignored, term()},
                     this_flags := non_neg_integer() | undefined,
                     peer_flags := non_neg_integer() | undefined}.

-spec new(role()) -> state().
new(Role) when Role =:= initiator; Role =:= acceptor ->
    #hs{role = Role}.

%% Our message Body (without its length) is about to go out. When a trailer is due, Offer
%% is asked for it: Offer(Kind, PeerTrailer) returns the trailer bytes or none. Returns the
%% bytes to send and the new state.
-spec sent(binary(), fun((dpdist_trailer:kind(), peer_trailer()) -> binary() | none),
           state()) -> {binary(), state()}.
sent(<<$N, Flags:64, _/binary>> = Body, Offer, #hs{sent_n = false} = S) ->
    Due = trailer_due(S),
    Trailer = case Due of
                  none -> none;
                  Kind -> Offer(Kind, S#hs.peer)
              end,
    {Out, SentKind} = case Trailer of
                          T when is_binary(T), T =/= <<>> -> {<<Body/binary, T/binary>>, Due};
                          _ -> {Body, none}
                      end,
    {Out, record(Out, S#hs{sent_n = true, sent_trailer = SentKind, this_flags = Flags})};
sent(Body, _Offer, S) ->
    {Body, record(Body, S)}.

trailer_due(#hs{role = initiator}) -> offer;
trailer_due(#hs{role = acceptor, peer = {ok, #{kind := offer}}}) -> answer;
trailer_due(#hs{}) -> none.

%% A message Body (without its length) came from the peer. Returns the new state and, the
%% first time the peer's 'N' is seen, what its trailer was.
-spec received(binary(), state()) -> {state(), none | {peer_trailer, peer_trailer()}}.
received(<<$N, _/binary>> = Body, #hs{peer = undefined, role = Role} = S) ->
    {Flags, Trailer} = split_name_message(Role, Body),
    Expect = case Role of acceptor -> offer; initiator -> answer end,
    Peer = case Trailer of
               error -> {error, short};
               _ -> dpdist_trailer:decode(Trailer, Expect)
           end,
    {record(Body, S#hs{peer = Peer, peer_flags = Flags}), {peer_trailer, Peer}};
received(Body, S) ->
    {record(Body, S), none}.

%% The acceptor reads the initiator's name message, the initiator the acceptor's challenge.
split_name_message(acceptor, <<$N, Flags:64, _Creation:32, NLen:16, _:NLen/binary,
                               Trailer/binary>>) ->
    {Flags, Trailer};
split_name_message(initiator, <<$N, Flags:64, _Challenge:32, _Creation:32, NLen:16,
                                _:NLen/binary, Trailer/binary>>) ->
    {Flags, Trailer};
split_name_message(_Role, _Short) ->
    {undefined, error}.

record(_Body, #hs{overflow = true} = S) ->
    S;
record(Body, #hs{count = C, bytes = B} = S) ->
    Entry = <<(byte_size(Body)):16, Body/binary>>,
    case C + 1 > ?HS_MAX_MSGS orelse B + byte_size(Entry) > ?HS_MAX_BYTES of
        true -> S#hs{overflow = true, msgs = []};
        false -> S#hs{msgs = [Entry | S#hs.msgs], count = C + 1, bytes = B + byte_size(Entry)}
    end.

%% The handshake is over (the peer proved the cookie): what is kept for the connection's
%% life. th is undefined when the transcript overflowed.
-spec finish(state()) -> summary().
finish(#hs{} = S) ->
    Th = case S#hs.overflow of
             true -> undefined;
             false -> crypto:hash(sha256, lists:reverse(S#hs.msgs))
         end,
    #{role => S#hs.role, messages => S#hs.count, bytes => S#hs.bytes, th => Th,
      sent_trailer => S#hs.sent_trailer,
      peer_trailer => case S#hs.peer of
                          {ok, #{kind := Kind}} -> Kind;
                          {error, none} -> none;
                          {error, Reason} -> {ignored, Reason};
                          undefined -> none
                      end,
      this_flags => S#hs.this_flags, peer_flags => S#hs.peer_flags}.

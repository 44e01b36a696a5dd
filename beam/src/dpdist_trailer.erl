%% The dpdist version-2 handshake trailer: the bytes a dpdist endpoint appends after the node
%% name of its 'N' handshake message, an offer (initiator) or an answer (acceptor) of a
%% data-plane connection. The same codec as control/dptrailer.{h,c}, held to the same golden
%% vectors (tests/vectors/dptrailer.txt); the layout, ranges and versioning rules are written
%% there and in docs/agent.md §2.
%%
%% Pure: binaries in, maps out and back; no process, no I/O. A malformed trailer is no
%% trailer: decode/2 says what was wrong (one reason per counter) and the caller stays on TCP.
-module(dpdist_trailer).

-export([decode/1, decode/2, encode/1, version/0, reason_text/1]).
-export_type([trailer/0, kind/0, mode/0, reason/0]).

-define(MAGIC, "DPDIST").
-define(MAGIC_LEN, 6).
-define(VERSION, 2).
-define(BODY_V2_LEN, 101).
-define(BODY_MAX, 256).

-define(MTU_MIN, 576).
-define(MTU_MAX, 9600).
-define(WINDOW_FRAMES_MIN, 8).
-define(WINDOW_FRAMES_MAX, 8192).
-define(HB_INTERVAL_NS_MIN, 100000).
-define(HB_INTERVAL_NS_MAX, 10000000000).
-define(HB_MISSED_MIN, 2).
-define(HB_MISSED_MAX, 1000).
-define(CONN_RX_WINDOW_MIN_BYTES, 65536).

-define(U16(X), (is_integer(X) andalso X >= 0 andalso X < 1 bsl 16)).
-define(U32(X), (is_integer(X) andalso X >= 0 andalso X < 1 bsl 32)).
-define(U64(X), (is_integer(X) andalso X >= 0 andalso X < 1 bsl 64)).

-type kind() :: offer | answer.
-type mode() :: none | gmac | gcm.
-type trailer() :: #{kind := kind(),
                     mode := mode(),
                     endpoint_id := pos_integer(),
                     mac := <<_:48>>,
                     ipv4 := inet:ip4_address(),
                     udp_port := 1..65535,
                     mtu := pos_integer(),
                     hb_missed := pos_integer(),
                     window_frames := pos_integer(),
                     conn_rx_window := pos_integer(),
                     hb_interval_ns := pos_integer(),
                     rx_session := pos_integer(),
                     conn_rx_id := pos_integer(),
                     token := <<_:128>>,
                     x25519_pub := <<_:256>>,
                     ext := binary()}.
%% The short names of control/dptrailer.h's DPTRAILER_RESULTS; version carries the byte seen.
-type reason() :: none | magic | short | {version, byte()} | kind | length | mode | id
                | address | param | key.

%% The data-plane protocol version this codec speaks.
-spec version() -> pos_integer().
version() -> ?VERSION.

-spec decode(binary()) -> {ok, trailer()} | {error, reason()}.
decode(Bin) -> decode(Bin, any).

%% Expect: the kind due here (offer in a name message, answer in a challenge) or any.
%% Checks in the order of dptrailer.h: magic, version, kind, length, then the fields.
-spec decode(binary(), kind() | any) -> {ok, trailer()} | {error, reason()}.
decode(<<>>, _Expect) ->
    {error, none};
decode(Bin, Expect) when is_binary(Bin) ->
    Seen = min(byte_size(Bin), ?MAGIC_LEN),
    case binary:part(Bin, 0, Seen) =:= binary:part(<<?MAGIC>>, 0, Seen) of
        false -> {error, magic};
        true -> decode_header(Bin, Expect)
    end.

decode_header(<<?MAGIC, ?VERSION, KindByte, Len:16, Body/binary>>, Expect) ->
    case kind_from_byte(KindByte) of
        Kind when Kind =/= error, Expect =:= any orelse Expect =:= Kind ->
            case byte_size(Body) of
                Len when Len >= ?BODY_V2_LEN, Len =< ?BODY_MAX -> decode_body(Kind, Body);
                _ -> {error, length}
            end;
        _ ->
            {error, kind}
    end;
decode_header(<<?MAGIC, ?VERSION, _/binary>>, _Expect) ->
    {error, short};
decode_header(<<?MAGIC, Version, _/binary>>, _Expect) ->
    {error, {version, Version}};
decode_header(_MagicPrefix, _Expect) ->
    {error, short}.

decode_body(Kind, <<EndpointId:64, Mac:6/binary, A, B, C, D, UdpPort:16, Mtu:16, HbMissed:16,
                    WindowFrames:32, ConnRxWindow:32, HbIntervalNs:64, RxSession:64,
                    ConnRxId:32, Token:16/binary, ModeByte, X25519:32/binary, Ext/binary>>) ->
    case mode_from_byte(ModeByte) of
        error ->
            {error, mode};
        Mode ->
            T = #{kind => Kind, mode => Mode, endpoint_id => EndpointId, mac => Mac,
                  ipv4 => {A, B, C, D}, udp_port => UdpPort, mtu => Mtu,
                  hb_missed => HbMissed, window_frames => WindowFrames,
                  conn_rx_window => ConnRxWindow, hb_interval_ns => HbIntervalNs,
                  rx_session => RxSession, conn_rx_id => ConnRxId, token => Token,
                  x25519_pub => X25519, ext => Ext},
            case check_fields(T) of
                ok -> {ok, T};
                Error -> Error
            end
    end.

%% The trailer for T: refuses what decode/2 refuses (same reasons), and an ext longer than
%% the body allows (length). A map of the wrong shape (a key missing, a mac that is not 6
%% bytes) is a programming error: badarg.
-spec encode(trailer()) -> {ok, binary()} | {error, reason()}.
encode(#{kind := Kind, mode := Mode, endpoint_id := EndpointId, mac := <<_:6/binary>> = Mac,
         ipv4 := {A, B, C, D}, udp_port := UdpPort, mtu := Mtu, hb_missed := HbMissed,
         window_frames := WindowFrames, conn_rx_window := ConnRxWindow,
         hb_interval_ns := HbIntervalNs, rx_session := RxSession, conn_rx_id := ConnRxId,
         token := <<_:16/binary>> = Token, x25519_pub := <<_:32/binary>> = X25519} = T)
  when ?U64(EndpointId), ?U16(UdpPort), ?U16(Mtu), ?U16(HbMissed), ?U32(WindowFrames),
       ?U32(ConnRxWindow), ?U64(HbIntervalNs), ?U64(RxSession), ?U32(ConnRxId),
       is_integer(A), is_integer(B), is_integer(C), is_integer(D),
       A bor B bor C bor D >= 0, A bor B bor C bor D =< 255 ->
    Ext = maps:get(ext, T, <<>>),
    KindByte = kind_to_byte(Kind),
    ModeByte = mode_to_byte(Mode),
    if
        KindByte =:= error -> {error, kind};
        not is_binary(Ext); byte_size(Ext) > ?BODY_MAX - ?BODY_V2_LEN -> {error, length};
        ModeByte =:= error -> {error, mode};
        true ->
            case check_fields(T#{ext => Ext}) of
                ok ->
                    Body = <<EndpointId:64, Mac/binary, A, B, C, D, UdpPort:16, Mtu:16,
                             HbMissed:16, WindowFrames:32, ConnRxWindow:32, HbIntervalNs:64,
                             RxSession:64, ConnRxId:32, Token/binary, ModeByte,
                             X25519/binary, Ext/binary>>,
                    {ok, <<?MAGIC, ?VERSION, KindByte, (byte_size(Body)):16, Body/binary>>};
                Error ->
                    Error
            end
    end;
encode(_) ->
    erlang:error(badarg).

%% The rules of dptrailer.h after the mode, in the order of its result table.
check_fields(#{endpoint_id := EndpointId, rx_session := RxSession, conn_rx_id := ConnRxId})
  when EndpointId =:= 0; RxSession =:= 0; ConnRxId =:= 0 ->
    {error, id};
check_fields(#{mac := <<M0, _:5/binary>> = Mac, ipv4 := {A, _, _, _}, udp_port := UdpPort})
  when M0 band 1 =:= 1; Mac =:= <<0:48>>; A =:= 0; A >= 224; UdpPort =:= 0 ->
    {error, address};
check_fields(#{mtu := Mtu, window_frames := Window, hb_interval_ns := Hb, hb_missed := Missed,
               conn_rx_window := RxWindow})
  when Mtu < ?MTU_MIN; Mtu > ?MTU_MAX; Window < ?WINDOW_FRAMES_MIN;
       Window > ?WINDOW_FRAMES_MAX; Hb < ?HB_INTERVAL_NS_MIN; Hb > ?HB_INTERVAL_NS_MAX;
       Missed < ?HB_MISSED_MIN; Missed > ?HB_MISSED_MAX;
       RxWindow < ?CONN_RX_WINDOW_MIN_BYTES ->
    {error, param};
check_fields(#{x25519_pub := <<0:256>>}) ->
    {error, key};
check_fields(_) ->
    ok.

kind_from_byte(1) -> offer;
kind_from_byte(2) -> answer;
kind_from_byte(_) -> error.

kind_to_byte(offer) -> 1;
kind_to_byte(answer) -> 2;
kind_to_byte(_) -> error.

mode_from_byte(0) -> none;
mode_from_byte(1) -> gmac;
mode_from_byte(2) -> gcm;
mode_from_byte(_) -> error.

mode_to_byte(none) -> 0;
mode_to_byte(gmac) -> 1;
mode_to_byte(gcm) -> 2;
mode_to_byte(_) -> error.

%% The message of a refusal, as control/dptrailer.c's dptrailer_strerror words it.
-spec reason_text(reason()) -> string().
reason_text(none) -> "no trailer (BEAM sends none)";
reason_text(magic) -> "trailer does not start with \"DPDIST\"";
reason_text(short) -> "trailer shorter than its header";
reason_text({version, V}) ->
    lists:flatten(io_lib:format("trailer of data-plane protocol version ~b (this node speaks ~b)",
                                [V, ?VERSION]));
reason_text(kind) -> "trailer is neither an offer nor an answer, or not the one due";
reason_text(length) ->
    "trailer length field disagrees with its bytes, or the body is too short or too long";
reason_text(mode) -> "unknown frame authentication mode";
reason_text(id) -> "endpoint id, receive session or connection id is 0";
reason_text(address) -> "data-plane MAC, IPv4 address or UDP port is not usable";
reason_text(param) ->
    "MTU, window, heartbeat interval, missed heartbeats or receive window out of range";
reason_text(key) -> "X25519 public key is all zeros".

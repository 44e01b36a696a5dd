%% dpdist_dist: the distribution module of `erl -proto_dist dpdist` (docs/agent.md §1, §4).
%%
%% Today it carries every connection over TCP exactly as inet_tcp_dist does (listening,
%% accepting, EPMD registration and lookup, the handshake: all OTP's, or the same steps),
%% with two differences:
%%   - the handshake runs through dpdist's own #hs_data{}: its f_send / f_recv wrappers hand
%%     every message to dpdist_hs, which appends our trailer when one is due, reads the peer's
%%     and records the transcript that will key the data plane; at nodeup the connection
%%     process keeps the summary (dpdist:info/1 shows it);
%%   - DFLAG_DIST_HDR_ATOM_CACHE is rejected (reject_flags), so that an agent can read the
%%     sender of every message (DESIGN-15 §3.1) and per-sender order is the only order owed.
%% With -dpdist_agent PATH it starts the agent link (dpdist_agent), which registers with the
%% agent and logs how that goes; offers through it come later (docs/agent.md §9): until then
%% no offer is made, which is the documented fallback — with no -dpdist_agent, or no agent,
%% the node is a plain TCP distribution node and joins any BEAM cluster.
%%
%% net_kernel calls this module; a crash in listen/accept would take distribution down, so
%% what dpdist adds there (counters, the agent note) cannot fail the call. A connection's own
%% processes may exit: that is that connection failing, as with inet_tcp_dist.
-module(dpdist_dist).

%% The -proto_dist interface (kernel's alt_dist documentation).
-export([listen/1, listen/2, accept/1, accept_connection/5, setup/5, close/1, select/1,
         address/0, is_node_name/1, setopts/2, getopts/2]).
%% Spawned, and the #hs_data{} tick and statistics functions (external funs).
-export([do_accept/6, do_setup/6, tick/1, getstat/1]).
%% For dpdist.
-export([conn_summary/1, counters/0]).

-include_lib("kernel/include/net_address.hrl").
-include_lib("kernel/include/dist_util.hrl").

-define(DFLAG_DIST_HDR_ATOM_CACHE, 16#2000).
%% Process-dictionary keys of a connection process: the handshake state while it runs, the
%% summary after nodeup.
-define(HS_KEY, dpdist_hs).
-define(PEER_EXTRA_KEY, dpdist_peer_extra).
-define(CONN_KEY, dpdist_conn).
-define(COUNTERS_KEY, {?MODULE, counters}).
%% What dpdist:stats/0 shows. peer_trailer_R: the peer's first 'N' had a trailer that
%% decoded (ok) or none, or one refused for reason R (dpdist_trailer:reason()).
-define(COUNTERS, [handshakes_initiated, handshakes_accepted, nodeups, transcript_overflow,
                   trailers_sent, peer_trailer_ok, peer_trailer_none, peer_trailer_magic,
                   peer_trailer_short, peer_trailer_version, peer_trailer_kind,
                   peer_trailer_length, peer_trailer_mode, peer_trailer_id,
                   peer_trailer_address, peer_trailer_param, peer_trailer_key]).

%% ---- listening and accepting: inet_tcp_dist's -------------------------------------------

listen(Name) ->
    started(),
    inet_tcp_dist:listen(Name).

listen(Name, Host) ->
    started(),
    inet_tcp_dist:listen(Name, Host).

accept(Listen) -> inet_tcp_dist:accept(Listen).
close(Socket) -> inet_tcp_dist:close(Socket).
select(Node) -> inet_tcp_dist:select(Node).
address() -> inet_tcp_dist:address().
is_node_name(Node) -> inet_tcp_dist:is_node_name(Node).
setopts(Listen, Opts) -> inet_tcp_dist:setopts(Listen, Opts).
getopts(Listen, Opts) -> inet_tcp_dist:getopts(Listen, Opts).

%% Once, when net_kernel starts: the counters, and the agent link when -dpdist_agent names
%% one.
started() ->
    try
        case persistent_term:get(?COUNTERS_KEY, undefined) of
            undefined ->
                persistent_term:put(?COUNTERS_KEY,
                                    counters:new(length(?COUNTERS), [write_concurrency]));
            _ -> ok
        end,
        case dpdist:agent() of
            none -> ok;
            Path -> dpdist_agent:start(Path) % the link says how it goes (dpdist_agent)
        end,
        ok
    catch
        Class:Reason ->
            logger:warning("dpdist: start-up failed (~p:~p); distribution runs over TCP",
                           [Class, Reason])
    end.

accept_connection(AcceptPid, Socket, MyNode, Allowed, SetupTime) ->
    spawn_opt(?MODULE, do_accept, [self(), AcceptPid, Socket, MyNode, Allowed, SetupTime],
              dist_util:net_ticker_spawn_options()).

do_accept(Kernel, AcceptPid, Socket, MyNode, Allowed, SetupTime) ->
    receive
        {AcceptPid, controller} ->
            Timer = dist_util:start_timer(SetupTime),
            case check_ip(Socket) of
                true ->
                    count(handshakes_accepted),
                    HS = hs_data(acceptor, Kernel, MyNode, Socket, Timer),
                    dist_util:handshake_other_started(
                      HS#hs_data{allowed = Allowed, f_address = fun acceptor_address/2});
                {false, IP} ->
                    error_logger:error_msg("** Connection attempt from disallowed IP ~w **~n",
                                           [IP]),
                    ?shutdown(no_node)
            end
    end.

%% kernel's check_ip: a peer must be on the network of one of our interfaces.
check_ip(Socket) ->
    case application:get_env(kernel, check_ip) of
        {ok, true} ->
            case {inet:peername(Socket), inet:getifaddrs()} of
                {{ok, {PeerIP, _}}, {ok, Ifs}} ->
                    Nets = [N || {_, Opts} <- Ifs, N <- addr_masks(Opts)],
                    lists:any(fun({Addr, Mask}) -> same_net(Addr, PeerIP, Mask) end, Nets)
                        orelse {false, PeerIP};
                _ ->
                    ?shutdown(no_node)
            end;
        _ ->
            true
    end.

addr_masks([{addr, A}, {netmask, M} | Rest]) when tuple_size(A) =:= 4 ->
    [{A, M} | addr_masks(Rest)];
addr_masks([_ | Rest]) -> addr_masks(Rest);
addr_masks([]) -> [].

same_net({A1, A2, A3, A4}, {B1, B2, B3, B4}, {M1, M2, M3, M4}) ->
    {A1 band M1, A2 band M2, A3 band M3, A4 band M4} =:=
        {B1 band M1, B2 band M2, B3 band M3, B4 band M4};
same_net(_, _, _) ->
    false.

acceptor_address(Socket, Node) ->
    case {inet:peername(Socket), string:split(atom_to_list(Node), "@")} of
        {{ok, Address}, [_, Host]} ->
            #net_address{address = Address, host = Host, protocol = tcp, family = inet};
        _ ->
            ?shutdown(no_node)
    end.

%% ---- dialling -------------------------------------------------------------------------

setup(Node, Type, MyNode, LongOrShortNames, SetupTime) ->
    spawn_opt(?MODULE, do_setup, [self(), Node, Type, MyNode, LongOrShortNames, SetupTime],
              dist_util:net_ticker_spawn_options()).

do_setup(Kernel, Node, Type, MyNode, LongOrShortNames, SetupTime) ->
    Timer = dist_util:start_timer(SetupTime),
    {Name, Host} = split_node(Node, LongOrShortNames),
    case lookup(Name, Host) of
        {ok, Ip, TcpPort, Version, Extra} ->
            dist_util:reset_timer(Timer),
            case gen_tcp:connect(Ip, TcpPort, connect_options()) of
                {ok, Socket} ->
                    count(handshakes_initiated),
                    put(?PEER_EXTRA_KEY, dpdist_epmd:parse_extra(Extra)),
                    HS = hs_data(initiator, Kernel, MyNode, Socket, Timer),
                    Address = #net_address{address = {Ip, TcpPort}, host = Host,
                                           protocol = tcp, family = inet},
                    dist_util:handshake_we_started(
                      HS#hs_data{other_node = Node, other_version = Version,
                                 request_type = Type,
                                 f_address = fun(_, _) -> Address end});
                _ ->
                    ?shutdown(Node)
            end;
        _ ->
            ?shutdown(Node)
    end.

%% Name and host of Node, which must be a name of this node's kind (short or long).
split_node(Node, LongOrShortNames) ->
    case string:split(atom_to_list(Node), "@", all) of
        [Name, Host] when Name =/= "", Host =/= "" ->
            Long = lists:member($., Host) orelse element(1, inet:parse_address(Host)) =:= ok,
            case {LongOrShortNames, Long} of
                {shortnames, true} ->
                    error_logger:error_msg("** dpdist: cannot connect to ~p: this node runs "
                                           "with short names (-sname) **~n", [Node]),
                    ?shutdown(Node);
                {longnames, false} ->
                    error_logger:error_msg("** dpdist: cannot connect to ~p: this node runs "
                                           "with long names (-name) **~n", [Node]),
                    ?shutdown(Node);
                _ ->
                    {Name, Host}
            end;
        _ ->
            error_logger:error_msg("** Nodename ~p illegal **~n", [Node]),
            ?shutdown(Node)
    end.

%% Address, port, version and EPMD Extra of Name@Host, through the -epmd_module.
lookup(Name, Host) ->
    Epmd = net_kernel:epmd_module(),
    _ = code:ensure_loaded(Epmd),
    Resolved = case erlang:function_exported(Epmd, address_please, 3) of
                   true -> Epmd:address_please(Name, Host, inet);
                   false -> erl_epmd:address_please(Name, Host, inet)
               end,
    case Resolved of
        {ok, Ip, TcpPort, Version} ->
            {ok, Ip, TcpPort, Version, <<>>};
        {ok, Ip} ->
            Port = case Epmd of
                       dpdist_epmd -> dpdist_epmd:port_please_extra(Name, Ip, infinity);
                       _ -> Epmd:port_please(Name, Ip)
                   end,
            case Port of
                {port, TcpPort, Version, Extra} -> {ok, Ip, TcpPort, Version, Extra};
                {port, TcpPort, Version} -> {ok, Ip, TcpPort, Version, <<>>};
                Other -> Other
            end;
        Other ->
            Other
    end.

connect_options() ->
    Extra = case application:get_env(kernel, inet_dist_connect_options) of
                {ok, Opts} when is_list(Opts) -> Opts;
                _ -> []
            end,
    Extra ++ [{active, false}, {packet, 2}].

nodelay() ->
    case application:get_env(kernel, dist_nodelay) of
        {ok, false} -> {nodelay, false};
        _ -> {nodelay, true}
    end.

%% ---- the handshake through dpdist_hs ------------------------------------------------------

hs_data(Role, Kernel, MyNode, Socket, Timer) ->
    put(?HS_KEY, dpdist_hs:new(Role)),
    #hs_data{kernel_pid = Kernel, this_node = MyNode, socket = Socket, timer = Timer,
             this_flags = 0, reject_flags = ?DFLAG_DIST_HDR_ATOM_CACHE,
             f_send = fun hs_send/2,
             f_recv = fun hs_recv/3,
             f_setopts_pre_nodeup = fun pre_nodeup/1,
             f_setopts_post_nodeup = fun post_nodeup/1,
             f_getll = fun inet:getll/1,
             mf_tick = fun ?MODULE:tick/1,
             mf_getstat = fun ?MODULE:getstat/1,
             mf_setopts = fun inet_tcp_dist:setopts/2,
             mf_getopts = fun inet_tcp_dist:getopts/2}.

hs_send(Socket, Data) ->
    {Out, HS} = dpdist_hs:sent(iolist_to_binary(Data), fun offer/2, get(?HS_KEY)),
    put(?HS_KEY, HS),
    gen_tcp:send(Socket, Out).

hs_recv(Socket, Length, Timeout) ->
    case gen_tcp:recv(Socket, Length, Timeout) of
        {ok, Data} ->
            {HS, Event} = dpdist_hs:received(iolist_to_binary(Data), get(?HS_KEY)),
            put(?HS_KEY, HS),
            peer_trailer_seen(Event),
            {ok, Data};
        Error ->
            Error
    end.

%% The trailer to append (DESIGN-15 §2.3): the agent link's offer or answer. There is no
%% agent link yet, so none: the connection stays on TCP.
offer(_Kind, _PeerTrailer) ->
    none.

peer_trailer_seen(none) ->
    ok;
peer_trailer_seen({peer_trailer, Result}) ->
    N = count(trailer_counter(Result)),
    case Result of
        {error, Reason2} when Reason2 =/= none ->
            %% Rate-limited: the 1st, 2nd, 4th, 8th... of each reason.
            case N band (N - 1) of
                0 -> logger:notice("dpdist: ignored the handshake trailer of a peer (~ts; ~b "
                                   "so far): that connection uses TCP",
                                   [dpdist_trailer:reason_text(Reason2), N]);
                _ -> ok
            end;
        _ ->
            ok
    end.

trailer_counter({ok, _}) -> peer_trailer_ok;
trailer_counter({error, none}) -> peer_trailer_none;
trailer_counter({error, magic}) -> peer_trailer_magic;
trailer_counter({error, short}) -> peer_trailer_short;
trailer_counter({error, {version, _}}) -> peer_trailer_version;
trailer_counter({error, kind}) -> peer_trailer_kind;
trailer_counter({error, length}) -> peer_trailer_length;
trailer_counter({error, mode}) -> peer_trailer_mode;
trailer_counter({error, id}) -> peer_trailer_id;
trailer_counter({error, address}) -> peer_trailer_address;
trailer_counter({error, param}) -> peer_trailer_param;
trailer_counter({error, key}) -> peer_trailer_key.

pre_nodeup(Socket) ->
    case get(?HS_KEY) of
        undefined ->
            ok;
        HS ->
            Summary = dpdist_hs:finish(HS),
            erase(?HS_KEY),
            maps:get(th, Summary) =:= undefined andalso count(transcript_overflow),
            maps:get(sent_trailer, Summary) =/= none andalso count(trailers_sent),
            count(nodeups),
            put(?CONN_KEY, Summary#{peer_extra => get(?PEER_EXTRA_KEY)})
    end,
    inet:setopts(Socket, [{active, false}, {packet, 4}, nodelay()]).

post_nodeup(Socket) ->
    inet:setopts(Socket, [{active, true}, {deliver, port}, {packet, 4}, binary, nodelay()]).

%% mf_tick: an empty packet (4 zero bytes), sent even when the port is busy.
tick(Socket) ->
    case inet_tcp:send(Socket, [], [force]) of
        {error, closed} ->
            self() ! {tcp_closed, Socket},
            {error, closed};
        Result ->
            Result
    end.

%% mf_getstat: {ok, Received, Sent, Pending} packets.
getstat(Socket) ->
    case inet:getstat(Socket, [recv_cnt, send_cnt, send_pend]) of
        {ok, Stats} ->
            {ok, proplists:get_value(recv_cnt, Stats, 0), proplists:get_value(send_cnt, Stats, 0),
             proplists:get_value(send_pend, Stats, 0)};
        Error ->
            Error
    end.

%% ---- for dpdist -----------------------------------------------------------------------

%% The handshake summary a connection process keeps (undefined for connections this module
%% did not make). Reads its dictionary: the process is never sent anything.
conn_summary(Pid) ->
    case erlang:process_info(Pid, dictionary) of
        {dictionary, Dict} ->
            case lists:keyfind(?CONN_KEY, 1, Dict) of
                {_, Summary} -> Summary;
                false -> undefined
            end;
        undefined ->
            undefined
    end.

%% Every counter by name (zeros before net_kernel started this module).
counters() ->
    Ref = persistent_term:get(?COUNTERS_KEY, undefined),
    maps:from_list([{Name, case Ref of undefined -> 0; _ -> counters:get(Ref, I) end}
                    || {I, Name} <- lists:zip(lists:seq(1, length(?COUNTERS)), ?COUNTERS)]).

%% Adds one to Name; returns its new value (0 when there are no counters).
count(Name) ->
    case persistent_term:get(?COUNTERS_KEY, undefined) of
        undefined ->
            0;
        Ref ->
            I = index(Name, ?COUNTERS, 1),
            counters:add(Ref, I, 1),
            counters:get(Ref, I)
    end.

index(Name, [Name | _], I) -> I;
index(Name, [_ | Rest], I) -> index(Name, Rest, I + 1).

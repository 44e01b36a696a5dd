%% dpdist_epmd: the -epmd_module of a dpdist VM (docs/agent.md §3). It talks to any
%% EPMD-compatible name server (Erlang's `epmd`, `dpdist-epmd`) on the port erl was given
%% (ERL_EPMD_PORT, which erl turns into -epmd_port; default 4369), as erl_epmd does, with two
%% differences erl_epmd cannot make:
%%   - ALIVE2 carries an Extra field: "DPA1" and the data-plane protocol version when the VM
%%     is configured with an agent (-dpdist_agent PATH), empty otherwise;
%%   - port_please_extra/3 keeps the Extra of the PORT2 answer (erl_epmd drops it), so that
%%     dpdist_dist knows whether a peer may answer a data-plane offer.
%% names/0,1, address_please/3 and listen_port_please/2 are erl_epmd's.
%%
%% The registration lives in this process (started by the kernel's net_sup, which restarts
%% nothing: a crash here would take distribution down), so it never crashes: every request
%% and message is handled, a lost registration is retried every 2 s, and the EPMD's answers
%% are checked and bounded before use. The Extra is only a hint; the handshake trailers
%% decide (dpdist_trailer).
-module(dpdist_epmd).
-behaviour(gen_server).

%% The -epmd_module interface (kernel's erl_epmd).
-export([start_link/0, register_node/2, register_node/3, port_please/2, port_please/3,
         listen_port_please/2, address_please/3, names/0, names/1]).
%% dpdist's own.
-export([port_please_extra/3, extra/0, parse_extra/1]).
%% The pure protocol pieces, for the EUnit tests.
-export([alive2_request/4, alive2_reply/1, port2_request/1, port2_reply/1, best_version/2]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, code_change/3]).

-include_lib("kernel/include/inet.hrl").

-define(EPMD_DEFAULT_PORT, 4369).
-define(ALIVE2_REQ, $x).
-define(ALIVE2_X_RESP, $v).
-define(ALIVE2_RESP, $y).
-define(PORT_PLEASE2_REQ, $z).
-define(PORT2_RESP, $w).
-define(NODE_TYPE_NORMAL, 77).
-define(PROTOCOL_TCP_IPV4, 0).
%% The distribution versions erl_epmd advertises (6 = the OTP 23 handshake), clamped by
%% ERL_EPMD_DIST_HIGH / ERL_EPMD_DIST_LOW as there.
-define(DIST_HIGH, 6).
-define(DIST_LOW, 5).
-define(REPLY_TIMEOUT_MS, 10000).
-define(RETRY_MS, 2000).
%% Longest PORT2 answer: 14 bytes of fields + a name and an Extra of at most 1020 bytes each
%% (epmd's MAXSYMLEN), with room to spare; a longer one is garbage.
-define(PORT2_REPLY_MAX, 4096).
-define(EXTRA_AGENT, "DPA1").
-define(EXTRA_DATAPLANE, "DPD1").

-record(state, {socket = none :: gen_tcp:socket() | none,
                name = undefined :: string() | undefined,
                port = 0 :: non_neg_integer(),
                family = inet :: inet | inet6}).

%% ---- the -epmd_module interface ------------------------------------------------------

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

register_node(Name, Port) ->
    register_node(Name, Port, inet).

%% {ok, Creation} | {error, duplicate_name | already_registered | term()}
register_node(Name, Port, inet_tcp) -> register_node(Name, Port, inet);
register_node(Name, Port, inet6_tcp) -> register_node(Name, Port, inet6);
register_node(Name, Port, Family) ->
    gen_server:call(?MODULE, {register, to_string(Name), Port, Family}, infinity).

port_please(Name, Host) ->
    port_please(Name, Host, infinity).

%% {port, Port, Version} | noport | closed | {error, term()}, as erl_epmd.
port_please(Name, Host, Timeout) ->
    case port_please_extra(Name, Host, Timeout) of
        {port, Port, Version, _Extra} -> {port, Port, Version};
        Other -> Other
    end.

listen_port_please(Name, Host) -> erl_epmd:listen_port_please(Name, Host).
address_please(Name, Host, Family) -> erl_epmd:address_please(Name, Host, Family).
names() -> erl_epmd:names().
names(Host) -> erl_epmd:names(Host).

%% ---- dpdist's own ----------------------------------------------------------------------

%% port_please/3 keeping the Extra of the answer: {port, Port, Version, Extra}.
-spec port_please_extra(atom() | string(), atom() | string() | inet:ip_address(),
                        timeout()) ->
          {port, inet:port_number(), non_neg_integer(), binary()} | noport | closed
              | {error, term()}.
port_please_extra(Name, Host, Timeout) ->
    case erl_epmd:listen_port_please(Name, Host) of
        {ok, 0} ->
            case epmd_address(Host, Timeout) of
                {ok, Addr} -> ask_port(to_string(Name), Addr, Timeout);
                _ -> noport
            end;
        {ok, FixedPort} ->
            %% -erl_epmd_port: no EPMD, every node listens on that port (as erl_epmd).
            {port, FixedPort, ?DIST_LOW, <<>>}
    end.

%% The Extra this VM registers: "DPA1" Version when an agent is configured, else empty.
-spec extra() -> binary().
extra() ->
    case init:get_argument(dpdist_agent) of
        {ok, [[_Path | _] | _]} -> <<?EXTRA_AGENT, (dpdist_trailer:version())>>;
        _ -> <<>>
    end.

%% What a peer's Extra says: a VM behind an agent, a libdpdist node with a data plane (its
%% endpoint), or nothing dpdist knows. Fields may be appended later: bytes past the known
%% ones are ignored.
-spec parse_extra(binary()) ->
          {agent, Version :: byte()}
              | {dataplane, #{mac := binary(), ipv4 := inet:ip4_address(),
                              udp_port := inet:port_number(), version := byte()}}
              | none.
parse_extra(<<?EXTRA_AGENT, Version, _/binary>>) ->
    {agent, Version};
parse_extra(<<?EXTRA_DATAPLANE, Mac:6/binary, A, B, C, D, UdpPort:16, Version, _/binary>>) ->
    {dataplane, #{mac => Mac, ipv4 => {A, B, C, D}, udp_port => UdpPort, version => Version}};
parse_extra(_) ->
    none.

%% ---- the protocol bytes (erts/doc erl_dist_protocol: EPMD) -----------------------------

%% ALIVE2_REQ with its 2-byte length.
-spec alive2_request(string(), inet:port_number(), {byte(), byte()}, binary()) -> binary().
alive2_request(Name, Port, {High, Low}, Extra) ->
    NameBin = unicode:characters_to_binary(Name),
    Req = <<?ALIVE2_REQ, Port:16, ?NODE_TYPE_NORMAL, ?PROTOCOL_TCP_IPV4, High:16, Low:16,
            (byte_size(NameBin)):16, NameBin/binary, (byte_size(Extra)):16, Extra/binary>>,
    <<(byte_size(Req)):16, Req/binary>>.

%% The answer to ALIVE2 so far: {ok, Creation}, more (a prefix), or an error.
-spec alive2_reply(binary()) ->
          {ok, non_neg_integer()} | more | {error, duplicate_name | {garbage, binary()}}.
alive2_reply(<<?ALIVE2_X_RESP, 0, Creation:32>>) -> {ok, Creation};
alive2_reply(<<?ALIVE2_X_RESP, _Result, _:32>>) -> {error, duplicate_name};
alive2_reply(<<?ALIVE2_RESP, 0, Creation:16>>) -> {ok, Creation};
alive2_reply(<<?ALIVE2_RESP, _Result, _:16>>) -> {error, duplicate_name};
alive2_reply(<<?ALIVE2_X_RESP, _/binary>> = B) when byte_size(B) < 6 -> more;
alive2_reply(<<?ALIVE2_RESP, _/binary>> = B) when byte_size(B) < 4 -> more;
alive2_reply(<<>>) -> more;
alive2_reply(Garbage) -> {error, {garbage, Garbage}}.

-spec port2_request(string()) -> binary().
port2_request(Name) ->
    NameBin = unicode:characters_to_binary(Name),
    <<(byte_size(NameBin) + 1):16, ?PORT_PLEASE2_REQ, NameBin/binary>>.

%% The whole PORT2 answer (the EPMD closes after it).
-spec port2_reply(binary()) ->
          {ok, inet:port_number(), High :: non_neg_integer(), Low :: non_neg_integer(),
           binary()} | noport | {error, {garbage, binary()}}.
port2_reply(<<?PORT2_RESP, 0, Port:16, _Type, _Proto, High:16, Low:16, NLen:16,
              _Name:NLen/binary, ELen:16, Extra:ELen/binary>>) ->
    {ok, Port, High, Low, Extra};
port2_reply(<<?PORT2_RESP, Result>>) when Result =/= 0 ->
    noport;
port2_reply(Garbage) ->
    {error, {garbage, Garbage}}.

%% The distribution version both ends speak, 0 if none (as erl_epmd).
-spec best_version({non_neg_integer(), non_neg_integer()},
                   {non_neg_integer(), non_neg_integer()}) -> non_neg_integer().
best_version({OurLow, OurHigh}, {TheirLow, TheirHigh})
  when OurLow > TheirHigh; TheirLow > OurHigh ->
    0;
best_version({_, OurHigh}, {_, TheirHigh}) ->
    min(OurHigh, TheirHigh).

%% ---- the registration process ------------------------------------------------------------

init([]) ->
    {ok, #state{}}.

handle_call({register, Name, Port, Family}, _From, #state{socket = none, name = undefined} = S) ->
    case register_at_epmd(Name, Port, Family) of
        {ok, Socket, Creation} ->
            {reply, {ok, Creation}, S#state{socket = Socket, name = Name, port = Port,
                                            family = Family}};
        Error ->
            case init:get_argument(erl_epmd_port) of
                {ok, _} -> {reply, {ok, -1}, S#state{name = Name, port = Port}};
                error -> {reply, Error, S}
            end
    end;
handle_call({register, _, _, _}, _From, S) ->
    {reply, {error, already_registered}, S};
handle_call(_Other, _From, S) ->
    {reply, {error, unknown_request}, S}.

handle_cast(_Msg, S) ->
    {noreply, S}.

handle_info({tcp_closed, Socket}, #state{socket = Socket, name = Name} = S) ->
    logger:warning("dpdist_epmd: the name server closed the registration of ~ts; "
                   "registering again every ~b ms", [Name, ?RETRY_MS]),
    erlang:send_after(?RETRY_MS, self(), reregister),
    {noreply, S#state{socket = none}};
handle_info(reregister, #state{socket = none, name = Name} = S) when Name =/= undefined ->
    case register_at_epmd(Name, S#state.port, S#state.family) of
        {ok, Socket, _Creation} ->
            %% The node keeps the creation it has: its pids already carry it.
            logger:notice("dpdist_epmd: ~ts is registered again", [Name]),
            {noreply, S#state{socket = Socket}};
        _Error ->
            erlang:send_after(?RETRY_MS, self(), reregister),
            {noreply, S}
    end;
handle_info({tcp, Socket, _Data}, #state{socket = Socket} = S) ->
    %% The name server sends nothing after its answer; ignore what it does send.
    {noreply, S};
handle_info(_Msg, S) ->
    {noreply, S}.

terminate(_Reason, #state{socket = none}) -> ok;
terminate(_Reason, #state{socket = Socket}) -> gen_tcp:close(Socket).

code_change(_OldVsn, S, _Extra) ->
    {ok, S}.

%% ---- I/O -----------------------------------------------------------------------------

epmd_port() ->
    case init:get_argument(epmd_port) of
        {ok, [[P | _] | _]} ->
            try list_to_integer(P) catch error:badarg -> ?EPMD_DEFAULT_PORT end;
        _ ->
            ?EPMD_DEFAULT_PORT
    end.

%% Registers at the name server on this host; the socket stays open for as long as the
%% registration lasts (closing it unregisters).
register_at_epmd(Name, Port, Family) ->
    Loopback = case Family of inet6 -> {0, 0, 0, 0, 0, 0, 0, 1}; _ -> {127, 0, 0, 1} end,
    try gen_tcp:connect(Loopback, epmd_port(), [binary, {packet, raw}, {active, false}],
                        ?REPLY_TIMEOUT_MS) of
        {ok, Socket} ->
            Req = alive2_request(Name, Port, dist_versions(), extra()),
            case gen_tcp:send(Socket, Req) of
                ok ->
                    case wait_alive2_reply(Socket, <<>>, deadline(?REPLY_TIMEOUT_MS)) of
                        {ok, Creation} ->
                            ok = inet:setopts(Socket, [{active, true}]),
                            {ok, Socket, Creation};
                        Error ->
                            gen_tcp:close(Socket),
                            Error
                    end;
                Error ->
                    gen_tcp:close(Socket),
                    Error
            end;
        Error ->
            Error
    catch
        Class:Reason -> {error, {Class, Reason}}
    end.

wait_alive2_reply(Socket, SoFar, Deadline) ->
    case alive2_reply(SoFar) of
        more ->
            case gen_tcp:recv(Socket, 0, remaining(Deadline)) of
                {ok, Data} -> wait_alive2_reply(Socket, <<SoFar/binary, Data/binary>>, Deadline);
                {error, closed} -> {error, epmd_close};
                {error, timeout} -> {error, no_reg_reply_from_epmd};
                Error -> Error
            end;
        Result ->
            Result
    end.

ask_port(Name, Addr, Timeout) ->
    Deadline = deadline(case Timeout of infinity -> ?REPLY_TIMEOUT_MS;
                                        T -> min(T, ?REPLY_TIMEOUT_MS) end),
    try gen_tcp:connect(Addr, epmd_port(), [binary, {packet, raw}, {active, false}],
                        remaining(Deadline)) of
        {ok, Socket} ->
            Reply = case gen_tcp:send(Socket, port2_request(Name)) of
                        ok -> read_to_close(Socket, <<>>, Deadline);
                        Error -> Error
                    end,
            gen_tcp:close(Socket),
            case Reply of
                {ok, Bin} ->
                    case port2_reply(Bin) of
                        {ok, Port, High, Low, Extra} ->
                            {port, Port, best_version(dist_range(), {Low, High}), Extra};
                        Other ->
                            Other
                    end;
                {error, closed} -> closed;
                _ -> noport
            end;
        _ ->
            noport
    catch
        _:_ -> noport
    end.

read_to_close(Socket, SoFar, Deadline) ->
    case gen_tcp:recv(Socket, 0, remaining(Deadline)) of
        {ok, Data} when byte_size(SoFar) + byte_size(Data) =< ?PORT2_REPLY_MAX ->
            read_to_close(Socket, <<SoFar/binary, Data/binary>>, Deadline);
        {ok, _TooMuch} -> {error, too_long};
        {error, closed} when SoFar =:= <<>> -> {error, closed};
        {error, closed} -> {ok, SoFar};
        Error -> Error
    end.

epmd_address(Host, _Timeout) when is_tuple(Host) ->
    {ok, Host};
epmd_address(Host, Timeout) when is_atom(Host) ->
    epmd_address(atom_to_list(Host), Timeout);
epmd_address(Host, Timeout) ->
    Family = case inet_db:res_option(inet6) of true -> inet6; false -> inet end,
    case inet:gethostbyname(Host, Family, Timeout) of
        {ok, #hostent{h_addr_list = [Addr | _]}} -> {ok, Addr};
        Error -> Error
    end.

dist_versions() ->
    {Low, High} = dist_range(),
    {High, Low}.

%% {Low, High}: ERL_EPMD_DIST_HIGH may only lower 6, ERL_EPMD_DIST_LOW only raise 5.
dist_range() ->
    High = case env_int("ERL_EPMD_DIST_HIGH") of
               N when is_integer(N), N < ?DIST_HIGH -> N;
               _ -> ?DIST_HIGH
           end,
    Low = case env_int("ERL_EPMD_DIST_LOW") of
              M when is_integer(M), M > ?DIST_LOW -> M;
              _ -> ?DIST_LOW
          end,
    {Low, High}.

env_int(Var) ->
    case os:getenv(Var) of
        false -> undefined;
        V -> try list_to_integer(V) catch error:badarg -> undefined end
    end.

deadline(Ms) -> erlang:monotonic_time(millisecond) + Ms.
remaining(Deadline) -> max(0, Deadline - erlang:monotonic_time(millisecond)).

to_string(A) when is_atom(A) -> atom_to_list(A);
to_string(L) when is_list(L) -> L;
to_string(B) when is_binary(B) -> unicode:characters_to_list(B).

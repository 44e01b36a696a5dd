%% dpdist_agent: this VM's link to its host's dpdist-agent (docs/agent.md §6, §9), and the
%% link messages' codec.
%%
%% One process, registered as dpdist_agent, started by dpdist_dist when net_kernel starts
%% with -dpdist_agent PATH. It connects to PATH (AF_UNIX, {packet,2}), sends REGISTER, takes
%% WELCOME, then answers the agent's PROBEs and probes the agent every probe_interval_ms of
%% WELCOME; an agent that leaves probe_timeout_ms without an answer is gone. When the link
%% fails or closes it says why (once per distinct reason), waits 100 ms doubling to 1 s, and
%% connects again: the VM keeps running and keeps its TCP connections whatever the agent does.
%% It traps exits and catches every error of its own: nothing here may take the VM down.
%%
%% Its state is readable from any process without a message: persistent_term
%% {dpdist_agent, link} (changed only when the link comes up or goes down), returned by
%% dpdist:agent_link/0.
%%
%% Every message from the agent is decoded in full before it has an effect; one that does not
%% decode, or that an agent may not send on a link, closes the link (docs/agent.md §6).
-module(dpdist_agent).

-export([start/1, link_state/0]).
-export([encode/1, decode/1]).
%% Spawned.
-export([init/1]).

-define(VERSION, 1).
-define(STATE_KEY, {?MODULE, link}).
-define(CONNECT_MS, 2000).
-define(WELCOME_MS, 2000).
-define(BACKOFF_MIN_MS, 100).
-define(BACKOFF_MAX_MS, 1000).
-define(BOOT_WAIT_MS, 30000).
-define(BOOT_POLL_MS, 50).
-define(NAME_MAX, 1023).
-define(TEXT_MAX, 1024).

%% Reasons (docs/agent.md §6), by code.
-define(REASONS, #{1 => not_allowed, 2 => version, 3 => limit, 4 => unknown_token,
                   5 => bad_message, 6 => unreachable, 7 => no_link, 8 => shutting_down,
                   9 => bad_trailer, 10 => keys, 11 => timeout, 12 => peer_closed,
                   13 => probe, 14 => protocol, 15 => unknown_conn}).

%% last_ack: when the agent last showed it is alive (any message: its probes count too);
%% next_probe: when this VM sends its next PROBE.
-record(st, {path, sock, welcome, last_ack, next_probe, seq = 0, logged = none,
             backoff = ?BACKOFF_MIN_MS}).

%% ---- the process ------------------------------------------------------------------------

-spec start(file:filename()) -> ok.
start(Path) ->
    case whereis(?MODULE) of
        undefined ->
            persistent_term:put(?STATE_KEY, #{state => connecting, path => Path}),
            Pid = spawn(?MODULE, init, [Path]),
            try register(?MODULE, Pid), ok
            catch error:badarg -> exit(Pid, kill), ok % another start won the name
            end;
        _ -> ok
    end.

%% #{state => none} without -dpdist_agent; else #{state => connecting | linked | down,
%% path => Path, ...}: linked adds vm_id, endpoint_id, mode, max_conns, probe_interval_ms,
%% probe_timeout_ms; down adds reason.
-spec link_state() -> map().
link_state() ->
    persistent_term:get(?STATE_KEY, #{state => none}).

init(Path) ->
    process_flag(trap_exit, true),
    boot_wait(?BOOT_WAIT_MS div ?BOOT_POLL_MS),
    connect(#st{path = Path}).

%% The first line waits for the file server and the logger's default handler, which
%% net_kernel starts before (an event logged earlier would be printed twice).
boot_wait(Polls) ->
    Up = whereis(file_server_2) =/= undefined andalso
        element(1, logger:get_handler_config(default)) =:= ok,
    case Up of
        false when Polls > 0 ->
            timer:sleep(?BOOT_POLL_MS),
            boot_wait(Polls - 1);
        _ -> ok
    end.

connect(#st{path = Path} = St) ->
    Result =
        try gen_tcp:connect({local, Path}, 0, [local, binary, {packet, 2}, {active, false}],
                            ?CONNECT_MS) of
            {ok, S} -> register_link(St#st{sock = S});
            {error, Reason} -> {error, {connect, Reason}}
        catch
            Class:Error -> {error, {Class, Error}}
        end,
    case Result of
        {linked, St1} -> linked(St1);
        {error, Why} -> down(St, Why)
    end.

register_link(#st{sock = S} = St) ->
    Name = atom_to_binary(node(), utf8),
    OsPid = list_to_integer(os:getpid()),
    %% An agent that refuses this uid closes at once: the REGISTER may already find the
    %% link gone (epipe, econnreset), which says the same as a close before WELCOME.
    Sent = gen_tcp:send(S, encode({register, ?VERSION, OsPid, Name})),
    case Sent =:= ok andalso recv_skipping_probes(S, ?WELCOME_MS) of
        false ->
            gen_tcp:close(S),
            {error, closed_before_welcome};
        {ok, {welcome, ?VERSION, Mode, VmId, Endpoint, MaxConns, PI, PT}} ->
            W = #{vm_id => VmId, endpoint_id => Endpoint, mode => Mode, max_conns => MaxConns,
                  probe_interval_ms => PI, probe_timeout_ms => PT},
            {linked, St#st{welcome = W, last_ack = now_ms()}};
        {ok, {refused, _Req, Reason, Text}} ->
            gen_tcp:close(S),
            {error, {refused, Reason, Text}};
        {ok, Other} ->
            gen_tcp:close(S),
            {error, {unexpected, element(1, Other)}};
        {error, Why} ->
            gen_tcp:close(S),
            {error, Why}
    end.

%% Until WELCOME the agent may already probe: answered here.
recv_skipping_probes(S, Timeout) ->
    case gen_tcp:recv(S, 0, Timeout) of
        {ok, Bin} ->
            case decode(Bin) of
                {ok, {probe, Seq}} ->
                    _ = gen_tcp:send(S, encode({probe_ack, Seq})),
                    recv_skipping_probes(S, Timeout);
                {ok, Msg} -> {ok, Msg};
                {error, Reason} -> {error, {bad_message, Reason}}
            end;
        {error, closed} -> {error, closed_before_welcome};
        {error, econnreset} -> {error, closed_before_welcome};
        {error, timeout} -> {error, no_welcome};
        {error, Reason} -> {error, {recv, Reason}}
    end.

linked(#st{path = Path, sock = S, welcome = W} = St) ->
    persistent_term:put(?STATE_KEY, W#{state => linked, path => Path}),
    logger:notice("dpdist: linked to the agent at ~ts (vm ~b, endpoint ~16.16.0b)",
                  [Path, maps:get(vm_id, W), maps:get(endpoint_id, W)]),
    ok = inet:setopts(S, [{active, once}]),
    link_loop(St#st{logged = none, backoff = ?BACKOFF_MIN_MS, next_probe = now_ms()}).

link_loop(#st{sock = S, welcome = W, last_ack = LastAck, next_probe = NextProbe,
              seq = Seq} = St) ->
    PI = maps:get(probe_interval_ms, W),
    PT = maps:get(probe_timeout_ms, W),
    receive
        {tcp, S, Bin} ->
            case decode(Bin) of
                {ok, {probe, N}} ->
                    send_or_down(St#st{last_ack = now_ms()}, {probe_ack, N}, fun link_loop/1);
                {ok, {probe_ack, _}} ->
                    inet:setopts(S, [{active, once}]),
                    link_loop(St#st{last_ack = now_ms()});
                {ok, {refused, _, Reason, Text}} ->
                    gen_tcp:close(S),
                    down(St, {refused, Reason, Text});
                {ok, Other} ->
                    gen_tcp:close(S),
                    down(St, {unexpected, element(1, Other)});
                {error, Reason} ->
                    gen_tcp:close(S),
                    down(St, {bad_message, Reason})
            end;
        {tcp_closed, S} ->
            down(St, closed);
        {tcp_error, S, Reason} ->
            gen_tcp:close(S),
            down(St, link_error(recv, Reason));
        {'EXIT', _, _} ->
            link_loop(St);
        _Other ->
            link_loop(St)
    after max(0, NextProbe - now_ms()) ->
        Now = now_ms(),
        case Now - LastAck > PT of
            true ->
                gen_tcp:close(S),
                down(St, {no_probe_answer, Now - LastAck});
            false ->
                Next = (Seq + 1) band 16#ffffffff,
                send_or_down(St#st{seq = Next, next_probe = Now + PI}, {probe, Next},
                             fun link_loop/1)
        end
    end.

send_or_down(#st{sock = S} = St, Msg, Then) ->
    case gen_tcp:send(S, encode(Msg)) of
        ok ->
            inet:setopts(S, [{active, once}]),
            Then(St);
        {error, Reason} ->
            gen_tcp:close(S),
            down(St, link_error(send, Reason))
    end.

%% An agent that goes away (killed, stopped) closes the link; when a probe crosses the close,
%% that shows as a reset or a broken pipe instead: the same event, said the same way.
link_error(_Dir, Reason) when Reason =:= closed; Reason =:= econnreset; Reason =:= epipe ->
    closed;
link_error(Dir, Reason) ->
    {Dir, Reason}.

down(#st{path = Path, welcome = W, logged = Logged, backoff = Backoff} = St, Why) ->
    persistent_term:put(?STATE_KEY, #{state => down, path => Path, reason => Why}),
    Kind = reason_kind(Why),
    case {W, Kind} of
        {undefined, Logged} -> ok; % the same failure again: said already
        {undefined, _} ->
            logger:warning("dpdist: ~ts: distribution runs over TCP", [no_agent_text(Path, Why)]);
        _ ->
            logger:warning("dpdist: lost the agent at ~ts (~ts): distribution runs over TCP "
                           "until it is back", [Path, reason_text(Why)])
    end,
    receive {'EXIT', _, _} -> ok after Backoff -> ok end,
    connect(St#st{sock = undefined, welcome = undefined, logged = Kind,
                  backoff = min(Backoff * 2, ?BACKOFF_MAX_MS)}).

reason_kind({connect, R}) -> {connect, R};
reason_kind({refused, R, _}) -> {refused, R};
reason_kind(W) when is_tuple(W) -> element(1, W);
reason_kind(W) -> W.

no_agent_text(Path, {connect, enoent}) ->
    io_lib:format("no agent at ~ts (no such file or directory)", [Path]);
no_agent_text(Path, {connect, econnrefused}) ->
    io_lib:format("no agent at ~ts (a socket nobody listens on)", [Path]);
no_agent_text(Path, closed_before_welcome) ->
    io_lib:format("the agent at ~ts closed the link before WELCOME (is this user in its "
                  "allow_uids or allow_gids? its log says)", [Path]);
no_agent_text(Path, no_welcome) ->
    io_lib:format("no WELCOME from ~ts within ~b ms (is it a dpdist-agent?)",
                  [Path, ?WELCOME_MS]);
no_agent_text(Path, Why) ->
    io_lib:format("cannot use the agent at ~ts (~ts)", [Path, reason_text(Why)]).

reason_text({refused, Reason, Text}) ->
    io_lib:format("refused: ~p, ~ts", [Reason, Text]);
reason_text({no_probe_answer, Ms}) ->
    io_lib:format("it answered no probe for ~b ms", [Ms]);
reason_text(closed) -> "it closed the link";
reason_text(Why) -> io_lib:format("~p", [Why]).

now_ms() -> erlang:monotonic_time(millisecond).

%% ---- the codec (the link's messages; ag_proto.c is the C side) ---------------------------

%% A message with its 2-byte length as it goes on the socket is <<Len:16, encode(Msg)/binary>>;
%% the socket runs {packet,2}, so these are bodies: type byte first.
-spec encode(tuple()) -> binary().
encode({register, Version, OsPid, Name}) when byte_size(Name) >= 1,
                                              byte_size(Name) =< ?NAME_MAX ->
    <<1, Version, 0, OsPid:32, (byte_size(Name)):16, Name/binary>>;
encode({probe, Seq}) -> <<10, Seq:32>>;
encode({probe_ack, Seq}) -> <<11, Seq:32>>.

%% What an agent sends on a link. Anything else, or a length that disagrees with the type's
%% layout, or a field out of range: {error, Reason}.
-spec decode(binary()) -> {ok, tuple()} | {error, term()}.
decode(<<2, Version, Mode, VmId:32, Endpoint:64, MaxConns:32, PI:32, PT:32>>) when Mode =< 2 ->
    {ok, {welcome, Version, Mode, VmId, Endpoint, MaxConns, PI, PT}};
decode(<<9, Req:32, Reason:16, TextLen:16, Text:TextLen/binary>>)
  when TextLen =< ?TEXT_MAX, Reason >= 1, Reason =< 15 ->
    {ok, {refused, Req, maps:get(Reason, ?REASONS), Text}};
decode(<<10, Seq:32>>) -> {ok, {probe, Seq}};
decode(<<11, Seq:32>>) -> {ok, {probe_ack, Seq}};
decode(<<Type, _/binary>>) when Type >= 1, Type =< 14 -> {error, {unexpected_or_bad, Type}};
decode(<<Type, _/binary>>) -> {error, {type, Type}};
decode(<<>>) -> {error, empty}.

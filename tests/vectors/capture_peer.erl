%% The two real OTP nodes of tests/vectors/capture_dist.py: B serves, A runs a scenario that
%% makes OTP emit every kind of distribution packet a VM writes to its controller (ticks,
%% whole messages of every op OTP 25 sends, fragments of two senders interleaved, SEND without
%% sender on an auto-connect, signals with trace tokens, a DOWN of a monitor by name). Both
%% run with dpdist.args (the atom cache rejected), so the packets are those an agent reads.
%% Every step is bounded; A halts when done, B when A is gone.
-module(capture_peer).
-export([serve/0, run/1, named/0, child/1, echo/0]).

serve() ->
    register(capture_srv, self()),
    net_kernel:monitor_nodes(true),
    serve_loop(0).

serve_loop(Downs) ->
    receive
        {nodedown, _} when Downs >= 1 -> halt(0);
        {nodedown, _} -> serve_loop(Downs + 1);
        {From, echo, Msg} -> From ! {echo, Msg}, serve_loop(Downs);
        {From, alias_reply, Alias} -> Alias ! {via_alias, self()}, From ! alias_sent,
                                      serve_loop(Downs);
        _ -> serve_loop(Downs)
    after 60000 -> halt(1)
    end.

%% On B: a registered process that exits when told (A monitors it by name).
named() ->
    register(capture_named, self()),
    receive go -> ok after 20000 -> ok end,
    exit(done).

%% On B: a process A links to; it exits with a reason when told.
child(Parent) ->
    Parent ! {child, self()},
    receive {die, R} -> exit(R) after 20000 -> ok end.

echo() ->
    receive {From, M} -> From ! {echoed, M}, echo() after 20000 -> ok end.

run(B) ->
    true = net_kernel:connect_node(B),
    Srv = wait_srv(B, 50),
    %% SEND_SENDER, REG_SEND, and their answers
    Srv ! {self(), echo, small},
    recv_echo(),
    {capture_srv, B} ! {self(), echo, by_name},
    recv_echo(),
    %% spawn request and reply; LINK, UNLINK_ID and its ack; MONITOR_P, DEMONITOR_P
    Self = self(),
    C = spawn(B, ?MODULE, child, [Self]),
    receive {child, C} -> ok after 5000 -> ok end,
    true = link(C),
    true = unlink(C),
    M = monitor(process, C),
    true = demonitor(M),
    %% GROUP_LEADER
    true = group_leader(self(), C),
    %% PAYLOAD_EXIT from B: a linked child exits with a reason
    process_flag(trap_exit, true),
    true = link(C),
    C ! {die, capture_reason},
    receive {'EXIT', C, _} -> ok after 5000 -> ok end,
    %% PAYLOAD_EXIT2 from A
    C2 = spawn(B, ?MODULE, child, [Self]),
    receive {child, C2} -> ok after 5000 -> ok end,
    exit(C2, capture_kill),
    %% ALIAS_SEND from B
    Alias = alias(),
    Srv ! {self(), alias_reply, Alias},
    receive alias_sent -> ok after 5000 -> ok end,
    receive {via_alias, _} -> ok after 5000 -> ok end,
    unalias(Alias),
    %% a DOWN of a monitor by name (PAYLOAD_MONITOR_P_EXIT with an atom)
    N = spawn(B, ?MODULE, named, []),
    wait_registered(B, capture_named, 50),
    NM = monitor(process, {capture_named, B}),
    N ! go,
    receive {'DOWN', NM, _, _, _} -> ok after 5000 -> ok end,
    %% fragments: 300 KB from this process, then two senders at once
    Srv ! {self(), echo, binary:copy(<<7>>, 300000)},
    recv_echo(),
    Ps = [spawn(fun() -> Srv ! {Self, echo, binary:copy(<<I>>, 200000)} end)
          || I <- [1, 2]],
    [recv_echo() || _ <- Ps],
    %% signals with a trace token
    seq_trace:set_token(label, 17),
    Srv ! {self(), echo, traced},
    {capture_srv, B} ! {self(), echo, traced_by_name},
    C3 = spawn(B, ?MODULE, child, [Self]),
    TAlias = alias(),
    Srv ! {self(), alias_reply, TAlias},
    exit(C3, traced_kill),
    seq_trace:set_token([]),
    [recv_any() || _ <- [1, 2, 3, 4, 5]],
    %% a linked process with a trace token exits: PAYLOAD_EXIT_TT
    spawn(fun() ->
                  C4 = spawn(B, ?MODULE, child, [self()]),
                  receive {child, C4} -> ok after 5000 -> ok end,
                  link(C4),
                  seq_trace:set_token(label, 18),
                  exit(traced_exit)
          end),
    %% ticks: idle longer than a tick interval (net_ticktime 4: one per second)
    timer:sleep(2500),
    %% SEND (no sender) and SEND_TT: messages encoded while the connection is pending
    E = spawn(B, ?MODULE, echo, []),
    erlang:disconnect_node(B),
    timer:sleep(300),
    E ! {self(), pending},
    seq_trace:set_token(label, 19),
    E ! {self(), pending_traced},
    seq_trace:set_token([]),
    [recv_any() || _ <- [1, 2]],
    timer:sleep(200),
    halt(0).

wait_srv(B, 0) -> exit({no_capture_srv, B});
wait_srv(B, N) ->
    case rpc:call(B, erlang, whereis, [capture_srv]) of
        P when is_pid(P) -> P;
        _ -> timer:sleep(100), wait_srv(B, N - 1)
    end.

wait_registered(_B, _Name, 0) -> ok;
wait_registered(B, Name, N) ->
    case rpc:call(B, erlang, whereis, [Name]) of
        P when is_pid(P) -> ok;
        _ -> timer:sleep(50), wait_registered(B, Name, N - 1)
    end.

recv_echo() ->
    receive {echo, _} -> ok after 5000 -> timeout end.

recv_any() ->
    receive _ -> ok after 2000 -> timeout end.

%% Erlang side of the dpdist interop tests. Compiled by the test scripts with erlc and run in
%% real BEAM nodes (Debian's erlang-base). Every check prints one line, "ok NAME" or
%% "FAIL NAME: DETAILS", which the shell scripts count; nothing here decides pass/fail alone.
-module(dd_interop).
-export([big_term/0, roundtrip/1, reverse_send/1, serve/0, link_and_monitor/1,
         watch_events/2, wait_events/4, nodes_of/1, report/2, wait_nodedown/2,
         ping_expect/2, spawn_refused/1, check_visibility/2,
         wait_nodes/3, nodes_exact/3, global_checks/3, global_state_check/2,
         call_with_timeout/2, echo_serve/0, deep_checks/3,
         bulk_sender/4, reasm_stats/1, reasm_report/3, guess_for/3, timed_ping/2]).

report(Name, true) -> io:format("ok ~s~n", [Name]);
report(Name, {true, _}) -> io:format("ok ~s~n", [Name]);
report(Name, Other) -> io:format("FAIL ~s: ~p~n", [Name, Other]).

%% A term that exercises the external format: maps, a binary over 1 MiB, big integers,
%% unicode atoms and strings, floats, nested lists and tuples, pids, refs.
big_term() ->
    Bin = rand:bytes(1024 * 1024 + 17),
    #{binary => Bin,
      small_bin => <<1, 2, 3>>,
      bits => <<5:3>>,
      big_pos => 1 bsl 300 + 12345,
      big_neg => -(1 bsl 200) - 7,
      float => 3.141592653589793,
      'ünïcödé_atom_Ω' => "strings with ü and 日本",
      nested => [{a, [1, [2, [3, #{k => v}]]]}, {b, {tuple, with, many, elements}}],
      list => lists:seq(1, 1000),
      pid => self(),
      ref => make_ref(),
      empty => {[], #{}, <<>>, {}}}.

%% Sends {self(), Term} to {echo, Node} and checks the echo is equal.
roundtrip(Node) ->
    T = big_term(),
    {echo, Node} ! {self(), T},
    R1 = receive T -> true; Other -> {wrong, Other} after 10000 -> timeout end,
    report("registered name round trip with a large nested term", R1),
    %% Learn the echo mailbox's pid from the {linked, Pid} reply, then talk to the pid.
    {echo, Node} ! {link, self()},
    EchoPid = receive {linked, P} -> P after 5000 -> undefined end,
    report("echo replies {linked, Pid} with a pid of its node",
           is_pid(EchoPid) andalso node(EchoPid) =:= Node),
    unlink(EchoPid),
    T2 = {big, lists:duplicate(3, T)},
    EchoPid ! {self(), T2},
    R2 = receive T2 -> true; Other2 -> {wrong, Other2} after 20000 -> timeout end,
    report("pid round trip with a 3 MiB term", R2),
    %% Many small messages keep their order.
    [EchoPid ! {self(), {seq, I}} || I <- lists:seq(1, 2000)],
    R3 = lists:all(fun(I) -> receive {seq, I} -> true after 5000 -> false end end,
                   lists:seq(1, 2000)),
    report("2000 messages come back in order", R3),
    EchoPid.

%% The dpdist node sends to us: {send_to, {Name, ErlNode}, Term} and {send_to, Pid, Term}.
reverse_send(Node) ->
    register(dd_receiver, self()),
    T = big_term(),
    {echo, Node} ! {send_to, {dd_receiver, node()}, {from_dpdist, T}},
    R1 = receive {from_dpdist, T} -> true after 10000 -> timeout end,
    report("dpdist sends a large term to a registered name on BEAM", R1),
    {echo, Node} ! {send_to, self(), {to_pid, T}},
    R2 = receive {to_pid, T} -> true after 10000 -> timeout end,
    report("dpdist sends a large term to a BEAM pid", R2).

%% Long-lived helper process: registered as dd_serve, forwards what it gets to whoever
%% asked last; used as a link/monitor target for the dpdist node.
serve() ->
    register(dd_serve, self()),
    serve_loop(undefined).
serve_loop(Owner) ->
    receive
        {owner, P} -> serve_loop(P);
        stop -> ok;
        M when Owner =/= undefined -> Owner ! {served, M}, serve_loop(Owner);
        _ -> serve_loop(Owner)
    end.

%% Link to echo and monitor it; returns after both are set. The caller then kills the dpdist
%% node and calls wait_nodedown/2.
link_and_monitor(Node) ->
    process_flag(trap_exit, true),
    {echo, Node} ! {link, self()},
    EchoPid = receive {linked, P} -> P after 5000 -> undefined end,
    Ref = erlang:monitor(process, {echo, Node}),
    Ref2 = erlang:monitor(process, EchoPid),
    ok = net_kernel:monitor_nodes(true),
    {EchoPid, Ref, Ref2}.

%% After the dpdist node died: the link fires with noconnection, both monitors too.
wait_nodedown({EchoPid, Ref, Ref2}, Node) ->
    R1 = receive {'EXIT', EchoPid, noconnection} -> true;
             {'EXIT', EchoPid, Other} -> {reason, Other} after 20000 -> timeout end,
    report("link to the dpdist mailbox fires {'EXIT', Pid, noconnection}", R1),
    R2 = receive {'DOWN', Ref, process, {echo, Node}, noconnection} -> true;
             {'DOWN', Ref, process, _, Why} -> {reason, Why} after 20000 -> timeout end,
    report("monitor by name gets 'DOWN' noconnection", R2),
    R3 = receive {'DOWN', Ref2, process, EchoPid, noconnection} -> true;
             {'DOWN', Ref2, process, _, Why2} -> {reason, Why2} after 20000 -> timeout end,
    report("monitor by pid gets 'DOWN' noconnection", R3),
    R4 = receive {nodedown, Node} -> true after 20000 -> timeout end,
    report("nodedown reported to monitor_nodes", R4).

%% Subscribes to the echo node's events, then asks echo to link to and monitor Target
%% (a pid on another BEAM node) and waits for the events it forwards: Expect is a list of
%% {Tag, Reason} pairs with Tag in 'EXIT', 'DOWN', nodedown.
watch_events(Node, Target) ->
    {echo, Node} ! {subscribe, self()},
    timer:sleep(200),
    {echo, Node} ! {monitor, Target, self()},
    MRef = receive {monitoring, R} -> R after 5000 -> undefined end,
    report("echo monitors a BEAM process and replies {monitoring, Ref}", is_reference(MRef)),
    MRef.

%% Waits for the {dpdist_event, ...} messages describing the loss of TargetNode.
wait_events(MRef, Target, TargetNode, Timeout) ->
    Events = collect(Timeout, []),
    report("echo saw 'DOWN' noconnection for the monitored BEAM process",
           lists:any(fun({dpdist_event, {'DOWN', R, process, P, noconnection}}) ->
                             R =:= MRef andalso P =:= Target;
                        (_) -> false end, Events) orelse {events, Events}),
    report("echo saw {nodedown, Node} for the dead BEAM node",
           lists:member({dpdist_event, {nodedown, TargetNode}}, Events) orelse {events, Events}),
    Events.

collect(Timeout, Acc) ->
    receive {dpdist_event, _} = E -> collect(Timeout, [E | Acc])
    after Timeout -> lists:reverse(Acc)
    end.

nodes_of(Node) ->
    {echo, Node} ! {nodes, self()},
    receive {nodes, Visible, Hidden} -> {Visible, Hidden} after 5000 -> timeout end.

ping_expect(Node, Expect) ->
    R = net_adm:ping(Node),
    report(io_lib:format("net_adm:ping(~p) is ~p", [Node, Expect]), R =:= Expect orelse {got, R}).

%% erlang:spawn on a dpdist node: the node answers SPAWN_REQUEST with an error; BEAM then
%% returns a pid of a process that exits at once with notsup.
spawn_refused(Node) ->
    process_flag(trap_exit, true),
    P = spawn_link(Node, erlang, now, []),
    R = receive {'EXIT', P, notsup} -> true;
            {'EXIT', P, Other} -> {other_reason, Other} after 10000 -> timeout end,
    report("spawn on a dpdist node is refused with notsup", R).

check_visibility(Node, Kind) ->
    net_adm:ping(Node),
    timer:sleep(200),
    InVisible = lists:member(Node, nodes()),
    InHidden = lists:member(Node, nodes(hidden)),
    Expect = case Kind of visible -> {true, false}; hidden -> {false, true} end,
    report(io_lib:format("~p appears in ~s", [Node, Kind]),
           {InVisible, InHidden} =:= Expect orelse {{nodes, nodes()}, {hidden, nodes(hidden)}}).

%% ---- the mesh (node_mesh.sh) and global (node_global.sh) ---------------------------------

%% Polls {nodes, self()} on the echo of Node until Pred({Visible, Hidden}) holds (sorted
%% lists) or Timeout ms pass; returns the last answer.
wait_nodes(Node, Pred, Timeout) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    wait_nodes_loop(Node, Pred, Deadline).
wait_nodes_loop(Node, Pred, Deadline) ->
    Got = case nodes_of(Node) of
              {V, H} -> {lists:sort(V), lists:sort(H)};
              Other -> Other
          end,
    case is_tuple(Got) andalso tuple_size(Got) =:= 2 andalso Pred(Got) of
        true -> Got;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> Got;
                false -> timer:sleep(100), wait_nodes_loop(Node, Pred, Deadline)
            end
    end.

%% The echo on Node sees exactly Visible and Hidden (within Timeout ms).
nodes_exact(Node, {Visible, Hidden}, Timeout) ->
    Want = {lists:sort(Visible), lists:sort(Hidden)},
    Got = wait_nodes(Node, fun(G) -> G =:= Want end, Timeout),
    report(io_lib:format("~p sees visible ~p and hidden ~p", [Node, Visible, Hidden]),
           Got =:= Want orelse {got, Got}).

%% Runs F in a fresh process; its result, or timeout after Ms.
call_with_timeout(F, Ms) ->
    Self = self(),
    Ref = make_ref(),
    Pid = spawn(fun() -> Self ! {Ref, catch F()} end),
    receive {Ref, R} -> R
    after Ms -> exit(Pid, kill), timeout
    end.

%% global on this node and on Peer (a BEAM node) with the published dpdist node D connected
%% to both (D = none: no dpdist node): sync returns, names registered on either side are seen on the other, locks and
%% transactions over nodes() (which includes D) work. Tag makes the names unique per round.
global_checks(Peer, D, Tag) ->
    D =:= none orelse
        report(io_lib:format("~p is a visible node here and on ~p", [D, Peer]),
               (lists:member(D, nodes()) andalso
                lists:member(D, rpc:call(Peer, erlang, nodes, [])))
                   orelse {nodes, nodes(), rpc:call(Peer, erlang, nodes, [])}),
    S1 = call_with_timeout(fun() -> global:sync() end, 10000),
    report(io_lib:format("global:sync() returns (~s)", [Tag]), S1 =:= ok orelse S1),
    S2 = call_with_timeout(fun() -> rpc:call(Peer, global, sync, []) end, 10000),
    report(io_lib:format("global:sync() returns on the other BEAM node (~s)", [Tag]),
           S2 =:= ok orelse S2),
    Name = list_to_atom("dd_global_" ++ Tag),
    Me = self(),
    R1 = call_with_timeout(fun() -> global:register_name(Name, Me) end, 10000),
    report(io_lib:format("global:register_name/2 (~s)", [Tag]), R1 =:= yes orelse R1),
    W1 = rpc:call(Peer, global, whereis_name, [Name]),
    report(io_lib:format("global:whereis_name/1 on the other node (~s)", [Tag]),
           W1 =:= Me orelse {got, W1}),
    PeerPid = rpc:call(Peer, erlang, whereis, [code_server]),
    PeerName = list_to_atom("dd_global_peer_" ++ Tag),
    R2 = call_with_timeout(fun() -> rpc:call(Peer, global, register_name,
                                             [PeerName, PeerPid]) end, 10000),
    report(io_lib:format("global:register_name/2 on the other node (~s)", [Tag]),
           R2 =:= yes orelse R2),
    W2 = global:whereis_name(PeerName),
    report(io_lib:format("its name is seen here (~s)", [Tag]), W2 =:= PeerPid orelse {got, W2}),
    T = call_with_timeout(fun() -> global:trans({dd_trans, self()}, fun() -> inside end) end,
                          10000),
    report(io_lib:format("global:trans/2 over nodes() (~s)", [Tag]), T =:= inside orelse T),
    L = call_with_timeout(fun() -> global:set_lock({dd_lock, self()}, [node() | nodes()], 3)
                          end, 10000),
    report(io_lib:format("global:set_lock/3 over nodes() (~s)", [Tag]), L =:= true orelse L),
    global:del_lock({dd_lock, self()}, [node() | nodes()]),
    Names = global:registered_names(),
    report(io_lib:format("global:registered_names/0 has both (~s)", [Tag]),
           (lists:member(Name, Names) andalso lists:member(PeerName, Names)) orelse Names),
    global:unregister_name(Name),
    global:unregister_name(PeerName),
    ok.

%% global's own state on Node (OTP 25 #state{}: synced is element 4, resolvers element 5):
%% D counts as synced and no resolver waits for it.
global_state_check(Node, D) ->
    St = rpc:call(Node, sys, get_state, [global_name_server]),
    Synced = element(4, St),
    Resolvers = element(5, St),
    report(io_lib:format("global on ~p counts ~p as synced, no resolver left for it",
                         [Node, D]),
           (lists:member(D, Synced) andalso not lists:keymember(D, 1, Resolvers))
               orelse {synced, Synced, resolvers, Resolvers}).

%% A BEAM stand-in for dpdist-echo (node_many_peers.sh): registered as echo, it sends Term back
%% for {From, Term} and answers {nodes, From} with {nodes, Visible, Hidden}.
echo_serve() ->
    register(echo, self()),
    echo_loop().
echo_loop() ->
    receive
        {nodes, From} when is_pid(From) -> From ! {nodes, nodes(), nodes(hidden)};
        {From, Term} when is_pid(From) -> From ! Term;
        stop -> exit(normal);
        _ -> ok
    end,
    echo_loop().

%% ---- deeply nested terms (node_deep_terms.sh) ---------------------------------------------

%% A term nested Depth levels deep: [[[...]]], {{{...}}} or #{k => #{k => ...}}. Built with a
%% loop: BEAM itself handles any depth.
deep_term(list, D) -> deep(fun(X) -> [X] end, [], D);
deep_term(tuple, D) -> deep(fun(X) -> {X} end, {}, D);
deep_term(map, D) -> deep(fun(X) -> #{k => X} end, #{}, D).
deep(_, Acc, 0) -> Acc;
deep(F, Acc, N) -> deep(F, F(Acc), N - 1).

%% Sends a Depth-deep Shape term through every path of the dpdist node on Node that decodes
%% what a peer sends, then checks the node still serves: a '$gen_call' to net_kernel with the
%% term as its tag (answered {Tag, yes}) and as its request, a plain message to net_kernel,
%% the echo mailbox by name ({From, Term} comes back) and its other commands with the term in
%% every argument, the echo mailbox by pid (plain message, {From, Term}, exit/2 with the term
%% as reason, which echo forwards to a subscriber). A nodedown ends the checks at once.
deep_checks(Node, Shape, Depth) ->
    T = deep_term(Shape, Depth),
    What = io_lib:format("~p-deep ~p (~p bytes)", [Depth, Shape, byte_size(term_to_binary(T))]),
    true = erlang:monitor_node(Node, true),
    try
        deep_steps(Node, T, What)
    catch
        throw:{nodedown, Step} ->
            report(io_lib:format("~p stays up while it gets a ~s", [Node, What]),
                   {nodedown, lists:flatten(Step)})
    end.

deep_steps(Node, T, What) ->
    Wait = 120000,
    EchoPid = echo_pid(Node),
    report(io_lib:format("echo pid known before the ~s", [What]), is_pid(EchoPid)),
    Sub = spawn_subscriber(Node),
    %% net_kernel: the tag is walked to build the reply {Tag, yes}.
    {net_kernel, Node} ! {'$gen_call', {self(), T}, {is_auth, node()}},
    Step1 = io_lib:format("net_kernel answers a '$gen_call' whose tag is a ~s", [What]),
    R1 = receive {T, yes} -> true; {_, yes} -> wrong_tag;
             {nodedown, Node} -> throw({nodedown, Step1}) after Wait -> timeout end,
    report(Step1, R1),
    {net_kernel, Node} ! {'$gen_call', {self(), make_ref()}, T},
    {net_kernel, Node} ! {'$gen_call', {self(), T}, T},
    {net_kernel, Node} ! T,
    alive(Node, io_lib:format("after '$gen_call's to net_kernel with a ~s as request", [What])),
    %% The echo mailbox by name: {From, Term} comes back.
    {echo, Node} ! {self(), T},
    Step2 = io_lib:format("echo by name sends back a ~s", [What]),
    R2 = receive T -> true; {nodedown, Node} -> throw({nodedown, Step2}) after Wait -> timeout end,
    report(Step2, R2),
    {echo, Node} ! {send_to, self(), T},
    Step3 = io_lib:format("echo's send_to sends a ~s", [What]),
    R3 = receive T -> true; {nodedown, Node} -> throw({nodedown, Step3}) after Wait -> timeout end,
    report(Step3, R3),
    [{echo, Node} ! M || M <- [T, {T, self()}, {send_to, T, x}, {send_to, T, T}, {link, T},
                               {monitor, T, self()}, {monitor, self(), T}, {stats, T, self()},
                               {nodes, T}, {subscribe, T}, {reassembly, T}, {T, T, T}]],
    alive(Node, io_lib:format("after echo commands with a ~s in every argument", [What])),
    %% The echo mailbox by pid.
    EchoPid ! T,
    EchoPid ! {self(), T},
    Step4 = io_lib:format("echo by pid sends back a ~s", [What]),
    R4 = receive T -> true; {nodedown, Node} -> throw({nodedown, Step4}) after Wait -> timeout end,
    report(Step4, R4),
    exit(EchoPid, T),
    Step5 = io_lib:format("exit/2 with a ~s as reason reaches echo's subscriber", [What]),
    R5 = receive {Sub, got_exit, T} -> true; {Sub, got_exit, _} -> wrong_reason;
             {nodedown, Node} -> throw({nodedown, Step5}) after Wait -> timeout end,
    report(Step5, R5),
    exit(Sub, kill),
    alive(Node, io_lib:format("after every path got a ~s", [What])).

%% The echo mailbox's pid, from its {linked, Pid} reply (then unlinked again).
echo_pid(Node) ->
    {echo, Node} ! {link, self()},
    receive {linked, P} -> unlink(P), P after 10000 -> undefined end.

%% A process subscribed to echo's events that hands the caller the reason of the first 'EXIT'
%% from the caller that echo forwards.
spawn_subscriber(Node) ->
    Parent = self(),
    Pid = spawn(fun() ->
        {echo, Node} ! {subscribe, self()},
        Parent ! {self(), subscribed},
        sub_loop(Parent)
    end),
    receive {Pid, subscribed} -> ok after 5000 -> ok end,
    timer:sleep(200),
    Pid.
sub_loop(Parent) ->
    receive
        {dpdist_event, {'EXIT', Parent, Reason}} -> Parent ! {self(), got_exit, Reason};
        _ -> ok
    end,
    sub_loop(Parent).

%% A plain echo round trip: the node is alive and serving.
alive(Node, When) ->
    Ref = make_ref(),
    {echo, Node} ! {self(), {alive, Ref}},
    Step = io_lib:format("echo still answers ~s", [When]),
    R = receive {alive, Ref} -> true; {nodedown, Node} -> throw({nodedown, Step})
        after 60000 -> timeout end,
    report(Step, R).

%% ---- the node's reassembly memory (node_reasm_cap.sh) ---------------------------------------

%% Connects to Node, says "ready", waits for the file Go, says "sending" and sends
%% {self(), {Tag, Bin}} (Bin: Bytes bytes) to echo; reports whether it comes back whole.
bulk_sender(Node, Tag, Bytes, Go) ->
    pong = net_adm:ping(Node),
    Bin = binary:copy(<<Tag:8>>, Bytes),
    io:format("ready~n"),
    wait_file(Go, 1200),
    io:format("sending~n"),
    {echo, Node} ! {self(), {Tag, Bin}},
    R = receive {Tag, Bin} -> true; {Tag, Other} -> {wrong, byte_size(Other)}
        after 300000 -> timeout end,
    report(io_lib:format("sender ~p gets its ~p-byte message back whole", [Tag, Bytes]), R).

wait_file(_, 0) -> timeout;
wait_file(F, N) ->
    case filelib:is_file(F) of
        true -> ok;
        false -> timer:sleep(50), wait_file(F, N - 1)
    end.

%% {Bytes, Limit, HighWater, Refusals, Waiting} of the echo node (dd_node_reassembly).
reasm_stats(Node) ->
    {echo, Node} ! {reassembly, self()},
    receive {reassembly, B, L, H, R, W} -> {B, L, H, R, W} after 10000 -> timeout end.

%% Checks of the echo node's reassembly memory: during (one sender stopped in the middle of
%% its message: it holds memory, nobody waits) or after (nothing held).
reasm_report(Node, Phase, Limit) ->
    case reasm_stats(Node) of
        {B, L, H, R, W} ->
            io:format("reassembly ~p: ~p bytes held, limit ~p, at most ~p, ~p refusals, "
                      "~p waiting~n", [Phase, B, L, H, R, W]),
            report(io_lib:format("the limit is the configured ~p bytes", [Limit]),
                   L =:= Limit orelse {limit, L}),
            report(io_lib:format("~p: never more than the limit held (at most ~p)", [Phase, H]),
                   H =< L orelse {high_water, H}),
            report(io_lib:format("~p: a message start waited for room", [Phase]),
                   R >= 1 orelse {refusals, R}),
            report(io_lib:format("~p: nobody waits any more", [Phase]), W =:= 0 orelse {waiting, W}),
            case Phase of
                during -> report("the stopped sender's unfinished message is held",
                                 (B > 0 andalso B =< L) orelse {bytes, B});
                after_all -> report("nothing is held once every message is through",
                                    B =:= 0 orelse {bytes, B})
            end;
        Other ->
            report("echo answers {reassembly, From}", Other)
    end.

%% ---- failed handshakes (node_handshake_guard.sh) ----------------------------------------

%% With a wrong cookie, pings Node again and again for Ms milliseconds: each ping is a new
%% handshake that the node refuses. Reports that at most Max of them were answered in time.
guess_for(Node, Ms, Max) ->
    Deadline = erlang:monotonic_time(millisecond) + Ms,
    {Answered, Tries} = guess_loop(Node, Deadline, 0, 0),
    io:format("answered ~p of ~p tries in ~p ms~n", [Answered, Tries, Ms]),
    report(io_lib:format("at most ~p wrong-cookie handshakes answered in ~p ms", [Max, Ms]),
           (Answered =< Max andalso Answered >= 1) orelse {answered, Answered}).
guess_loop(Node, Deadline, A, T) ->
    case erlang:monotonic_time(millisecond) < Deadline of
        false -> {A, T};
        true ->
            pang = net_adm:ping(Node),
            Done = erlang:monotonic_time(millisecond) < Deadline,
            guess_loop(Node, Deadline, A + (case Done of true -> 1; false -> 0 end), T + 1)
    end.

%% A ping that must answer pong within Ms milliseconds.
timed_ping(Node, Ms) ->
    T0 = erlang:monotonic_time(millisecond),
    R = net_adm:ping(Node),
    T = erlang:monotonic_time(millisecond) - T0,
    io:format("ping took ~p ms~n", [T]),
    report(io_lib:format("a node with the cookie, from another address, gets pong at once "
                         "(~p ms)", [T]), (R =:= pong andalso T < Ms) orelse {R, T}).

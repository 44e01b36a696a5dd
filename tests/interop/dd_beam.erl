%% Erlang side of the tests of the BEAM application (tests/interop/beam_*.sh): checks run in
%% real BEAM nodes, some with dpdist's modules (build/beam/ebin), some without. Every check
%% prints "ok NAME" or "FAIL NAME: DETAILS" through dd_interop:report/2, for dd_erl_checks.
-module(dd_beam).
-export([expect_raw_extra/3, dpdist_epmd_checks/3]).
-export([pair_checks/1, echo_loop/0, idle/1, info_checks/2, th/1, watch/3,
         cluster_checks/2, pg_member/1]).

-import(dd_interop, [report/2]).

%% ---- EPMD (beam_epmd.sh) ---------------------------------------------------------------

%% PORT_PLEASE2 for Name, asked of the EPMD on 127.0.0.1:EpmdPort with raw bytes (no dpdist
%% code): the Extra of its registration is Want.
expect_raw_extra(Name, EpmdPort, Want) ->
    Got = raw_extra(Name, EpmdPort),
    report(io_lib:format("the EPMD's PORT2 answer for ~s carries the Extra ~p", [Name, Want]),
           Got =:= {ok, Want} orelse {got, Got}).

raw_extra(Name, EpmdPort) ->
    {ok, S} = gen_tcp:connect({127, 0, 0, 1}, EpmdPort, [binary, {active, false}], 5000),
    ok = gen_tcp:send(S, <<(length(Name) + 1):16, $z, (list_to_binary(Name))/binary>>),
    Reply = recv_all(S, <<>>),
    gen_tcp:close(S),
    case Reply of
        <<$w, 0, _Port:16, _Type, _Proto, _High:16, _Low:16, NLen:16, _:NLen/binary,
          ELen:16, Extra:ELen/binary>> -> {ok, Extra};
        Other -> {error, Other}
    end.

recv_all(S, Acc) ->
    case gen_tcp:recv(S, 0, 5000) of
        {ok, D} -> recv_all(S, <<Acc/binary, D/binary>>);
        {error, _} -> Acc
    end.

%% In a node running with -epmd_module dpdist_epmd: lookups keep the Extra, names and
%% connections work through it. Agent, Plain: nodes registered with and without an agent.
dpdist_epmd_checks(Agent, Plain, Want) ->
    {AName, Host} = split(Agent),
    {PName, _} = split(Plain),
    R1 = dpdist_epmd:port_please_extra(AName, Host, 5000),
    report("dpdist_epmd:port_please_extra keeps the Extra of a node with an agent",
           case R1 of {port, _, 6, Want} -> true; _ -> {got, R1} end),
    R2 = dpdist_epmd:port_please_extra(PName, Host, 5000),
    report("... and gives an empty Extra for a node without one",
           case R2 of {port, _, 6, <<>>} -> true; _ -> {got, R2} end),
    R3 = dpdist_epmd:port_please(PName, Host, 5000),
    report("port_please/3 answers as erl_epmd's", case R3 of {port, P, 6} when P > 0 -> true;
                                                        _ -> {got, R3} end),
    R4 = dpdist_epmd:port_please("nosuchnode", Host, 5000),
    report("port_please/3 of an unknown name is noport", R4 =:= noport orelse {got, R4}),
    R5 = net_adm:names(),
    report("net_adm:names() lists both nodes through dpdist_epmd",
           case R5 of
               {ok, L} -> lists:keymember(AName, 1, L) andalso lists:keymember(PName, 1, L);
               _ -> {got, R5}
           end),
    report("net_adm:ping of the node with an agent is pong", net_adm:ping(Agent) =:= pong),
    R6 = rpc:call(Agent, dpdist_epmd, extra, []),
    report("that node registered the Extra it says", R6 =:= Want orelse {got, R6}),
    report("net_adm:ping of the node without an agent is pong", net_adm:ping(Plain) =:= pong).

split(Node) ->
    [Name, Host] = string:split(atom_to_list(Node), "@"),
    {Name, Host}.

%% ---- connections between BEAM nodes (beam_dist.sh, beam_cluster.sh) -------------------

%% Run on one node (rpc:call from a checker: the lines go to the checker's output): what a
%% user does across the connection to Remote works — rpc, spawn, 2,000 messages in order
%% to a remote process, a 64 MiB binary there and back.
pair_checks(Remote) ->
    Pair = lists:flatten(io_lib:format("~p -> ~p", [node(), Remote])),
    report(Pair ++ ": rpc:call runs there", rpc:call(Remote, erlang, node, []) =:= Remote),
    Self = self(),
    Spawned = spawn(Remote, fun() -> Self ! {spawned, self(), node()} end),
    report(Pair ++ ": spawn/2 runs a fun there",
           receive {spawned, Spawned, Remote} -> true after 10000 -> timeout end),
    Echo = spawn(Remote, ?MODULE, echo_loop, []),
    [Echo ! {self(), {seq, I}} || I <- lists:seq(1, 2000)],
    report(Pair ++ ": 2000 messages come back in order",
           lists:all(fun(I) -> receive {seq, I} -> true after 10000 -> false end end,
                     lists:seq(1, 2000))),
    Big = binary:copy(rand:bytes(1 bsl 20), 64),
    T0 = erlang:monotonic_time(millisecond),
    Echo ! {self(), {big, Big}},
    R = receive {big, Back} -> Back =:= Big orelse different after 120000 -> timeout end,
    report(Pair ++ io_lib:format(": a 64 MiB binary there and back (~b ms)",
                                 [erlang:monotonic_time(millisecond) - T0]), R),
    Echo ! stop,
    ok.

echo_loop() ->
    receive
        {From, M} -> From ! M, echo_loop();
        stop -> ok
    after 300000 -> ok
    end.

%% Run on a dpdist node: dpdist:info(Node) says tcp and shows the handshake Want describes
%% (a map of the keys to compare), and the flags: this node never offers the atom cache.
info_checks(Node, Want) ->
    Info = dpdist:info(Node),
    Tag = lists:flatten(io_lib:format("on ~p, dpdist:info(~p)", [node(), Node])),
    report(Tag ++ " says carrier tcp", maps:get(carrier, Info, Info) =:= tcp orelse Info),
    report(Tag ++ " has the socket's counters",
           case Info of #{socket := #{recv_oct := R, send_oct := S}} -> R > 0 andalso S > 0;
               _ -> Info end),
    HS = maps:get(handshake, Info, #{}),
    [report(Tag ++ io_lib:format(" handshake ~p is ~p", [K, V]),
            maps:get(K, HS, missing) =:= V orelse {got, maps:get(K, HS, missing)})
     || {K, V} <- maps:to_list(Want)],
    report(Tag ++ ": 5 handshake messages, a 32-byte th",
           case HS of #{messages := 5, th := <<_:256>>} -> true; _ -> HS end),
    report(Tag ++ ": this node's flags lack DFLAG_DIST_HDR_ATOM_CACHE",
           maps:get(this_flags, HS, 0) band 16#2000 =:= 0 andalso
               is_integer(maps:get(this_flags, HS, undefined))),
    Info.

th(Node) ->
    maps:get(th, maps:get(handshake, dpdist:info(Node), #{}), undefined).

%% Run on a node (rpc): links to and monitors (by pid and by name) a process on Remote and
%% monitors the node; returns armed. When Remote goes, the outcome lines are written to
%% File ("ok ..." / "FAIL ...", for dd_erl_checks). Gives up after WaitMs.
watch(Remote, File, WaitMs) ->
    Parent = self(),
    W = spawn(fun() -> watcher(Parent, Remote, File, WaitMs) end),
    receive {W, armed} -> armed after 10000 -> timeout end.

watcher(Parent, Remote, File, WaitMs) ->
    process_flag(trap_exit, true),
    ok = net_kernel:monitor_nodes(true),
    Name = list_to_atom("dd_victim_" ++ atom_to_list(node())),
    Victim = spawn_link(Remote, ?MODULE, idle, [Name]),
    timer:sleep(200),
    ByPid = erlang:monitor(process, Victim),
    ByName = erlang:monitor(process, {Name, Remote}),
    Parent ! {self(), armed},
    Tag = lists:flatten(io_lib:format("~p watching ~p", [node(), Remote])),
    R1 = receive {'EXIT', Victim, Why1} -> Why1 =:= noconnection orelse Why1
         after WaitMs -> timeout end,
    R2 = receive {'DOWN', ByPid, process, Victim, Why2} -> Why2 =:= noconnection orelse Why2
         after WaitMs -> timeout end,
    R3 = receive {'DOWN', ByName, process, _, Why3} -> Why3 =:= noconnection orelse Why3
         after WaitMs -> timeout end,
    R4 = receive {nodedown, Remote} -> true after WaitMs -> timeout end,
    {ok, Dev} = file:open(File, [write]),
    group_leader(Dev, self()),
    report(Tag ++ ": the link exits with noconnection", R1),
    report(Tag ++ ": the monitor by pid is 'DOWN' noconnection", R2),
    report(Tag ++ ": the monitor by name is 'DOWN' noconnection", R3),
    report(Tag ++ ": nodedown", R4),
    file:close(Dev).

idle(Name) ->
    register(Name, self()),
    receive stop -> ok after 300000 -> ok end.

%% Run on a dpdist checker already connected to Nodes (with connect_all on, global meshes
%% them): global, pg and rpc across all of them.
cluster_checks(Nodes, Tag) ->
    All = lists:sort([node() | Nodes]),
    report("global:sync() returns ok", global:sync() =:= ok),
    %% global connects the nodes it learns of in the background: wait for the mesh.
    report("every node sees every other (global meshed the cluster)",
           wait_mesh([node() | Nodes], All, 100)),
    Name = list_to_atom("dd_global_" ++ Tag),
    report("global:register_name here", global:register_name(Name, self()) =:= yes),
    [begin
         R = rpc:call(N, global, sync, []),
         W = rpc:call(N, global, whereis_name, [Name]),
         report(io_lib:format("~p: global:sync() and whereis_name see it", [N]),
                R =:= ok andalso W =:= self() orelse {R, W})
     end || N <- Nodes],
    {Replies, Bad} = rpc:multicall(Nodes, erlang, node, []),
    report("rpc:multicall reaches every node",
           lists:sort(Replies) =:= lists:sort(Nodes) andalso Bad =:= [] orelse {Replies, Bad}),
    Group = list_to_atom("dd_group_" ++ Tag),
    [{ok, _} = rpc:call(N, pg, start, [pg]) || N <- [node() | Nodes],
                                              rpc:call(N, erlang, whereis, [pg]) =:= undefined],
    Members = lists:sort([rpc:call(N, ?MODULE, pg_member, [Group]) || N <- [node() | Nodes]]),
    [report(io_lib:format("~p: pg:get_members sees a member on every node", [N]),
            wait_members(N, Group, Members, 100))
     || N <- [node() | Nodes]],
    ok.

wait_mesh(Nodes, All, Tries) ->
    Seen = [{N, rpc:call(N, erlang, nodes, [])} || N <- Nodes],
    case lists:all(fun({N, L}) -> is_list(L) andalso lists:sort([N | L]) =:= All end, Seen) of
        true -> true;
        false when Tries > 0 -> timer:sleep(100), wait_mesh(Nodes, All, Tries - 1);
        false -> Seen
    end.

%% A process on this node that joins Group and stays (pg drops members that exit).
pg_member(Group) ->
    Self = self(),
    P = spawn(fun() ->
                      ok = pg:join(pg, Group, self()),
                      Self ! {joined, self()},
                      receive stop -> ok after 300000 -> ok end
              end),
    receive {joined, P} -> P after 5000 -> timeout end.

wait_members(N, Group, Want, Tries) ->
    Got = rpc:call(N, pg, get_members, [pg, Group]),
    case is_list(Got) andalso lists:sort(Got) =:= Want of
        true -> true;
        false when Tries > 0 -> timer:sleep(100), wait_members(N, Group, Want, Tries - 1);
        false -> {got, Got, want, Want}
    end.

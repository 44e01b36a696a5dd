%% Erlang side of the tests of the BEAM application (tests/interop/beam_*.sh): checks run in
%% real BEAM nodes, some with dpdist's modules (build/beam/ebin), some without. Every check
%% prints "ok NAME" or "FAIL NAME: DETAILS" through dd_interop:report/2, for dd_erl_checks.
-module(dd_beam).
-export([expect_raw_extra/3, dpdist_epmd_checks/3]).

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

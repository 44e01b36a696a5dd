%% dpdist: what a user of a dpdist VM asks it (docs/agent.md §1).
%%
%%   dpdist:info(Node)  how the connection to Node runs: #{carrier => tcp | dpdk, ...}
%%   dpdist:info()      the same for every connected node
%%   dpdist:agent()     the agent socket this VM was started with (-dpdist_agent), or none
%%   dpdist:agent_link() the link to that agent: #{state => none | connecting | linked | down,
%%                      ...} (dpdist_agent)
%%   dpdist:stats()     this VM's dpdist counters (handshakes, trailers seen and ignored)
%%
%% Read-only and safe from any process: it asks the runtime (the distribution controllers,
%% their owners) and reads the connection processes' dictionaries; it sends nothing to
%% net_kernel or to a connection, and a failure comes back as {error, Reason}.
-module(dpdist).

-export([info/0, info/1, agent/0, agent_link/0, stats/0]).

-define(SOCKET_STATS, [recv_oct, recv_cnt, send_oct, send_cnt, send_pend]).

%% For a connected node: carrier (tcp until the agent link exists; dpdk then), the
%% connection's socket counters, and, for a connection dpdist_dist made, its handshake
%% (role, the trailers sent and seen, flags, the transcript's size and SHA-256 th).
-spec info(node()) -> map() | {error, not_connected | term()}.
info(Node) when is_atom(Node) ->
    try
        case lists:keyfind(Node, 1, erlang:system_info(dist_ctrl)) of
            {Node, Ctrl} when is_port(Ctrl) -> port_info(Ctrl);
            {Node, Ctrl} -> #{carrier => other, controller => Ctrl};
            false -> {error, not_connected}
        end
    catch
        Class:Reason -> {error, {Class, Reason}}
    end.

-spec info() -> #{node() => map() | {error, term()}}.
info() ->
    maps:from_list([{N, info(N)} || N <- nodes(connected)]).

port_info(Port) ->
    Socket = case inet:getstat(Port, ?SOCKET_STATS) of
                 {ok, Stats} -> maps:from_list(Stats);
                 {error, Reason} -> #{error => Reason}
             end,
    Info = #{carrier => tcp, socket => Socket, agent => agent()},
    case handshake(Port) of
        undefined -> Info;
        Summary -> Info#{handshake => Summary}
    end.

%% The controller port belongs to the connection's process (dist_util's con_loop), which
%% keeps the handshake summary.
handshake(Port) ->
    case erlang:port_info(Port, connected) of
        {connected, Pid} -> dpdist_dist:conn_summary(Pid);
        undefined -> undefined
    end.

-spec agent() -> file:filename() | none.
agent() ->
    case init:get_argument(dpdist_agent) of
        {ok, [[Path | _] | _]} -> Path;
        _ -> none
    end.

-spec agent_link() -> map().
agent_link() ->
    dpdist_agent:link_state().

-spec stats() -> #{atom() => non_neg_integer()}.
stats() ->
    dpdist_dist:counters().

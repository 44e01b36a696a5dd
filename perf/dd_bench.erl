%% dd_bench: the BEAM side of the benchmark suite (perf/run), for the beam_tcp transport
%% (BEAM <-> BEAM) and dpdist_beam (dd-bench <-> BEAM). The same roles, tests, protocol terms
%% and result lines as perf/dd-bench (see perf/dd_bench.h):
%%
%%   erl ... -run dd_bench main -extra server [-timeout S]
%%   erl ... -run dd_bench main -extra client -test TEST -peer NODE [-peers N1,N2,..] [-sizes LIST]
%%           [-count N] [-warmup N] [-seconds S] [-warmup-ms MS] [-bulk-size SIZE]
%%           [-pulse-ms MS] [-samples FILE] [-timeout S]
%%
%% Server: registered processes echo ({Pid, Bin} -> Bin), sink (counts binaries between
%% sink_mark and {sink_finish, Pid}) and pulse (gaps between {pulse, Seq} arrivals).
%% Clients time with erlang:monotonic_time(nanosecond); failure prints os:system_time
%% (CLOCK_REALTIME, comparable with perf/run's clock). BEAM's ticks are not observable from
%% Erlang code: the hbgap test measures the gaps between application pulses sent every
%% -pulse-ms on the same connection as the bulk stream, and reports runtime_gap_ns=-1.
%% Every client halts the node when done (status 0, or 1 on a failure).
-module(dd_bench).
-export([main/0, main/1]).

-define(REPLY_TIMEOUT, 30000).
-define(REPORT_TIMEOUT, 120000).
-define(STREAM_MIN_MSGS, 10).
-define(MIN_SAMPLES, 5).
-define(OVERTIME_NS, 30000000000).

%% The arguments come after erl's -extra (erl would take "-test" etc. as its own flags).
main() ->
    main(init:get_plain_arguments()).

main(["server" | Args]) ->
    O = opts(Args),
    process_flag(trap_exit, true),
    register(echo, spawn_link(fun echo/0)),
    register(sink, spawn_link(fun() -> sink(idle) end)),
    register(pulse, spawn_link(fun() -> pulse([], undefined) end)),
    ok = net_kernel:monitor_nodes(true),
    io:format("# dd_bench (beam) server ~s ready~n", [node()]),
    Deadline = now_ms() + maps:get(timeout, O, 600) * 1000,
    server_events(Deadline);
main(["client" | Args]) ->
    O = opts(Args),
    Status = try client(maps:get(test, O), O) of
                 ok -> 0;
                 {error, Why} -> io:format(standard_error, "dd_bench: ~p~n", [Why]), 1
             catch C:E:St ->
                 io:format(standard_error, "dd_bench: ~p:~p ~p~n", [C, E, St]), 1
             end,
    halt(Status);
main(_) ->
    io:format(standard_error, "usage: dd_bench main server|client [options]~n", []),
    halt(2).

%% ---- options -----------------------------------------------------------------------

opts(Args) -> opts(Args, #{count => 10000, warmup => 1000, seconds => 1.0,
                           warmup_ms => 200, bulk_size => 64 bsl 20, pulse_ms => 10,
                           sizes => [64]}).
opts([], O) -> O;
opts(["-test", V | R], O) -> opts(R, O#{test => V});
opts(["-peer", V | R], O) -> opts(R, O#{peer => list_to_atom(V)});
opts(["-peers", V | R], O) ->
    Ps = [list_to_atom(P) || P <- string:tokens(V, ",")],
    opts(R, O#{peers => Ps, peer => hd(Ps)});
opts(["-sizes", V | R], O) -> opts(R, O#{sizes => [parse_size(S) || S <- string:tokens(V, ",")]});
opts(["-count", V | R], O) -> opts(R, O#{count => list_to_integer(V)});
opts(["-warmup", V | R], O) -> opts(R, O#{warmup => list_to_integer(V)});
opts(["-seconds", V | R], O) -> opts(R, O#{seconds => number(V)});
opts(["-warmup-ms", V | R], O) -> opts(R, O#{warmup_ms => list_to_integer(V)});
opts(["-bulk-size", V | R], O) -> opts(R, O#{bulk_size => parse_size(V)});
opts(["-pulse-ms", V | R], O) -> opts(R, O#{pulse_ms => list_to_integer(V)});
opts(["-samples", V | R], O) -> opts(R, O#{samples => V});
opts(["-timeout", V | R], O) -> opts(R, O#{timeout => list_to_integer(V)});
opts([Bad | _], _) -> error({bad_option, Bad}).

number(S) -> try list_to_float(S) catch error:badarg -> float(list_to_integer(S)) end.

parse_size(S) ->
    case lists:reverse(S) of
        [$K | N] -> list_to_integer(lists:reverse(N)) bsl 10;
        [$M | N] -> list_to_integer(lists:reverse(N)) bsl 20;
        [$G | N] -> list_to_integer(lists:reverse(N)) bsl 30;
        _ -> list_to_integer(S)
    end.

%% ---- server ------------------------------------------------------------------------

server_events(Deadline) ->
    Left = max(0, Deadline - now_ms()),
    receive
        {Ev, Node} when Ev =:= nodeup; Ev =:= nodedown ->
            io:format("# ~s ~s realtime_ns=~b~n", [Ev, Node, os:system_time(nanosecond)]),
            server_events(Deadline);
        {'EXIT', _, Why} -> io:format(standard_error, "dd_bench: server part died: ~p~n", [Why]),
                            halt(1);
        _ -> server_events(Deadline)
    after Left -> halt(0)
    end.

echo() ->
    receive
        {From, Bin} when is_pid(From), is_binary(Bin) -> From ! Bin;
        _ -> ok
    end,
    echo().

sink(St) ->
    receive
        Bin when is_binary(Bin) ->
            case St of
                {measuring, T0, N, Bytes, _} ->
                    sink({measuring, T0, N + 1, Bytes + byte_size(Bin), now_ns()});
                _ -> sink(St)
            end;
        sink_mark -> T = now_ns(), sink({measuring, T, 0, 0, T});
        {sink_begin, From} -> From ! sink_ready, sink(idle);
        {sink_finish, From} ->
            {N, Bytes, Ns} = case St of
                                 {measuring, T0, N0, B0, TLast} -> {N0, B0, TLast - T0};
                                 idle -> {0, 0, 0}
                             end,
            From ! {sink_report, N, Bytes, Ns},
            sink(idle);
        _ -> sink(St)
    end.

%% Gaps between {pulse, Seq} arrivals; and, from the first pulse to pulse_finish, a sampler
%% of the distribution socket of the sender's connection (see liveness/2). The third
%% argument: undefined, then the sender's node (pulse_begin), then the sampler's pid.
pulse(Gaps, Last) -> pulse(Gaps, Last, undefined).

pulse(Gaps, Last, Sampler) ->
    receive
        {pulse, _Seq} ->
            Now = now_ns(),
            case Last of
                undefined ->
                    %% the first pulse (after the sender's warm-up): the liveness window
                    %% starts here, as the pulse gaps do (Sampler is the sender's node)
                    S = spawn_link(fun() -> liveness(Sampler) end),
                    pulse(Gaps, Now, S);
                _ -> pulse([Now - Last | Gaps], Now, Sampler)
            end;
        {pulse_begin, From} ->
            _ = stop_sampler(Sampler),
            From ! pulse_ready,
            pulse([], undefined, node(From));
        {pulse_finish, From} ->
            RxGap = stop_sampler(Sampler),
            S = summary(Gaps),
            From ! {pulse_report, maps:get(n, S), maps:get(max, S), maps:get(p99, S),
                    maps:get(p50, S), -1, RxGap},
            pulse([], undefined, undefined);
        _ -> pulse(Gaps, Last, Sampler)
    end.

stop_sampler(Pid) when is_pid(Pid) ->
    Pid ! {stop, self()},
    receive {liveness, Pid, Gap} -> Gap after 5000 -> -1 end;
stop_sampler(_NoneYet) -> -1.

%% BEAM's tick checker looks at whether the connection received anything; Erlang code cannot
%% see ticks, but it can see the distribution socket's byte counter. Samples recv_oct about
%% every millisecond and keeps the largest interval without an increase: the longest time the
%% receiver had no sign of life from the sender. -1 if the connection is not a TCP port.
liveness(Peer) ->
    case lists:keyfind(Peer, 1, erlang:system_info(dist_ctrl)) of
        {_, Port} when is_port(Port) -> liveness(Port, recv_oct(Port), now_ns(), 0);
        _ -> receive {stop, From} -> From ! {liveness, self(), -1} end
    end.

liveness(Port, Last, Since, Max) ->
    receive
        {stop, From} -> From ! {liveness, self(), max(Max, now_ns() - Since)}
    after 1 ->
            Now = now_ns(),
            case recv_oct(Port) of
                Last -> liveness(Port, Last, Since, Max);
                N -> liveness(Port, N, Now, max(Max, Now - Since))
            end
    end.

recv_oct(Port) ->
    case inet:getstat(Port, [recv_oct]) of
        {ok, [{recv_oct, N}]} -> N;
        _ -> -1
    end.

%% ---- client tests ------------------------------------------------------------------

client("rtt", O = #{peer := Peer}) ->
    ok = connect(Peer),
    lists:foreach(
      fun({I, Size}) ->
              Msg = {self(), payload(Size)},
              Ts = rtt_loop({echo, Peer}, Msg, Size, maps:get(warmup, O), maps:get(count, O), []),
              print_latency("rtt", Size, Ts, ""),
              I =:= 1 andalso write_samples(O, Ts)
      end, lists:zip(lists:seq(1, length(maps:get(sizes, O))), maps:get(sizes, O)));
client("stream", O = #{peer := Peer}) ->
    ok = connect(Peer),
    lists:foreach(
      fun(Size) ->
              ok = sink_begin(Peer),
              stream([{sink, Peer}], payload(Size), O),
              {N, Bytes, Ns} = sink_finish(Peer),
              io:format("result kind=stream size=~b msgs=~b bytes=~b ns=~b~n",
                        [Size, N, Bytes, Ns])
      end, maps:get(sizes, O));
client("under-bulk", O = #{peer := Peer}) ->
    ok = connect(Peer),
    Bulk = bulk_start(Peer, maps:get(bulk_size, O)),
    Msg = {self(), payload(64)},
    Start = now_ns(),
    Mark = Start + maps:get(warmup_ms, O) * 1000000,
    End = Mark + round(maps:get(seconds, O) * 1.0e9),
    Ts = under_bulk_loop({echo, Peer}, Msg, Mark, End, []),
    Extra = bulk_stop(Bulk),
    print_latency("rtt_under_bulk", 64, Ts, Extra),
    write_samples(O, Ts);
client("hbgap", O = #{peer := Peer}) ->
    ok = connect(Peer),
    {pulse, Peer} ! {pulse_begin, self()},
    receive pulse_ready -> ok after ?REPLY_TIMEOUT -> error(no_pulse_receiver) end,
    Bulk = bulk_start(Peer, maps:get(bulk_size, O)),
    timer:sleep(maps:get(warmup_ms, O)),
    PulseMs = maps:get(pulse_ms, O),
    Start = now_ms(),
    Sent = pulses({pulse, Peer}, Start, Start + round(maps:get(seconds, O) * 1000), PulseMs, 0),
    {pulse, Peer} ! {pulse_finish, self()},
    R = receive {pulse_report, _, _, _, _, _, _} = Report -> Report
        after ?REPORT_TIMEOUT -> error(no_pulse_report)
        end,
    {pulse_report, N, Max, P99, P50, HbGap, RxGap} = R,
    Extra = bulk_stop(Bulk),
    io:format("result kind=hbgap pulse_ms=~b sent=~b pulses=~b max_gap_ns=~b p99_gap_ns=~b "
              "p50_gap_ns=~b hb_gap_ns=~b rx_gap_ns=~b ~s~n",
              [PulseMs, Sent, N, Max, P99, P50, HbGap, RxGap, Extra]);
client("connect", O = #{peer := Peer}) ->
    Ts = connect_loop(Peer, maps:get(warmup, O), maps:get(count, O), []),
    print_latency("connect", 0, Ts, "");
client("fanout", O = #{peers := Peers}) ->
    [ok = connect(P) || P <- Peers],
    Size = hd(maps:get(sizes, O)),
    Msg = {self(), payload(Size)},
    Ts = fanout_loop(Peers, Msg, Size, maps:get(warmup, O), maps:get(count, O), []),
    print_latency("fanout_rtt", Size, Ts, io_lib:format("peers=~b", [length(Peers)])),
    SSize = case maps:get(sizes, O) of [_, S2 | _] -> S2; _ -> 1024 end,
    [ok = sink_begin(P) || P <- Peers],
    stream([{sink, P} || P <- Peers], payload(SSize), O),
    Rs = [sink_finish(P) || P <- Peers],
    io:format("result kind=fanout_stream size=~b msgs=~b bytes=~b ns=~b peers=~b~n",
              [SSize, lists:sum([N || {N, _, _} <- Rs]), lists:sum([B || {_, B, _} <- Rs]),
               lists:max([Ns || {_, _, Ns} <- Rs]), length(Peers)]);
client("failure", O = #{peer := Peer}) ->
    ok = net_kernel:monitor_nodes(true),
    ok = connect(Peer),
    io:format("armed~n"),
    receive {nodedown, Peer} ->
            io:format("result kind=nodedown realtime_ns=~b~n", [os:system_time(nanosecond)])
    after maps:get(timeout, O, 60) * 1000 ->
            io:format("result kind=nodedown timeout_s=~b~n", [maps:get(timeout, O, 60)]),
            {error, no_nodedown}
    end;
client("survive", O = #{peer := Peer}) ->
    ok = net_kernel:monitor_nodes(true),
    ok = connect(Peer),
    Bulk = bulk_start(Peer, maps:get(bulk_size, O)),
    Start = now_ms(),
    Downs = receive {nodedown, Peer} -> 1
            after round(maps:get(seconds, O) * 1000) -> 0 end,
    Extra = case Downs of
                0 -> bulk_stop(Bulk);
                _ -> {BulkPid, _} = Bulk,
                     unlink(BulkPid),
                     exit(BulkPid, kill),
                     io_lib:format("bulk_size=~b bulk_report=none", [maps:get(bulk_size, O)])
            end,
    io:format("result kind=survive seconds=~.1f nodedowns=~b ~s~n",
              [(now_ms() - Start) / 1000, Downs, Extra]);
client(Test, _) ->
    {error, {unknown_test, Test}}.

connect(Peer) ->
    case net_kernel:connect_node(Peer) of
        true -> io:format("# connected to ~s, carrier tcp~n", [Peer]), ok;
        Other -> error({cannot_connect, Peer, Other})
    end.

payload(Size) -> <<0:64, 0:((Size - 8) * 8)>>.

rtt_loop(_, _, _, 0, 0, Acc) -> Acc;
rtt_loop(Echo, Msg, Size, Warm, N, Acc) ->
    T0 = now_ns(),
    Echo ! Msg,
    receive B when is_binary(B), byte_size(B) =:= Size -> ok
    after ?REPLY_TIMEOUT -> error(no_echo)
    end,
    T = now_ns() - T0,
    case Warm of
        0 -> rtt_loop(Echo, Msg, Size, 0, N - 1, [T | Acc]);
        _ -> rtt_loop(Echo, Msg, Size, Warm - 1, N, Acc)
    end.

%% Round trips until End, and on (up to ?OVERTIME_NS more) until ?MIN_SAMPLES are measured.
under_bulk_loop(Echo, Msg, Mark, End, Acc) ->
    T0 = now_ns(),
    Done = T0 >= End andalso (length(Acc) >= ?MIN_SAMPLES orelse T0 >= End + ?OVERTIME_NS),
    case Done of
        true -> Acc;
        false ->
            Echo ! Msg,
            receive B when is_binary(B), byte_size(B) =:= 64 -> ok
            after ?REPLY_TIMEOUT -> error(no_echo_under_bulk)
            end,
            T = now_ns() - T0,
            under_bulk_loop(Echo, Msg, Mark, End, case T0 >= Mark of
                                                      true -> [T | Acc];
                                                      false -> Acc
                                                  end)
    end.

%% Sends Bin round-robin to Dests for warmup_ms, marks them, then for seconds more counted
%% from the mark, and at least ?STREAM_MIN_MSGS rounds after it (as dd-bench does).
stream(Dests, Bin, O) ->
    Mark = now_ns() + maps:get(warmup_ms, O) * 1000000,
    stream_loop(Dests, Bin, Mark, round(maps:get(seconds, O) * 1.0e9), undefined, 0).

stream_loop(Dests, Bin, Mark, Window, End, After) ->
    Now = now_ns(),
    if
        End =:= undefined, Now >= Mark ->
            [D ! sink_mark || D <- Dests],
            stream_loop(Dests, Bin, Mark, Window, Now + Window, After);
        End =/= undefined, Now >= End, After >= ?STREAM_MIN_MSGS -> ok;
        true ->
            [D ! Bin || D <- Dests],
            stream_loop(Dests, Bin, Mark, Window, End,
                        After + case End of undefined -> 0; _ -> 1 end)
    end.

sink_begin(Peer) ->
    {sink, Peer} ! {sink_begin, self()},
    receive sink_ready -> ok after ?REPLY_TIMEOUT -> error({no_sink, Peer}) end.

sink_finish(Peer) ->
    {sink, Peer} ! {sink_finish, self()},
    receive {sink_report, N, Bytes, Ns} -> {N, Bytes, Ns}
    after ?REPORT_TIMEOUT -> error({no_sink_report, Peer})
    end.

%% A process streaming Size-byte binaries to {sink, Peer} until told to stop; returns once
%% its first message is handed to the runtime.
bulk_start(Peer, Size) ->
    Parent = self(),
    Pid = spawn_link(fun() ->
                             ok = sink_begin(Peer),
                             {sink, Peer} ! sink_mark,
                             bulk_loop(Parent, {sink, Peer}, payload(Size), false),
                             Parent ! {bulk_report, sink_finish(Peer)}
                     end),
    receive bulk_started -> {Pid, Size} after ?REPLY_TIMEOUT -> error(bulk_did_not_start) end.

bulk_loop(Parent, Sink, Bin, Started) ->
    receive bulk_stop -> ok
    after 0 ->
            Sink ! Bin,
            Started orelse (Parent ! bulk_started),
            bulk_loop(Parent, Sink, Bin, true)
    end.

bulk_stop({Pid, Size}) ->
    Pid ! bulk_stop,
    receive {bulk_report, {N, Bytes, Ns}} ->
            io_lib:format("bulk_size=~b bulk_msgs=~b bulk_bytes=~b bulk_ns=~b",
                          [Size, N, Bytes, Ns])
    after ?REPORT_TIMEOUT -> io_lib:format("bulk_size=~b bulk_report=none", [Size])
    end.

pulses(Dest, Next, End, PulseMs, Seq) when Next < End ->
    Wait = Next + PulseMs - now_ms(),
    Wait > 0 andalso timer:sleep(Wait),
    Dest ! {pulse, Seq + 1},
    pulses(Dest, Next + PulseMs, End, PulseMs, Seq + 1);
pulses(_, _, _, _, Seq) -> Seq.

connect_loop(_, 0, 0, Acc) -> Acc;
connect_loop(Peer, Warm, N, Acc) ->
    T0 = now_ns(),
    true = net_kernel:connect_node(Peer),
    T = now_ns() - T0,
    erlang:disconnect_node(Peer),
    wait_gone(Peer, 200),
    timer:sleep(20),
    case Warm of
        0 -> connect_loop(Peer, 0, N - 1, [T | Acc]);
        _ -> connect_loop(Peer, Warm - 1, N, Acc)
    end.

wait_gone(_, 0) -> ok;
wait_gone(Peer, K) ->
    case lists:member(Peer, nodes(connected)) of
        true -> timer:sleep(10), wait_gone(Peer, K - 1);
        false -> ok
    end.

fanout_loop(_, _, _, 0, 0, Acc) -> Acc;
fanout_loop(Peers, Msg, Size, Warm, N, Acc) ->
    T0 = now_ns(),
    [{echo, P} ! Msg || P <- Peers],
    [receive B when is_binary(B), byte_size(B) =:= Size -> ok
     after ?REPLY_TIMEOUT -> error(fanout_no_echo) end || _ <- Peers],
    T = now_ns() - T0,
    case Warm of
        0 -> fanout_loop(Peers, Msg, Size, 0, N - 1, [T | Acc]);
        _ -> fanout_loop(Peers, Msg, Size, Warm - 1, N, Acc)
    end.

%% ---- statistics and output ---------------------------------------------------------

now_ns() -> erlang:monotonic_time(nanosecond).
now_ms() -> erlang:monotonic_time(millisecond).

%% Nearest rank on the sorted samples, as perf/bench_stats.c.
summary([]) -> #{n => 0, min => 0, p50 => 0, p90 => 0, p99 => 0, p999 => 0, max => 0, mean => 0};
summary(Samples) ->
    S = list_to_tuple(lists:sort(Samples)),
    N = tuple_size(S),
    Rank = fun(PerTenThousand) -> element(max(1, (N * PerTenThousand + 9999) div 10000), S) end,
    #{n => N, min => element(1, S), p50 => Rank(5000), p90 => Rank(9000), p99 => Rank(9900),
      p999 => Rank(9990), max => element(N, S), mean => lists:sum(Samples) div N}.

print_latency(Kind, Size, Samples, Extra) ->
    #{n := N, min := Min, p50 := P50, p90 := P90, p99 := P99, p999 := P999, max := Max,
      mean := Mean} = summary(Samples),
    io:format("result kind=~s size=~b n=~b min_ns=~b p50_ns=~b p90_ns=~b p99_ns=~b p999_ns=~b "
              "max_ns=~b mean_ns=~b~s~n",
              [Kind, Size, N, Min, P50, P90, P99, P999, Max, Mean,
               case lists:flatten(Extra) of "" -> ""; E -> [$\s | E] end]).

%% Sorted samples in microseconds, thinned to at most 20000 lines (bench_stats.c's format).
write_samples(#{samples := File}, Samples) when Samples =/= [] ->
    S = list_to_tuple(lists:sort(Samples)),
    N = tuple_size(S),
    Lines = min(N, 20000),
    Idx = [case Lines of 1 -> 1; _ -> 1 + (I * (N - 1)) div (Lines - 1) end
           || I <- lists:seq(0, Lines - 1)],
    ok = file:write_file(File, [io_lib:format("~.3f~n", [element(K, S) / 1000]) || K <- Idx]);
write_samples(_, _) -> ok.

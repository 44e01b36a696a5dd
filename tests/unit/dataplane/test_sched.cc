// Unit tests for dataplane/sched.c: DRR fairness at fragment granularity (a 64-byte
// message next to a 64 MiB one goes out within a couple of frames), deficit carry-over
// with small fragments, lane weights, lane moves, O(1) behaviour with many flows.
// "Pulse first" is a channel property and is tested in test_chan.cc.
#include <gtest/gtest.h>

#include <map>
#include <vector>

extern "C" {
#include "dataplane/sched.h"
#include "dataplane/wire.h"
}

namespace
{

constexpr uint32_t Q = 1440;

// A flow with `left` bytes in fragments of at most Q.
struct Flow {
    uint64_t left = 0;
    uint8_t lane = WIRE_LANE_NORMAL;
    uint32_t frag_max = Q;
    uint32_t next() const
    {
        return uint32_t(left < frag_max ? left : frag_max);
    }
};

struct Sim {
    sched *s;
    std::map<uint32_t, Flow> flows;
    explicit Sim(uint32_t we = 4, uint32_t wn = 1)
    {
        s = sched_create(64, Q, we, wn);
    }
    ~Sim()
    {
        sched_destroy(s);
    }
    void add(uint32_t f, uint64_t bytes, uint8_t lane = WIRE_LANE_NORMAL, uint32_t frag = Q)
    {
        flows[f] = Flow{bytes, lane, frag};
        ASSERT_EQ(0, sched_activate(s, f, lane, flows[f].next()));
    }
    // One pick: returns the flow and sends its fragment.
    int step()
    {
        uint8_t lane;
        int f = sched_pick(s, &lane);
        if (f < 0)
            return f;
        Flow &fl = flows[uint32_t(f)];
        EXPECT_EQ(fl.lane, lane);
        uint32_t len = fl.next();
        fl.left -= len;
        sched_sent(s, uint32_t(f), len, fl.next(), fl.lane);
        return f;
    }
};

TEST(Sched, CreateRejectsBadParams)
{
    EXPECT_EQ(nullptr, sched_create(0, Q, 1, 1));
    EXPECT_EQ(nullptr, sched_create(4, 0, 1, 1));
    EXPECT_EQ(nullptr, sched_create(4, Q, 0, 1));
    sched *s = sched_create(4, Q, 1, 1);
    EXPECT_EQ(-EINVAL, sched_activate(s, 4, WIRE_LANE_NORMAL, 10));
    EXPECT_EQ(-EINVAL, sched_activate(s, 0, WIRE_LANE_PULSE, 10));
    EXPECT_EQ(-EINVAL, sched_activate(s, 0, WIRE_LANE_NORMAL, 0));
    EXPECT_EQ(0, sched_activate(s, 0, WIRE_LANE_NORMAL, 10));
    EXPECT_EQ(-EINVAL, sched_activate(s, 0, WIRE_LANE_NORMAL, 10)); // already active
    sched_destroy(s);
}

TEST(Sched, EmptyPicksNothing)
{
    Sim sim;
    EXPECT_EQ(-1, sched_pick(sim.s, nullptr));
    EXPECT_FALSE(sched_has_work(sim.s));
}

TEST(Sched, SmallMessageOvertakesHugeOne)
{
    Sim sim;
    sim.add(1, 64ull << 20); // 64 MiB
    for (int i = 0; i < 10; i++)
        EXPECT_EQ(1, sim.step());
    sim.add(2, 64); // a 64-byte message arrives mid-stream
    int waited = 0;
    while (sim.step() != 2)
        waited++;
    EXPECT_LE(waited, 1) << "the small message waited more than one frame";
    EXPECT_FALSE(sched_is_active(sim.s, 2));
    EXPECT_EQ(1, sim.step());
}

TEST(Sched, EqualShareBetweenBulkFlows)
{
    Sim sim;
    sim.add(1, 10000 * uint64_t(Q));
    sim.add(2, 10000 * uint64_t(Q));
    sim.add(3, 10000 * uint64_t(Q));
    std::map<int, int> count;
    for (int i = 0; i < 3000; i++)
        count[sim.step()]++;
    EXPECT_EQ(1000, count[1]);
    EXPECT_EQ(1000, count[2]);
    EXPECT_EQ(1000, count[3]);
}

TEST(Sched, DeficitCountsBytesNotFrames)
{
    // flow 1 sends 100-byte fragments, flow 2 full ones: per round both get ~Q bytes
    Sim sim;
    sim.add(1, 1000000, WIRE_LANE_NORMAL, 100);
    sim.add(2, 1000000, WIRE_LANE_NORMAL, Q);
    std::map<int, uint64_t> bytes;
    for (int i = 0; i < 20000; i++) {
        int f = sim.step();
        bytes[f] += f == 1 ? 100 : Q;
    }
    double ratio = double(bytes[1]) / double(bytes[2]);
    EXPECT_NEAR(1.0, ratio, 0.02);
}

TEST(Sched, LaneWeights)
{
    Sim sim(4, 1);
    sim.add(1, 1ull << 30, WIRE_LANE_EXPRESS);
    sim.add(2, 1ull << 30, WIRE_LANE_NORMAL);
    std::map<int, int> count;
    for (int i = 0; i < 5000; i++)
        count[sim.step()]++;
    EXPECT_EQ(4000, count[1]);
    EXPECT_EQ(1000, count[2]);
    EXPECT_EQ(1u, sched_active_flows(sim.s, WIRE_LANE_EXPRESS));
}

TEST(Sched, ExpressStrictlyAheadWithNormalWeightZero)
{
    // The default (normal_weight 0): while the express lane has a flow it takes every pick;
    // an express message that arrives mid-stream of a normal bulk goes at the next pick.
    Sim sim(4, 0);
    ASSERT_NE(nullptr, sim.s) << "normal_weight 0 refused";
    sim.add(2, 1ull << 30, WIRE_LANE_NORMAL);
    for (int i = 0; i < 10; i++)
        EXPECT_EQ(2, sim.step());
    sim.add(1, 100 * uint64_t(Q), WIRE_LANE_EXPRESS);
    sim.add(3, 50 * uint64_t(Q), WIRE_LANE_EXPRESS);
    std::map<int, int> count;
    for (int i = 0; i < 150; i++)
        count[sim.step()]++;
    EXPECT_EQ(100, count[1]);
    EXPECT_EQ(50, count[3]);
    EXPECT_EQ(0, count[2]) << "the normal lane got picks while express had work";
    EXPECT_EQ(2, sim.step()); // express empty: normal again
}

TEST(Sched, LaneWeightsOtherRatio)
{
    Sim sim(1, 3);
    sim.add(1, 1ull << 30, WIRE_LANE_EXPRESS);
    sim.add(2, 1ull << 30, WIRE_LANE_NORMAL);
    sim.add(3, 1ull << 30, WIRE_LANE_NORMAL);
    std::map<int, int> count;
    for (int i = 0; i < 4000; i++)
        count[sim.step()]++;
    EXPECT_EQ(1000, count[1]);
    EXPECT_EQ(1500, count[2]);
    EXPECT_EQ(1500, count[3]);
}

TEST(Sched, OneLaneAloneTakesEverything)
{
    Sim sim(4, 1);
    sim.add(2, 100 * uint64_t(Q), WIRE_LANE_NORMAL);
    for (int i = 0; i < 100; i++)
        EXPECT_EQ(2, sim.step());
    EXPECT_EQ(-1, sim.step());
}

TEST(Sched, FlowMovesLane)
{
    Sim sim;
    sim.add(1, 2 * uint64_t(Q), WIRE_LANE_NORMAL);
    uint8_t lane;
    ASSERT_EQ(1, sched_pick(sim.s, &lane));
    sched_sent(sim.s, 1, Q, 500, WIRE_LANE_EXPRESS); // next message is on express
    EXPECT_EQ(1u, sched_active_flows(sim.s, WIRE_LANE_EXPRESS));
    EXPECT_EQ(0u, sched_active_flows(sim.s, WIRE_LANE_NORMAL));
    ASSERT_EQ(1, sched_pick(sim.s, &lane));
    EXPECT_EQ(WIRE_LANE_EXPRESS, lane);
    sched_sent(sim.s, 1, 500, 0, 0);
    EXPECT_FALSE(sched_has_work(sim.s));
}

TEST(Sched, DeactivateAnywhere)
{
    Sim sim;
    sim.add(1, 1 << 20);
    sim.add(2, 1 << 20);
    sim.add(3, 1 << 20);
    sim.step();
    sched_deactivate(sim.s, 2);
    sched_deactivate(sim.s, 2);
    for (int i = 0; i < 10; i++)
        EXPECT_NE(2, sim.step());
    sched_deactivate(sim.s, 1);
    sched_deactivate(sim.s, 3);
    EXPECT_FALSE(sched_has_work(sim.s));
}

TEST(Sched, ManyFlowsRoundRobin)
{
    Sim sim;
    for (uint32_t f = 0; f < 64; f++)
        sim.add(f, 64); // 64 single-fragment messages
    std::vector<int> order;
    for (int f; (f = sim.step()) >= 0;)
        order.push_back(f);
    ASSERT_EQ(64u, order.size());
    for (int i = 0; i < 64; i++)
        EXPECT_EQ(i, order[i]); // activation order
}

} // namespace

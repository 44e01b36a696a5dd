// Unit tests for dataplane/ackwin.c: receive verdicts and SACK building (including 32-bit
// wrap-around), sender ACK processing and release, RTO math (RFC 6298, Karn, backoff,
// clamps), the retransmission timer and the fast retransmit threshold.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

extern "C" {
#include "dataplane/ackwin.h"
}

namespace
{

constexpr uint64_t MS = 1000000;
constexpr uint64_t US = 1000;

TEST(AckwinRx, WindowValidity)
{
    EXPECT_TRUE(ackwin_valid_window(8));
    EXPECT_TRUE(ackwin_valid_window(8192));
    EXPECT_FALSE(ackwin_valid_window(16384));
    EXPECT_FALSE(ackwin_valid_window(100));
    EXPECT_FALSE(ackwin_valid_window(4));
    ackwin_rx rx;
    EXPECT_EQ(-EINVAL, ackwin_rx_init(&rx, 1000, 0));
}

TEST(AckwinRx, InOrderAndDuplicates)
{
    ackwin_rx rx;
    ASSERT_EQ(0, ackwin_rx_init(&rx, 64, 100));
    EXPECT_EQ(ACKWIN_NEW, ackwin_rx_check(&rx, 100));
    ackwin_rx_mark(&rx, 100);
    EXPECT_EQ(101u, rx.rcv_nxt);
    EXPECT_EQ(ACKWIN_DUPLICATE, ackwin_rx_check(&rx, 100));
    EXPECT_EQ(ACKWIN_DUPLICATE, ackwin_rx_check(&rx, 101 - 64));     // oldest duplicate
    EXPECT_EQ(ACKWIN_OUT_OF_WINDOW, ackwin_rx_check(&rx, 101 - 65)); // older still
    EXPECT_EQ(ACKWIN_NEW, ackwin_rx_check(&rx, 101 + 63));           // last in window
    EXPECT_EQ(ACKWIN_OUT_OF_WINDOW, ackwin_rx_check(&rx, 101 + 64));
    EXPECT_EQ(ACKWIN_OUT_OF_WINDOW, ackwin_rx_check(&rx, 101 + 0x80000000u));
    uint8_t sack[1024];
    EXPECT_EQ(0u, ackwin_rx_sack(&rx, sack, sizeof(sack)));
}

TEST(AckwinRx, HolesAndSack)
{
    ackwin_rx rx;
    ASSERT_EQ(0, ackwin_rx_init(&rx, 64, 0));
    // arrive: 1, 2, 4, 10 (0 and 3 missing)
    for (uint32_t s : {1u, 2u, 4u, 10u}) {
        ASSERT_EQ(ACKWIN_NEW, ackwin_rx_check(&rx, s));
        ackwin_rx_mark(&rx, s);
    }
    EXPECT_EQ(0u, rx.rcv_nxt);
    EXPECT_EQ(ACKWIN_DUPLICATE, ackwin_rx_check(&rx, 4));
    uint8_t sack[1024];
    // bit i = frame rcv_nxt + 1 + i = i + 1: bits 0, 1, 3, 9
    ASSERT_EQ(2u, ackwin_rx_sack(&rx, sack, sizeof(sack)));
    EXPECT_EQ(0x0b, sack[0]);
    EXPECT_EQ(0x02, sack[1]);
    EXPECT_EQ(0u, ackwin_rx_sack(&rx, sack, 1)); // cap too short

    ackwin_rx_mark(&rx, 0); // fills the first hole: rcv_nxt jumps to 3
    EXPECT_EQ(3u, rx.rcv_nxt);
    ASSERT_EQ(1u, ackwin_rx_sack(&rx, sack, sizeof(sack)));
    EXPECT_EQ(0x41, sack[0]); // frames 4 (bit 0) and 10 (bit 6)
    ackwin_rx_mark(&rx, 3);
    EXPECT_EQ(5u, rx.rcv_nxt);
    for (uint32_t s = 5; s < 10; s++)
        ackwin_rx_mark(&rx, s);
    EXPECT_EQ(11u, rx.rcv_nxt);
    EXPECT_EQ(0u, ackwin_rx_sack(&rx, sack, sizeof(sack)));
}

TEST(AckwinRx, WrapAround)
{
    ackwin_rx rx;
    ASSERT_EQ(0, ackwin_rx_init(&rx, 16, 0xfffffffau));
    // receive 0xfffffffb..0x00000004 except 0xfffffffa, then fill it
    for (uint32_t s = 0xfffffffbu; s != 5u; s++)
        ackwin_rx_mark(&rx, s);
    EXPECT_EQ(0xfffffffau, rx.rcv_nxt);
    uint8_t sack[8];
    ASSERT_EQ(2u, ackwin_rx_sack(&rx, sack, sizeof(sack))); // 10 bits
    EXPECT_EQ(0xff, sack[0]);
    EXPECT_EQ(0x03, sack[1]);
    EXPECT_EQ(ACKWIN_DUPLICATE, ackwin_rx_check(&rx, 0));
    EXPECT_EQ(ACKWIN_NEW, ackwin_rx_check(&rx, 5));
    ackwin_rx_mark(&rx, 0xfffffffau);
    EXPECT_EQ(5u, rx.rcv_nxt);
    EXPECT_EQ(ACKWIN_DUPLICATE, ackwin_rx_check(&rx, 0xfffffffeu));
    EXPECT_EQ(ACKWIN_NEW, ackwin_rx_check(&rx, 20));
    EXPECT_EQ(ACKWIN_OUT_OF_WINDOW, ackwin_rx_check(&rx, 21));
}

TEST(AckwinRx, FullWindowBitmapIs1024Bytes)
{
    ackwin_rx rx;
    ASSERT_EQ(0, ackwin_rx_init(&rx, 8192, 7));
    ackwin_rx_mark(&rx, 7 + 8191); // the last frame of the window
    uint8_t sack[1024];
    ASSERT_EQ(1024u, ackwin_rx_sack(&rx, sack, sizeof(sack)));
    EXPECT_EQ(0x40, sack[1023]); // bit 8189
    EXPECT_EQ(0, sack[0]);
}

// --- sender ----------------------------------------------------------------------

struct Released {
    std::vector<uint32_t> seqs;
    static void cb(void *ctx, ackwin_frame *f)
    {
        static_cast<Released *>(ctx)->seqs.push_back(f->seq);
    }
};

class AckwinTx : public ::testing::Test
{
  protected:
    ackwin_tx tx{};
    Released rel;
    void SetUp() override
    {
        ASSERT_EQ(0, ackwin_tx_init(&tx, 64, 1000, 1 * MS, 100 * MS, 10 * MS));
    }
    void TearDown() override
    {
        ackwin_tx_fini(&tx);
    }
    void send(unsigned n, uint64_t now)
    {
        for (unsigned i = 0; i < n; i++)
            ASSERT_NE(nullptr, ackwin_tx_push(&tx, now));
    }
    int ack(uint32_t cum, std::vector<uint8_t> sack, uint64_t now)
    {
        return ackwin_tx_on_ack(&tx, cum, sack.data(), sack.size(), now, Released::cb, &rel);
    }
    std::vector<uint32_t> drain_rtx(uint64_t now)
    {
        std::vector<uint32_t> out;
        while (ackwin_frame *f = ackwin_tx_next_rtx(&tx)) {
            out.push_back(f->seq);
            ackwin_tx_resent(&tx, f, now);
        }
        return out;
    }
};

TEST_F(AckwinTx, InitRejectsBadParams)
{
    ackwin_tx t2;
    EXPECT_EQ(-EINVAL, ackwin_tx_init(&t2, 63, 0, 1, 2, 1));
    EXPECT_EQ(-EINVAL, ackwin_tx_init(&t2, 64, 0, 0, 2, 1));
    EXPECT_EQ(-EINVAL, ackwin_tx_init(&t2, 64, 0, 5, 2, 1));
    ASSERT_EQ(0, ackwin_tx_init(&t2, 64, 0, 2 * MS, 3 * MS, 10 * MS));
    EXPECT_EQ(3 * MS, t2.rto_ns); // initial RTO clamped
    ackwin_tx_fini(&t2);
}

TEST_F(AckwinTx, WindowLimit)
{
    send(64, 0);
    EXPECT_FALSE(ackwin_tx_can_push(&tx));
    EXPECT_EQ(nullptr, ackwin_tx_push(&tx, 0));
    EXPECT_EQ(10, ack(1010, {}, 1 * MS));
    EXPECT_EQ(10u, rel.seqs.size());
    EXPECT_TRUE(ackwin_tx_can_push(&tx));
}

TEST_F(AckwinTx, CumulativeAndSelectiveReleaseOnce)
{
    send(10, 0);
    // peer has 1000, 1001, then 1003 and 1005: cum 1002, bits 0 (1003) and 2 (1005)
    EXPECT_EQ(4, ack(1002, {0x05}, 1 * MS));
    EXPECT_EQ((std::vector<uint32_t>{1000, 1001, 1003, 1005}), rel.seqs);
    EXPECT_EQ(1002u, tx.snd_una);
    EXPECT_EQ(6u, tx.inflight);
    // the same ACK again releases nothing
    EXPECT_EQ(0, ack(1002, {0x05}, 1 * MS));
    // an older ACK (reordered) still counts for its SACK bits: 1004 via cum 1001 bit 2
    EXPECT_EQ(1, ack(1001, {0x04}, 1 * MS));
    EXPECT_EQ(1004u, rel.seqs.back());
    EXPECT_EQ(1002u, tx.snd_una);
    // cumulative over SACKed frames does not release them twice
    EXPECT_EQ(1, ack(1006, {}, 2 * MS));
    EXPECT_EQ(1002u, rel.seqs.back());
    EXPECT_EQ(6u, rel.seqs.size());
    EXPECT_EQ(1006u, tx.snd_una);
}

TEST_F(AckwinTx, BadAcks)
{
    send(4, 0);
    EXPECT_EQ(-1, ack(1005, {}, 0));      // beyond snd_nxt
    EXPECT_EQ(-1, ack(1000, {0x08}, 0));  // SACK bit for 1004, never sent
    EXPECT_EQ(-1, ack(1000 - 65, {}, 0)); // older than any window could be
    EXPECT_EQ(0u, rel.seqs.size());
    EXPECT_EQ(1000u, tx.snd_una);
    EXPECT_EQ(4, ack(1004, {}, 0)); // exactly snd_nxt is fine
}

TEST_F(AckwinTx, WrapAround)
{
    ackwin_tx_fini(&tx);
    ASSERT_EQ(0, ackwin_tx_init(&tx, 64, 0xfffffff0u, 1 * MS, 100 * MS, 10 * MS));
    send(40, 0);
    EXPECT_EQ(0x00000018u, tx.snd_nxt);
    // cum 0xfffffffe, SACK 0x00000000 (bit 1) and 0x00000005 (bit 6)
    EXPECT_EQ(14 + 2, ack(0xfffffffeu, {0x42}, 1 * MS));
    EXPECT_EQ(0xfffffffeu, tx.snd_una);
    EXPECT_EQ(0u, rel.seqs[14]);
    EXPECT_EQ(5u, rel.seqs[15]);
    EXPECT_EQ(40 - 16, int(tx.inflight));
    EXPECT_EQ(40 - 16, ack(0x18, {}, 2 * MS));
    EXPECT_EQ(0u, tx.inflight);
    EXPECT_EQ(0u, tx.rto_deadline_ns); // nothing outstanding: timer off
}

TEST_F(AckwinTx, RttRfc6298)
{
    // first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR = 3R
    ackwin_tx_rtt_sample(&tx, 4 * MS);
    EXPECT_EQ(4 * MS, tx.srtt_ns);
    EXPECT_EQ(2 * MS, tx.rttvar_ns);
    EXPECT_EQ(12 * MS, tx.rto_ns);
    // second: RTTVAR = 3/4*2 + 1/4*|4-8| = 2.5 ms; SRTT = 7/8*4 + 1/8*8 = 4.5 ms
    ackwin_tx_rtt_sample(&tx, 8 * MS);
    EXPECT_EQ(2500 * US, tx.rttvar_ns);
    EXPECT_EQ(4500 * US, tx.srtt_ns);
    EXPECT_EQ(14500 * US, tx.rto_ns);
}

TEST_F(AckwinTx, RtoClamps)
{
    ackwin_tx_rtt_sample(&tx, 10 * US); // 30 us < min
    EXPECT_EQ(1 * MS, tx.rto_ns);
    ackwin_tx t2;
    ASSERT_EQ(0, ackwin_tx_init(&t2, 64, 0, 1 * MS, 100 * MS, 10 * MS));
    ackwin_tx_rtt_sample(&t2, 50 * MS); // 150 ms > max
    EXPECT_EQ(100 * MS, t2.rto_ns);
    ackwin_tx_fini(&t2);
}

TEST_F(AckwinTx, KarnSkipsRetransmittedFrames)
{
    send(1, 0);
    // timeout at 10 ms: retransmit, RTO doubles to 20 ms
    EXPECT_FALSE(ackwin_tx_timer_due(&tx, 10 * MS - 1));
    ASSERT_TRUE(ackwin_tx_timer_due(&tx, 10 * MS));
    ackwin_tx_on_timeout(&tx, 10 * MS);
    EXPECT_EQ(20 * MS, tx.rto_ns);
    EXPECT_EQ((std::vector<uint32_t>{1000}), drain_rtx(10 * MS));
    // the ACK for a frame sent twice gives no sample: RTO keeps its backoff
    EXPECT_EQ(1, ack(1001, {}, 11 * MS));
    EXPECT_FALSE(tx.have_rtt);
    EXPECT_EQ(20 * MS, tx.rto_ns);
    // a frame sent once gives a sample, which resets the backoff
    send(1, 20 * MS);
    EXPECT_EQ(1, ack(1002, {}, 22 * MS));
    EXPECT_TRUE(tx.have_rtt);
    EXPECT_EQ(2 * MS, tx.srtt_ns);
    EXPECT_EQ(6 * MS, tx.rto_ns);
}

TEST_F(AckwinTx, OneSampleFromNewestFrame)
{
    send(1, 0);
    send(1, 5 * MS);
    EXPECT_EQ(2, ack(1002, {}, 6 * MS));
    EXPECT_EQ(1u, tx.rtt_samples);
    EXPECT_EQ(1 * MS, tx.srtt_ns);
}

TEST_F(AckwinTx, BackoffDoublesUpToMax)
{
    send(1, 0);
    uint64_t now = 0;
    std::vector<uint64_t> rtos;
    for (int i = 0; i < 6; i++) {
        now = tx.rto_deadline_ns;
        ASSERT_TRUE(ackwin_tx_timer_due(&tx, now));
        ackwin_tx_on_timeout(&tx, now);
        drain_rtx(now);
        rtos.push_back(tx.rto_ns);
    }
    EXPECT_EQ((std::vector<uint64_t>{20 * MS, 40 * MS, 80 * MS, 100 * MS, 100 * MS, 100 * MS}),
              rtos);
    EXPECT_EQ(6u, tx.timeouts);
    EXPECT_EQ(7, tx.ring[1000 & tx.mask].tx_count);
}

TEST_F(AckwinTx, TimeoutQueuesOnlyExpiredFramesButAlwaysTheOldest)
{
    send(2, 0);
    send(2, 8 * MS);
    ackwin_tx_on_timeout(&tx, 10 * MS); // RTO 10 ms: frames sent at 0 are due, at 8 ms not
    EXPECT_EQ((std::vector<uint32_t>{1000, 1001}), drain_rtx(10 * MS));
    // the oldest was resent just now; a timeout queues it anyway
    ackwin_tx_on_timeout(&tx, 11 * MS);
    EXPECT_EQ((std::vector<uint32_t>{1000}), drain_rtx(11 * MS));
}

TEST_F(AckwinTx, TimerRestartsOnProgressAndStopsWhenIdle)
{
    send(3, 0);
    EXPECT_EQ(10 * MS, tx.rto_deadline_ns);
    ack(1001, {}, 4 * MS); // progress: restart
    EXPECT_EQ(4 * MS + tx.rto_ns, tx.rto_deadline_ns);
    ack(1003, {}, 5 * MS);
    EXPECT_EQ(0u, tx.rto_deadline_ns);
    ackwin_tx_on_timeout(&tx, 6 * MS); // spurious: nothing to do
    EXPECT_EQ(0u, tx.timeouts);
}

TEST_F(AckwinTx, FastRetransmitAfterThreeLaterSacks)
{
    send(8, 0);
    // 1000 lost; 1001, 1002 SACKed: only two later frames, no fast retransmit
    ack(1000, {0x03}, 1 * MS);
    EXPECT_EQ(0u, tx.fast_rtx);
    EXPECT_TRUE(drain_rtx(1 * MS).empty());
    // third later frame: 1000 goes again
    ack(1000, {0x07}, 1 * MS);
    EXPECT_EQ(1u, tx.fast_rtx);
    EXPECT_EQ((std::vector<uint32_t>{1000}), drain_rtx(1 * MS));
    // more SACKs within one RTO: not again
    ack(1000, {0x0f}, 2 * MS);
    ack(1000, {0x1f}, 3 * MS);
    EXPECT_EQ(1u, tx.fast_rtx);
    EXPECT_TRUE(drain_rtx(3 * MS).empty());
    // an RTO (at most max_rto) after its retransmission, later SACKs send it once more
    ack(1000, {0x3f}, 101 * MS);
    EXPECT_EQ(2u, tx.fast_rtx);
    EXPECT_EQ((std::vector<uint32_t>{1000}), drain_rtx(101 * MS));
}

TEST_F(AckwinTx, FastRetransmitMarksEveryHoleBelowThreshold)
{
    send(10, 0);
    // holes at 1000, 1002, 1004; SACKed 1001, 1003, 1005, 1006, 1007
    // bit i = 1001 + i: 1001->0, 1003->2, 1005->4, 1006->5, 1007->6
    ack(1000, {0x75}, 1 * MS);
    // 1004 has 3 SACKed above (1005..1007); 1002 has 4; 1000 has 5
    EXPECT_EQ((std::vector<uint32_t>{1004, 1002, 1000}), drain_rtx(1 * MS));
    EXPECT_EQ(3u, tx.fast_rtx);
}

TEST_F(AckwinTx, StaleQueueEntriesSkipped)
{
    send(5, 0);
    ackwin_tx_on_timeout(&tx, 20 * MS); // queues all five
    EXPECT_EQ(5u, ackwin_tx_rtx_pending(&tx));
    ack(1003, {}, 21 * MS); // three of them arrive meanwhile
    EXPECT_EQ((std::vector<uint32_t>{1003, 1004}), drain_rtx(21 * MS));
}

TEST_F(AckwinTx, QueueCompactsInsteadOfOverflowing)
{
    // Queue, release and reuse slots many times: the 2W queue must never overflow.
    uint64_t now = 0;
    for (int round = 0; round < 50; round++) {
        send(64, now);
        now += 200 * MS;                // beyond any RTO
        ackwin_tx_on_timeout(&tx, now); // queues 64
        ack(tx.snd_nxt, {}, now);       // all acknowledged: 64 stale entries
    }
    EXPECT_LE(ackwin_tx_rtx_pending(&tx), 2u * 64);
    EXPECT_TRUE(drain_rtx(now).empty());
}

TEST_F(AckwinTx, ReleaseAll)
{
    send(6, 0);
    ack(1001, {0x02}, 0); // 1000 and 1002
    ackwin_tx_release_all(&tx, Released::cb, &rel);
    std::multiset<uint32_t> got(rel.seqs.begin(), rel.seqs.end());
    EXPECT_EQ(6u, got.size());
    EXPECT_EQ(6u, std::set<uint32_t>(rel.seqs.begin(), rel.seqs.end()).size());
    EXPECT_EQ(0u, tx.inflight);
    EXPECT_EQ(0u, ackwin_tx_outstanding(&tx));
}

} // namespace

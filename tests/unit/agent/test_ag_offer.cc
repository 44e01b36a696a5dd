// Tests for agent/ag_offer.c: the trailers it issues parse back (dptrailer_parse) with the
// endpoint's fields, the VM's key and the pending entry's token and ids; the table's bounds
// (limit, slot reuse with a new id), take once, expiry, a closed link's offers, bad input.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "agent/ag_offer.h"

namespace
{

struct OfferTest : ::testing::Test {
    ag_offers t{};
    ag_endpoint ep{};
    uint8_t pub[DPTRAILER_X25519_LEN];
    uint8_t rnd[AG_OFFER_RANDOM_LEN];
    uint8_t out[DPTRAILER_MAX_LEN];
    size_t len = 0;
    dptrailer_result why = DPTRAILER_OK;

    void SetUp() override
    {
        ASSERT_EQ(0, ag_offers_init(&t, 4));
        ep.endpoint_id = 0x1122334455667788ull;
        const uint8_t mac[6] = {0x02, 0xdd, 0, 0, 1, 1};
        memcpy(ep.mac, mac, 6);
        ep.ipv4 = 0x0a580101;
        ep.udp_port = 4370;
        ep.mtu = 1500;
        ep.hb_missed = 10;
        ep.window_frames = 1024;
        ep.conn_rx_window = 8u << 20;
        ep.hb_interval_ns = 1000000;
        for (unsigned i = 0; i < sizeof(pub); i++)
            pub[i] = (uint8_t)(i + 1);
        Reseed(1);
    }
    void TearDown() override { ag_offers_fini(&t); }
    void Reseed(uint8_t k)
    {
        for (unsigned i = 0; i < sizeof(rnd); i++)
            rnd[i] = (uint8_t)(k * 31 + i);
    }
    ag_reason Issue(uint32_t vm, const uint8_t *peer = nullptr, size_t peer_len = 0,
                    uint64_t now = 1000)
    {
        return ag_offers_issue(&t, &ep, vm, pub, peer, peer_len, rnd, now, 500, out, sizeof(out),
                               &len, &why);
    }
};

TEST_F(OfferTest, OfferParsesBackWithTheEndpointAndTheKey)
{
    ASSERT_EQ(AG_REASON_OK, Issue(7));
    dptrailer tr;
    ASSERT_EQ(DPTRAILER_OK, dptrailer_parse(out, len, DPTRAILER_OFFER, &tr));
    EXPECT_EQ(ep.endpoint_id, tr.endpoint_id);
    EXPECT_EQ(0, memcmp(ep.mac, tr.mac, 6));
    EXPECT_EQ(ep.ipv4, tr.ipv4);
    EXPECT_EQ(ep.udp_port, tr.udp_port);
    EXPECT_EQ(ep.mtu, tr.mtu);
    EXPECT_EQ(ep.window_frames, tr.window_frames);
    EXPECT_EQ(ep.hb_interval_ns, tr.hb_interval_ns);
    EXPECT_EQ(0, memcmp(pub, tr.x25519_pub, sizeof(pub)));
    EXPECT_EQ(0, memcmp(rnd + 8, tr.token, DPTRAILER_TOKEN_LEN));
    EXPECT_EQ(1u, ag_offers_pending(&t));
    ag_pending p;
    ASSERT_TRUE(ag_offers_take(&t, 7, tr.token, &p));
    EXPECT_EQ(tr.conn_rx_id, p.conn_rx_id);
    EXPECT_EQ(tr.rx_session, p.rx_session);
    EXPECT_EQ(DPTRAILER_OFFER, p.kind);
    EXPECT_FALSE(ag_offers_take(&t, 7, tr.token, &p)) << "an offer binds once";
    EXPECT_EQ(0u, ag_offers_pending(&t));
}

TEST_F(OfferTest, AnswerNeedsAValidPeerOffer)
{
    ASSERT_EQ(AG_REASON_OK, Issue(1));
    std::vector<uint8_t> peer(out, out + len);
    Reseed(2);
    ASSERT_EQ(AG_REASON_OK, Issue(2, peer.data(), peer.size()));
    dptrailer tr;
    EXPECT_EQ(DPTRAILER_OK, dptrailer_parse(out, len, DPTRAILER_ANSWER, &tr));
    peer[0] ^= 1;
    EXPECT_EQ(AG_REASON_BAD_TRAILER, Issue(2, peer.data(), peer.size()));
    EXPECT_EQ(DPTRAILER_E_MAGIC, why);
    std::vector<uint8_t> answer(out, out + len); // an answer is no offer
    EXPECT_EQ(AG_REASON_BAD_TRAILER, Issue(2, answer.data(), answer.size()));
    EXPECT_EQ(2u, ag_offers_pending(&t)) << "refusals keep nothing";
}

TEST_F(OfferTest, ZeroKeyIsRefused)
{
    memset(pub, 0, sizeof(pub));
    EXPECT_EQ(AG_REASON_BAD_MESSAGE, Issue(1));
    EXPECT_EQ(0u, ag_offers_pending(&t));
}

TEST_F(OfferTest, FullTableSaysLimitAndAReusedSlotHasANewId)
{
    std::vector<uint32_t> ids;
    for (int i = 0; i < 4; i++) {
        Reseed((uint8_t)(10 + i));
        ASSERT_EQ(AG_REASON_OK, Issue(1));
        dptrailer tr;
        ASSERT_EQ(DPTRAILER_OK, dptrailer_parse(out, len, DPTRAILER_OFFER, &tr));
        ids.push_back(tr.conn_rx_id);
    }
    EXPECT_EQ(AG_REASON_LIMIT, Issue(1));
    ag_pending p;
    Reseed(13); // the last one's token
    ASSERT_TRUE(ag_offers_take(&t, 1, rnd + 8, &p));
    Reseed(20);
    ASSERT_EQ(AG_REASON_OK, Issue(1));
    dptrailer tr;
    ASSERT_EQ(DPTRAILER_OK, dptrailer_parse(out, len, DPTRAILER_OFFER, &tr));
    EXPECT_EQ(p.conn_rx_id & ((1u << AG_OFFER_SLOT_BITS) - 1),
              tr.conn_rx_id & ((1u << AG_OFFER_SLOT_BITS) - 1))
        << "the freed slot is reused";
    for (uint32_t id : ids)
        EXPECT_NE(id, tr.conn_rx_id) << "with another id";
}

TEST_F(OfferTest, ExpiryAndAClosedLinkFreeTheirOffers)
{
    ASSERT_EQ(AG_REASON_OK, Issue(1, nullptr, 0, 1000));
    Reseed(3);
    ASSERT_EQ(AG_REASON_OK, Issue(2, nullptr, 0, 1200));
    Reseed(4);
    ASSERT_EQ(AG_REASON_OK, Issue(2, nullptr, 0, 1200));
    EXPECT_EQ(0u, ag_offers_expire(&t, 1499));
    EXPECT_EQ(1u, ag_offers_expire(&t, 1500)); // vm 1's, issued at 1000 with ttl 500
    EXPECT_EQ(2u, ag_offers_drop_vm(&t, 2));
    EXPECT_EQ(0u, ag_offers_pending(&t));
    ag_pending p;
    EXPECT_FALSE(ag_offers_take(&t, 2, rnd + 8, &p));
}

TEST_F(OfferTest, TakeMatchesTheVmToo)
{
    ASSERT_EQ(AG_REASON_OK, Issue(1));
    ag_pending p;
    EXPECT_FALSE(ag_offers_take(&t, 2, rnd + 8, &p)) << "another VM's token";
    EXPECT_TRUE(ag_offers_take(&t, 1, rnd + 8, &p));
}

TEST(OfferInit, Bounds)
{
    ag_offers t;
    EXPECT_EQ(-EINVAL, ag_offers_init(&t, 0));
    EXPECT_EQ(-EINVAL, ag_offers_init(&t, 1u << AG_OFFER_SLOT_BITS));
    EXPECT_EQ(0, ag_offers_init(&t, (1u << AG_OFFER_SLOT_BITS) - 1));
    ag_offers_fini(&t);
}

} // namespace

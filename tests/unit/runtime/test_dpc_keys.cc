// The keys of an upgraded connection's channel (runtime/carrier_dpdk/dpc_keys.c,
// docs/security.md §4.5): both ends of a handshake derive mirrored keys and matching key
// confirmations from the cookie, the transcript and both offers; an offer altered on the way,
// another cookie or another handshake gives other keys and a confirmation that does not
// match (the upgrade then closes the connection); mode none derives nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" {
#include "runtime/carrier_dpdk/dpc_keys.h"
}

namespace
{

struct End {
    dp_chan_auth auth{};
    uint8_t confirm_tx[DPCTL_CONFIRM_LEN]{}, confirm_rx[DPCTL_CONFIRM_LEN]{};
};

dpctl_offer offer(uint64_t session, uint8_t auth)
{
    dpctl_offer o{};
    o.session = session;
    const uint8_t mac[6] = {0x02, 0, 0, 0, 0, uint8_t(session)};
    memcpy(o.mac, mac, 6);
    o.ip = 0x0a000000u + uint32_t(session & 0xff);
    o.port = 4370;
    o.mtu = 1500;
    o.window = 4096;
    o.hb_ns = 100000000;
    o.hb_missed = 10;
    o.auth = auth;
    return o;
}

// One end's derivation from a handshake with this cookie and transcript.
End derive(const std::string &cookie, const std::string &transcript, bool initiator,
           const dpctl_offer &req, const dpctl_offer &ack, uint8_t mode = 1)
{
    ks_conn hs{};
    EXPECT_EQ(ks_conn_init(&hs, reinterpret_cast<const uint8_t *>(cookie.data()), cookie.size(),
                           reinterpret_cast<const uint8_t *>(transcript.data()),
                           transcript.size()),
              KS_OK);
    End e;
    EXPECT_EQ(dpc_keys_from(&hs, initiator, &req, &ack, mode, &e.auth, e.confirm_tx,
                            e.confirm_rx),
              KS_OK);
    ks_conn_wipe(&hs);
    return e;
}

const std::string COOKIE = "DPDISTTESTCOOKIE";
const std::string TRANSCRIPT = std::string("\x00\x03sok\x00\x05N....", 12);

bool same(const uint8_t *a, const uint8_t *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

TEST(DpcKeys, BothEndsDeriveMirroredKeysAndMatchingConfirmations)
{
    dpctl_offer req = offer(1, 1), ack = offer(2, 1);
    End i = derive(COOKIE, TRANSCRIPT, true, req, ack);
    End a = derive(COOKIE, TRANSCRIPT, false, req, ack);
    EXPECT_EQ(i.auth.mode, 1);
    EXPECT_TRUE(same(i.auth.tx_key, a.auth.rx_key, 32));
    EXPECT_TRUE(same(i.auth.tx_iv, a.auth.rx_iv, 12));
    EXPECT_TRUE(same(i.auth.rx_key, a.auth.tx_key, 32));
    EXPECT_TRUE(same(i.auth.rx_iv, a.auth.tx_iv, 12));
    EXPECT_FALSE(same(i.auth.tx_key, i.auth.rx_key, 32)) << "one key for both directions";
    EXPECT_FALSE(same(i.auth.tx_iv, i.auth.rx_iv, 12));
    EXPECT_TRUE(same(i.confirm_tx, a.confirm_rx, DPCTL_CONFIRM_LEN));
    EXPECT_TRUE(same(a.confirm_tx, i.confirm_rx, DPCTL_CONFIRM_LEN));
    EXPECT_FALSE(same(i.confirm_tx, a.confirm_tx, DPCTL_CONFIRM_LEN));
}

TEST(DpcKeys, AnAlteredOfferGivesOtherKeysAndAFailedConfirmation)
{
    dpctl_offer req = offer(1, 1), ack = offer(2, 1);
    End i = derive(COOKIE, TRANSCRIPT, true, req, ack);
    // Each field of the offers the acceptor saw, altered on the way (one at a time).
    for (int field = 0; field < 9; field++) {
        dpctl_offer r = req;
        switch (field) {
        case 0: r.session ^= 1; break;
        case 1: r.mac[5] ^= 1; break;
        case 2: r.ip ^= 1; break;
        case 3: r.port ^= 1; break;
        case 4: r.mtu ^= 1; break;
        case 5: r.window ^= 1; break;
        case 6: r.hb_ns ^= 1; break;
        case 7: r.hb_missed ^= 1; break;
        case 8: r.auth = 0; break; // a downgrade attempt
        }
        End a = derive(COOKIE, TRANSCRIPT, false, r, ack);
        EXPECT_FALSE(same(i.confirm_tx, a.confirm_rx, DPCTL_CONFIRM_LEN)) << "field " << field;
        EXPECT_FALSE(same(i.auth.tx_key, a.auth.rx_key, 32)) << "field " << field;
    }
    dpctl_offer k = ack;
    k.session ^= 1; // the ACK altered
    End a = derive(COOKIE, TRANSCRIPT, false, req, k);
    EXPECT_FALSE(same(i.confirm_tx, a.confirm_rx, DPCTL_CONFIRM_LEN));
}

TEST(DpcKeys, AnotherCookieOrHandshakeGivesOtherKeys)
{
    dpctl_offer req = offer(1, 1), ack = offer(2, 1);
    End i = derive(COOKIE, TRANSCRIPT, true, req, ack);
    End c = derive("ANOTHERCOOKIE", TRANSCRIPT, false, req, ack);
    EXPECT_FALSE(same(i.auth.tx_key, c.auth.rx_key, 32));
    std::string other = TRANSCRIPT;
    other[5] ^= 1; // another challenge
    End t = derive(COOKIE, other, false, req, ack);
    EXPECT_FALSE(same(i.auth.tx_key, t.auth.rx_key, 32));
    EXPECT_FALSE(same(i.confirm_tx, t.confirm_rx, DPCTL_CONFIRM_LEN));
}

TEST(DpcKeys, ModeNoneDerivesNothing)
{
    End n = derive(COOKIE, TRANSCRIPT, true, offer(1, 0), offer(2, 0), 0);
    dp_chan_auth zero{};
    EXPECT_EQ(memcmp(&n.auth, &zero, sizeof(zero)), 0);
    End g = derive(COOKIE, TRANSCRIPT, true, offer(1, 0), offer(2, 2), 2);
    EXPECT_EQ(g.auth.mode, 2);
}

} // namespace

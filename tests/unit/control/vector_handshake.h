// The handshake of dpdist's published key-schedule vectors (docs/security.md, "Test
// vectors"), for the tests that need it: its inputs, one end as a real hs_ state machine with
// the vector's parameters, and the expected transcript (msg1..msg5). C++ tests only.
#ifndef DPDIST_TESTS_UNIT_CONTROL_VECTOR_HANDSHAKE_H
#define DPDIST_TESTS_UNIT_CONTROL_VECTOR_HANDSHAKE_H

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/lib/hex.h"

extern "C" {
#include "control/handshake.h"
#include "control/keysched.h"
}

namespace vectorhs
{

using Bytes = std::vector<uint8_t>;

// RFC 7748 §6.1: Alice's and Bob's key pairs and their shared secret.
constexpr const char *kAlicePriv =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr const char *kAlicePub =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
constexpr const char *kBobPriv = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
constexpr const char *kBobPub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
constexpr const char *kShared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

// A key pair that frees itself (its private key lives in an OpenSSL EVP_PKEY).
struct KeyPair {
    ks_x25519 k{};
    ~KeyPair()
    {
        ks_x25519_wipe(&k);
    }
};

constexpr const char *kCookie = "DPDISTTESTCOOKIE";
constexpr uint64_t kFlagsOtp25 = 0xd07df7fbdull;

// One end of the vector's handshake: the hs_ machine with the vector's parameters and a
// stand-in v2 trailer carrying its X25519 public key.
struct End {
    hs h;
    hs_config cfg{};
    hs_callbacks cb{};
    uint32_t challenge;
    Bytes trailer;
    Bytes rx;
    hs_step step = HS_CONTINUE;

    End(hs_role role, const ks_x25519 &kp)
    {
        bool ini = role == HS_INITIATOR;
        challenge = ini ? 0x0a0b0c0d : 0x01020304;
        const char magic[] = "DPDIST";
        trailer.assign(magic, magic + 6);
        trailer.push_back(2);
        trailer.push_back(ini ? 1 : 2);
        trailer.insert(trailer.end(), kp.pub, kp.pub + 32);
        cb.cookie = [](void *, const char *) { return kCookie; };
        cb.challenge = [](void *arg, uint32_t *out) {
            *out = static_cast<End *>(arg)->challenge;
            return 0;
        };
        cb.admit = [](void *, const char *, uint64_t) { return HS_STATUS_OK; };
        cb.alive_answer = [](void *, const char *) { return true; };
        cfg.role = role;
        cfg.my_name = ini ? "a@vm" : "b@vm";
        cfg.expected_peer = ini ? "b@vm" : nullptr;
        cfg.my_creation = ini ? 0x11111111 : 0x22222222;
        cfg.my_flags = kFlagsOtp25;
        cfg.trailer = trailer.data();
        cfg.trailer_len = trailer.size();
        cfg.cb = &cb;
        cfg.cb_arg = this;
        EXPECT_EQ(hs_init(&h, &cfg), HS_OK);
    }
    Bytes output()
    {
        const uint8_t *p;
        size_t n = hs_output(&h, &p);
        Bytes out(p, p + n);
        hs_output_consumed(&h, n);
        return out;
    }
    void input(const Bytes &b)
    {
        rx.insert(rx.end(), b.begin(), b.end());
        size_t used = 0;
        step = hs_feed(&h, rx.data(), rx.size(), &used);
        rx.erase(rx.begin(), rx.begin() + used);
    }
    Bytes transcript() const
    {
        const uint8_t *p;
        size_t n = hs_transcript(&h, &p);
        return Bytes(p, p + n);
    }
};

// The vector's X25519 key pairs: RFC 7748's Alice (initiator) and Bob (acceptor).
struct VectorKeys {
    KeyPair i, a;
    VectorKeys()
    {
        EXPECT_EQ(ks_x25519_from_private(&i.k, testhex::bytes(kAlicePriv).data()), KS_OK);
        EXPECT_EQ(ks_x25519_from_private(&a.k, testhex::bytes(kBobPriv).data()), KS_OK);
    }
};

// The vector's transcript, message by message, as framed on the wire (ks_vectors.py).
constexpr const char *kVectorMsgs[] = {
    "003b4e0000000d07df7fbd1111111100046140766d44504449535402018520f0098930a754748b7dd"
    "cb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    "0003736f6b",
    "003f4e0000000d07df7fbd010203042222222200046240766d4450444953540202de9edb7d7b7dc1b"
    "4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    "0015720a0b0c0dff1ebdec4da0c33f2a747416d1bf8ce7",
    "001161aaf7ffbf88446c888baea82552ba96f2",
};

inline Bytes vector_transcript()
{
    Bytes t;
    for (const char *m : kVectorMsgs) {
        Bytes b = testhex::bytes(m);
        t.insert(t.end(), b.begin(), b.end());
    }
    return t;
}

} // namespace vectorhs

#endif

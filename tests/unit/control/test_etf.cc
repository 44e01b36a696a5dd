// Tests for control/etf.c: the bounded term walker agrees with libei on real terms made by
// OTP 25's term_to_binary, refuses every truncation, and refuses what dist bodies never hold.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <ei.h>

#include "control/etf.h"

namespace
{

using Bytes = std::vector<uint8_t>;

Bytes unhex(const std::string &h)
{
    Bytes b;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        b.push_back((uint8_t)std::stoi(h.substr(i, 2), nullptr, 16));
    return b;
}

// term_to_binary(T, [{minor_version, 2}]) on OTP 25 for: atom, 'ätom', 42, -1, 1 bsl 40,
// -(1 bsl 200), 1 bsl 2100, 3.14, "string", [1, 2 | improper], [], {}, {a, b, c}, a 300-tuple,
// #{a => 1, "k" => [x]}, <<1,2,3>>, <<1:3>>, a pid, a port, a ref, fun lists:map/2, a fun
// with a free variable, {Fun, [Fun]}, [Pid, Ref, Alias].
const char *const kOtpTerms[] = {
    "83770461746f6d",
    "837705c3a4746f6d",
    "83612a",
    "8362ffffffff",
    "836e0600000000000001",
    "836e1a010000000000000000000000000000000000000000000000000001",
    "836f000001070000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000010",
    "834640091eb851eb851f",
    "836b0006737472696e67",
    "836c00000002610161027708696d70726f706572",
    "836a",
    "836800",
    "836803770161770162770163",
    "83690000012c610161026103610461056106610761086109610a610b610c610d610e610f6110611161126113"
    "611461156116611761186119611a611b611c611d611e611f6120612161226123612461256126612761286129"
    "612a612b612c612d612e612f6130613161326133613461356136613761386139613a613b613c613d613e613f"
    "6140614161426143614461456146614761486149614a614b614c614d614e614f615061516152615361546155"
    "6156615761586159615a615b615c615d615e615f6160616161626163616461656166616761686169616a616b"
    "616c616d616e616f6170617161726173617461756176617761786179617a617b617c617d617e617f61806181"
    "61826183618461856186618761886189618a618b618c618d618e618f61906191619261936194619561966197"
    "61986199619a619b619c619d619e619f61a061a161a261a361a461a561a661a761a861a961aa61ab61ac61ad"
    "61ae61af61b061b161b261b361b461b561b661b761b861b961ba61bb61bc61bd61be61bf61c061c161c261c3"
    "61c461c561c661c761c861c961ca61cb61cc61cd61ce61cf61d061d161d261d361d461d561d661d761d861d9"
    "61da61db61dc61dd61de61df61e061e161e261e361e461e561e661e761e861e961ea61eb61ec61ed61ee61ef"
    "61f061f161f261f361f461f561f661f761f861f961fa61fb61fc61fd61fe61ff620000010062000001016200"
    "0001026200000103620000010462000001056200000106620000010762000001086200000109620000010a62"
    "0000010b620000010c620000010d620000010e620000010f6200000110620000011162000001126200000113"
    "620000011462000001156200000116620000011762000001186200000119620000011a620000011b62000001"
    "1c620000011d620000011e620000011f62000001206200000121620000012262000001236200000124620000"
    "01256200000126620000012762000001286200000129620000012a620000012b620000012c",
    "83740000000277016161016b00016b6c000000017701786a",
    "836d00000003010203",
    "834d000000010320",
    "835877076464746740766d00000009000000006b0a318f",
    "835977076464746740766d000000006b0a318f",
    "835a000377076464746740766d6b0a318f0001c46de3dc0002acab29f8",
    "837177056c6973747377036d61706102",
    "8370000000450172e1a7267fa9f2b5a2ee92323a5672b20000000000000000770964647465726d67656e6100"
    "6203970d395877076464746740766d00000009000000006b0a318f",
    "83680270000000450172e1a7267fa9f2b5a2ee92323a5672b20000000000000000770964647465726d67656e"
    "61006203970d395877076464746740766d00000009000000006b0a318f6c0000000170000000450172e1a726"
    "7fa9f2b5a2ee92323a5672b20000000000000000770964647465726d67656e61006203970d39587707646474"
    "6740766d00000009000000006b0a318f6a",
    "836c000000035877076464746740766d00000009000000006b0a318f5a000377076464746740766d6b0a318f"
    "0001c46ee3dc0002acab29f85a000377076464746740766d6b0a318f0001c46fe3dd0002acab29f86a",
};

TEST(Etf, AgreesWithEiOnRealTerms)
{
    for (const char *hex : kOtpTerms) {
        Bytes t = unhex(hex);
        ASSERT_EQ(t[0], ETF_VERSION);
        size_t end = 0;
        ASSERT_EQ(etf_skip(t.data(), t.size(), 1, &end), ETF_OK) << hex;
        EXPECT_EQ(end, t.size()) << hex;
        int idx = 1;
        ASSERT_EQ(ei_skip_term((const char *)t.data(), &idx), 0);
        EXPECT_EQ((size_t)idx, end);
    }
}

TEST(Etf, EveryTruncationRefused)
{
    for (const char *hex : kOtpTerms) {
        Bytes t = unhex(hex);
        for (size_t cut = 1; cut < t.size(); cut++) {
            Bytes p(t.begin(), t.begin() + cut); // exact-size buffer: ASan sees overreads
            size_t end;
            EXPECT_NE(etf_skip(p.data(), p.size(), 1, &end), ETF_OK) << hex << " cut " << cut;
        }
    }
}

TEST(Etf, OffsetPastEndIsTruncated)
{
    Bytes t = {97, 1};
    size_t end;
    EXPECT_EQ(etf_skip(t.data(), t.size(), 2, &end), ETF_E_TRUNCATED);
    EXPECT_EQ(etf_skip(t.data(), t.size(), 5, &end), ETF_E_TRUNCATED);
    EXPECT_EQ(etf_skip(t.data(), 0, 0, &end), ETF_E_TRUNCATED);
}

TEST(Etf, RefusesWhatDistBodiesNeverHold)
{
    size_t end;
    Bytes cache_ref = {82, 3};
    EXPECT_EQ(etf_skip(cache_ref.data(), cache_ref.size(), 0, &end), ETF_E_TAG);
    Bytes local_ext = {121, 0, 0};
    EXPECT_EQ(etf_skip(local_ext.data(), local_ext.size(), 0, &end), ETF_E_TAG);
    Bytes compressed = {80, 0, 0, 0, 1, 0};
    EXPECT_EQ(etf_skip(compressed.data(), compressed.size(), 0, &end), ETF_E_TAG);
    Bytes version_inside = {131, 97, 1};
    EXPECT_EQ(etf_skip(version_inside.data(), version_inside.size(), 0, &end), ETF_E_TAG);
}

TEST(Etf, NodeMustBeAnAtom)
{
    // NEW_PID_EXT whose node is a small integer.
    Bytes pid = {88, 97, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    size_t end;
    EXPECT_EQ(etf_skip(pid.data(), pid.size(), 0, &end), ETF_E_NODE);
    Bytes ok = {88, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_EQ(etf_skip(ok.data(), ok.size(), 0, &end), ETF_OK);
    EXPECT_EQ(end, ok.size());
}

TEST(Etf, ReferenceWordLimits)
{
    size_t end;
    for (unsigned words = 0; words <= 6; words++) {
        Bytes r = {90, 0, (uint8_t)words, 119, 1, 'n', 0, 0, 0, 1};
        r.resize(r.size() + 4 * words, 0);
        enum etf_result want = (words >= 1 && words <= ETF_REF_WORDS_MAX) ? ETF_OK : ETF_E_REF_LEN;
        EXPECT_EQ(etf_skip(r.data(), r.size(), 0, &end), want) << words;
    }
}

TEST(Etf, DeepNestingWithoutRecursion)
{
    // 200000 nested one-element lists: [[[...[]...]]]; ei_skip_term would recurse this deep.
    const size_t depth = 200000;
    Bytes t;
    for (size_t i = 0; i < depth; i++) {
        const uint8_t hdr[] = {108, 0, 0, 0, 1};
        t.insert(t.end(), hdr, hdr + 5);
    }
    t.push_back(106);
    for (size_t i = 0; i < depth; i++)
        t.push_back(106); // the tails
    size_t end;
    ASSERT_EQ(etf_skip(t.data(), t.size(), 0, &end), ETF_OK);
    EXPECT_EQ(end, t.size());
}

// A term nested `depth` levels: each level is `open`, then the next level, then `close`;
// `core` at the bottom. Built in one buffer: a 10^7-deep term is 20..90 MB.
Bytes nest(size_t depth, const Bytes &open, const Bytes &core, const Bytes &close)
{
    Bytes t;
    t.reserve(depth * (open.size() + close.size()) + core.size());
    for (size_t i = 0; i < depth; i++)
        t.insert(t.end(), open.begin(), open.end());
    t.insert(t.end(), core.begin(), core.end());
    for (size_t i = 0; i < depth; i++)
        t.insert(t.end(), close.begin(), close.end());
    return t;
}

// Every container shape a peer can nest, 10^7 levels deep (what node_deep_terms.sh sends from
// BEAM): the walk is iterative, so depth costs time and no stack; a cut or a bad leaf at the
// bottom is found there, not by a crash.
TEST(Etf, TenMillionLevelsOfEveryContainer)
{
    const size_t depth = 10000000;
    struct Shape {
        const char *name;
        Bytes open, close;
    } shapes[] = {
        {"[X]", {108, 0, 0, 0, 1}, {106}},
        {"[a | X]", {108, 0, 0, 0, 1, 97, 1}, {}},
        {"{X}", {104, 1}, {}},
        {"{X} as LARGE_TUPLE_EXT", {105, 0, 0, 0, 1}, {}},
        {"#{k => X}", {116, 0, 0, 0, 1, 119, 1, 'k'}, {}},
        {"#{X => v}", {116, 0, 0, 0, 1}, {119, 1, 'v'}},
        {"{fun m:f/X}", {113, 119, 1, 'm', 119, 1, 'f'}, {}},
    };
    for (const Shape &sh : shapes) {
        Bytes t = nest(depth, sh.open, {106}, sh.close);
        size_t end = 0;
        ASSERT_EQ(etf_skip(t.data(), t.size(), 0, &end), ETF_OK) << sh.name;
        EXPECT_EQ(end, t.size()) << sh.name;
        EXPECT_EQ(etf_skip(t.data(), t.size() - 1, 0, &end), ETF_E_TRUNCATED) << sh.name;
        Bytes bad = nest(depth, sh.open, {82, 0}, sh.close); // an atom cache ref at the bottom
        EXPECT_EQ(etf_skip(bad.data(), bad.size(), 0, &end), ETF_E_TAG) << sh.name;
    }
}

TEST(Etf, HugeCountsFailFast)
{
    // A list claiming 4 billion elements in 6 bytes.
    Bytes t = {108, 0xff, 0xff, 0xff, 0xff, 106};
    size_t end;
    EXPECT_EQ(etf_skip(t.data(), t.size(), 0, &end), ETF_E_TRUNCATED);
    Bytes m = {116, 0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(etf_skip(m.data(), m.size(), 0, &end), ETF_E_TRUNCATED);
    Bytes b = {109, 0xff, 0xff, 0xff, 0xff, 1};
    EXPECT_EQ(etf_skip(b.data(), b.size(), 0, &end), ETF_E_TRUNCATED);
}

void put(Bytes &b, std::initializer_list<int> v)
{
    for (int x : v)
        b.push_back((uint8_t)x);
}

void put32(Bytes &b, uint32_t v)
{
    put(b, {int(v >> 24), int((v >> 16) & 0xff), int((v >> 8) & 0xff), int(v & 0xff)});
}

// NEW_FUN_EXT built by hand around num_free free variables (already encoded in free_vars);
// size_adjust makes its Size field lie.
Bytes new_fun(uint32_t num_free, const Bytes &free_vars, int size_adjust = 0)
{
    Bytes body;     // everything after Size
    put(body, {1}); // Arity
    for (int i = 0; i < 16; i++)
        put(body, {0xab});                                            // Uniq
    put32(body, 0);                                                   // Index
    put32(body, num_free);                                            // NumFree
    put(body, {119, 1, 'm'});                                         // Module
    put(body, {97, 0, 97, 0});                                        // OldIndex, OldUniq
    put(body, {88, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}); // Pid
    for (uint8_t c : free_vars)
        body.push_back(c);
    Bytes t;
    put(t, {112});
    put32(t, (uint32_t)(4 + body.size() + size_adjust));
    for (uint8_t c : body)
        t.push_back(c);
    return t;
}

TEST(Etf, FunSizeMustMatch)
{
    size_t end;
    Bytes ok = new_fun(2, {97, 1, 106});
    ASSERT_EQ(etf_skip(ok.data(), ok.size(), 0, &end), ETF_OK);
    EXPECT_EQ(end, ok.size());
    Bytes small = new_fun(2, {97, 1, 106}, -1);
    EXPECT_EQ(etf_skip(small.data(), small.size(), 0, &end), ETF_E_FUN);
    Bytes large = new_fun(2, {97, 1, 106}, +1);
    large.push_back(106);
    EXPECT_EQ(etf_skip(large.data(), large.size(), 0, &end), ETF_E_FUN);
    Bytes missing_var = new_fun(3, {97, 1, 106});
    EXPECT_EQ(etf_skip(missing_var.data(), missing_var.size(), 0, &end), ETF_E_FUN);
}

TEST(Etf, FunNestingLimit)
{
    Bytes t = {106};
    for (int d = 1; d <= ETF_FUN_DEPTH_MAX; d++)
        t = new_fun(1, t);
    size_t end;
    ASSERT_EQ(etf_skip(t.data(), t.size(), 0, &end), ETF_OK); // at the limit
    Bytes deeper = new_fun(1, t);
    EXPECT_EQ(etf_skip(deeper.data(), deeper.size(), 0, &end), ETF_E_DEPTH);
}

TEST(Etf, Strings)
{
    for (int r = 0; r < ETF_E__COUNT; r++)
        EXPECT_STRNE(etf_strerror((enum etf_result)r), "");
    EXPECT_STREQ(etf_strerror((enum etf_result)99), "unknown error");
}

} // namespace

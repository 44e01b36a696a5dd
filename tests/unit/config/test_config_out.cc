// Tests of config/cfg_out.c: the EAL argument vector, the polling lcores, `show` (which
// must load back to the same values), `get` and the schema.
#include "config_test_util.h"

#include <cstdio>
#include <cstring>
#include <vector>

extern "C" {
#include "config/cfg_pvt.h"
}

namespace
{

static std::vector<std::string> eal_args(const cfg_file *cfg)
{
    char **argv = nullptr;
    int argc = 0;
    EXPECT_EQ(cfg_eal_argv(cfg, "prog", &argv, &argc), 0);
    std::vector<std::string> v;
    for (int i = 0; i < argc; i++)
        v.push_back(argv[i]);
    EXPECT_EQ(argv[argc], nullptr);
    free(argv); // one allocation
    return v;
}

TEST(ConfigEal, MemifWithoutHugepages)
{
    TempDir dir;
    Loaded l;
    l.load(dir, "[node]\nsname = demo_a\n[eal]\nlcores = 1\nno_huge = true\nmem_mb = 128\n"
                "[port]\nvdev = net_memif0,role=server,socket=/tmp/s,socket-abstract=no\n"
                "ip = 10.88.0.1\n");
    ASSERT_EQ(l.rc, 0) << l.text();
    std::vector<std::string> want = {"prog",
                                     "-l",
                                     "1",
                                     "--main-lcore",
                                     "1",
                                     "--no-huge",
                                     "-m",
                                     "128",
                                     "--file-prefix",
                                     "dpdist-demo_a",
                                     "--no-pci",
                                     "--vdev",
                                     "net_memif0,role=server,socket=/tmp/s,socket-abstract=no"};
    EXPECT_EQ(eal_args(l.cfg.get()), want);
}

TEST(ConfigEal, PciWithSocketMemAndExtras)
{
    TempDir dir;
    Loaded l;
    l.load(dir,
           "[node]\nname = a@h.example.com\n[eal]\nlcores = 2,4-6\nmain_lcore = 4\n"
           "socket_mem = 1024,0\nfile_prefix = px\nextra_args =  -n 4   --log-level=lib.eal:8\n"
           "[port]\npci = 3b:00.0\nip = 10.0.0.1\nrx_queues = 3\ntx_queues = 3\n"
           "[telemetry]\nenabled = false\n");
    ASSERT_EQ(l.rc, 0) << l.text();
    std::vector<std::string> want = {"prog",
                                     "-l",
                                     "2,4-6",
                                     "--main-lcore",
                                     "4",
                                     "--socket-mem",
                                     "1024,0",
                                     "--file-prefix",
                                     "px",
                                     "-a",
                                     "0000:3b:00.0",
                                     "--no-telemetry",
                                     "-n",
                                     "4",
                                     "--log-level=lib.eal:8"};
    EXPECT_EQ(eal_args(l.cfg.get()), want);
    uint16_t poll[8];
    ASSERT_EQ(cfg_poll_lcores(l.cfg.get(), poll, 8), 3u);
    EXPECT_EQ(poll[0], 2);
    EXPECT_EQ(poll[1], 5);
    EXPECT_EQ(poll[2], 6);
}

TEST(ConfigEal, ZeroCopyMemifAndTcpOnly)
{
    TempDir dir;
    Loaded zc, tcp, mem;
    zc.load(dir, "[node]\nsname = b\n[eal]\nno_huge = true\n[port]\n"
                 "vdev = net_memif0,role=client,zero-copy=yes\nip = 10.0.0.2\n");
    ASSERT_EQ(zc.rc, 0) << zc.text();
    std::vector<std::string> z = eal_args(zc.cfg.get());
    EXPECT_EQ(z[7], "64"); // -m with no_huge and no mem_mb: EAL's default, written out
    EXPECT_EQ(z.back(), "--single-file-segments");
    tcp.load(dir, "[node]\nsname = c\n");
    std::vector<std::string> t = eal_args(tcp.cfg.get());
    std::vector<std::string> want = {"prog",          "-l",       "0",       "--main-lcore", "0",
                                     "--file-prefix", "dpdist-c", "--no-pci"};
    EXPECT_EQ(t, want);
    uint16_t poll[2];
    EXPECT_EQ(cfg_poll_lcores(tcp.cfg.get(), poll, 2), 1u); // the main lcore polls when alone
    mem.load(dir, "[node]\nsname = d\n[eal]\nmem_mb = 512\n");
    EXPECT_EQ(eal_args(mem.cfg.get())[5], "-m");
}

static std::string show(const cfg_file *cfg)
{
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    EXPECT_EQ(cfg_show(cfg, f), 0);
    fclose(f);
    std::string s(buf, len);
    free(buf);
    return s;
}

static std::string without_first_line(const std::string &s)
{
    return s.substr(s.find('\n') + 1);
}

TEST(ConfigShow, LoadsBackToTheSameValues)
{
    TempDir dir;
    const char *files[] = {
        kMinimalMemif,
        "[node]\nname = a@10.0.0.9\ncookie_file = /etc/c\nlisten_port_min = 4380\n"
        "[eal]\nlcores = 2,4-6\nsocket_mem = 1024,0\nextra_args = -n 4\n[port]\n"
        "pci = 0000:3b:00.0\nip = 10.0.0.1\nmac = 02:00:00:00:00:01\ntx_queues = 3\n"
        "rx_queues = 3\noffloads = none\n[lanes]\nexpress = a,b\nmax_msg_bytes = 3000\n"
        "[fault]\ndrop_rate = 0.125\ndirection = rx\nseed = 18446744073709551615\n"
        "[telemetry]\nsocket_path = /run/x\\#1\n",
        "[node]\nsname = tcp_only\n",
    };
    for (const char *text : files) {
        Loaded first;
        first.load(dir, text, "first.ini");
        ASSERT_EQ(first.rc, 0) << first.text();
        std::string shown = show(first.cfg.get());
        Loaded again;
        again.load(dir, shown, "again.ini");
        ASSERT_EQ(again.rc, 0) << again.text() << shown;
        EXPECT_EQ(again.diags.n, first.diags.n) << again.text();
        for (unsigned i = 0; i < CFG_K__COUNT; i++) {
            char a[512], b[512];
            int ra = cfg_format_value(&cfg_key_table[i], first.cfg.get(), a, sizeof(a));
            int rb = cfg_format_value(&cfg_key_table[i], again.cfg.get(), b, sizeof(b));
            EXPECT_EQ(ra, rb) << cfg_key_table[i].name;
            if (ra >= 0 && rb >= 0) {
                EXPECT_STREQ(a, b) << cfg_key_table[i].name;
            }
        }
        EXPECT_EQ(again.cfg->port.kind, first.cfg->port.kind);
        EXPECT_EQ(again.cfg->fault.enabled, first.cfg->fault.enabled);
        EXPECT_EQ(without_first_line(show(again.cfg.get())), without_first_line(shown));
        // every line stays far below rte_cfgfile's limit
        size_t start = 0, end;
        while ((end = shown.find('\n', start)) != std::string::npos) {
            EXPECT_LE(end - start, 100u) << shown.substr(start, end - start);
            start = end + 1;
        }
    }
}

TEST(ConfigShow, CommentsOutWhatIsNotInEffect)
{
    TempDir dir;
    Loaded l;
    l.load(dir, "[node]\nsname = tcp_only\n");
    std::string s = show(l.cfg.get());
    EXPECT_NE(s.find("\n# [port]\n"), std::string::npos) << s;
    EXPECT_NE(s.find("(not configured: this node runs TCP distribution only)"), std::string::npos);
    EXPECT_NE(s.find("\n# name =\n"), std::string::npos) << s;
    EXPECT_NE(s.find("\nsname = tcp_only\n"), std::string::npos) << s;
    EXPECT_NE(s.find("\nfile_prefix = dpdist-tcp_only\n"), std::string::npos) << s;
    EXPECT_NE(s.find("\n# hb_interval_us = 10000\n"), std::string::npos) << s;
    EXPECT_NE(s.find("# (integer; default 10000)"), std::string::npos) << s;
}

TEST(ConfigGet, Values)
{
    TempDir dir;
    Loaded l;
    l.load(dir, kMinimalMemif);
    char buf[256];
    EXPECT_GT(cfg_get(l.cfg.get(), "port.ip", buf, sizeof(buf)), 0);
    EXPECT_STREQ(buf, "10.0.0.1");
    EXPECT_GT(cfg_get(l.cfg.get(), "eal.main_lcore", buf, sizeof(buf)), 0);
    EXPECT_STREQ(buf, "0");
    EXPECT_EQ(cfg_get(l.cfg.get(), "port.pci", buf, sizeof(buf)), -ENODATA);
    EXPECT_EQ(cfg_get(l.cfg.get(), "port.nope", buf, sizeof(buf)), -ENOENT);
    EXPECT_EQ(cfg_get(l.cfg.get(), "nope", buf, sizeof(buf)), -ENOENT);
    EXPECT_EQ(cfg_get(l.cfg.get(), "port.vdev", buf, 4), -ENOSPC);
}

TEST(ConfigSchema, EveryKeyHasARow)
{
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT_EQ(cfg_schema_markdown(f), 0);
    fclose(f);
    std::string s(buf, len);
    free(buf);
    for (unsigned i = 0; i < CFG_K__COUNT; i++)
        EXPECT_NE(s.find(std::string("| `") + cfg_key_table[i].name + "` |"), std::string::npos)
            << cfg_key_table[i].name;
    EXPECT_NE(s.find("| `driver` | one of | `auto` | `auto`, `vfio-pci`"), std::string::npos) << s;
    EXPECT_NE(s.find("| `max_msg_bytes` | bytes | `64M` | 1K..1G |"), std::string::npos) << s;
}

} // namespace

// Tests of config/cfg_load.c, cfg_keys.c, cfg_scan.c, cfg_rules.c and cfg_diag.c:
// the key table, value types, the scan, loading, rules between keys and diagnostics.
#include "config_test_util.h"

#include <cmath>
#include <cstring>
#include <random>
#include <set>

extern "C" {
#include "common/log.h"
#include "config/cfg_pvt.h"
}

namespace
{

// --- the key table ----------------------------------------------------------------------

TEST(ConfigTable, KeysAreUniqueNamedAndDocumented)
{
    std::set<std::string> seen;
    for (unsigned i = 0; i < CFG_K__COUNT; i++) {
        const cfg_key &k = cfg_key_table[i];
        EXPECT_EQ(k.id, (cfg_key_id)i);
        std::string full = std::string(cfg_section_name(k.section)) + "." + k.name;
        EXPECT_TRUE(seen.insert(full).second) << full << " twice";
        for (const char *p = k.name; *p; p++)
            EXPECT_TRUE((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') << full;
        EXPECT_GT(strlen(k.doc), 10u) << full;
        EXPECT_LE(strlen(k.name), (size_t)CFG_RTE_NAME_MAX);
        if (k.type == CFG_T_ENUM || k.type == CFG_T_FLAGS) {
            EXPECT_NE(k.choices, nullptr) << full;
        }
        EXPECT_EQ(cfg_key_lookup(k.section, k.name), &k);
    }
    EXPECT_EQ(cfg_key_lookup(CFG_SEC_EAL, "nope"), nullptr);
    EXPECT_EQ(cfg_section_lookup("lanes"), CFG_SEC_LANES);
    EXPECT_EQ(cfg_section_lookup("LANES"), -1);
}

TEST(ConfigTable, DataplaneParametersAreCovered)
{
    // docs/dataplane.md names these [lanes] parameters
    for (const char *key : {"hb_interval_us", "hb_missed_limit", "express_weight", "normal_weight",
                            "max_msg_bytes", "rx_window_bytes", "window_frames", "tx_queue_bytes",
                            "max_flows", "min_rto_us", "max_rto_us", "express"})
        EXPECT_NE(cfg_key_lookup(CFG_SEC_LANES, key), nullptr) << key;
}

TEST(ConfigTable, DefaultsParseAndFormatBack)
{
    cfg_file cfg;
    cfg_defaults(&cfg);
    char buf[512];
    for (unsigned i = 0; i < CFG_K__COUNT; i++) {
        const cfg_key &k = cfg_key_table[i];
        if (!k.def[0])
            continue;
        ASSERT_GE(cfg_format_value(&k, &cfg, buf, sizeof(buf)), 0) << k.name;
        EXPECT_STREQ(buf, k.def) << k.name;
    }
    EXPECT_EQ(cfg.lanes.hb_interval_us, 10000u);
    EXPECT_EQ(cfg.lanes.max_msg_bytes, 64ull << 20);
    EXPECT_EQ(cfg.port.offloads, (uint32_t)CFG_OFFLOADS_HONOURED);
    EXPECT_EQ(cfg.port.rx_queues, DP_PORT_RX_QUEUES);
    EXPECT_EQ(cfg.port.tx_queues, DP_PORT_TX_QUEUES);
    EXPECT_EQ(cfg.port.kind, CFG_PORT_NONE);
    EXPECT_EQ(cfg.eal.main_lcore, 0u);
    EXPECT_TRUE(cfg.telemetry.enabled);
}

// --- value types --------------------------------------------------------------------------

struct Parsed {
    cfg_file cfg;
    char why[256], fix[256];
    int rc;
};

static Parsed parse(cfg_key_id id, const char *text)
{
    Parsed p;
    cfg_defaults(&p.cfg);
    p.rc = cfg_parse_value(&cfg_key_table[id], text, &p.cfg, p.why, sizeof(p.why), p.fix,
                           sizeof(p.fix));
    return p;
}

static std::string fmt(const Parsed &p, cfg_key_id id)
{
    char buf[512];
    int n = cfg_format_value(&cfg_key_table[id], &p.cfg, buf, sizeof(buf));
    return n < 0 ? "<unset>" : buf;
}

TEST(ConfigTypes, Bool)
{
    for (const char *t : {"true", "yes", "on", "1", "TRUE"})
        EXPECT_TRUE(parse(CFG_K_NODE_HIDDEN, t).cfg.node.hidden) << t;
    for (const char *t : {"false", "no", "off", "0"}) {
        Parsed p = parse(CFG_K_TELEMETRY_ENABLED, t);
        EXPECT_EQ(p.rc, 0);
        EXPECT_FALSE(p.cfg.telemetry.enabled) << t;
    }
    Parsed bad = parse(CFG_K_NODE_HIDDEN, "maybe");
    EXPECT_EQ(bad.rc, -EINVAL);
    EXPECT_STREQ(bad.fix, "write true or false");
}

TEST(ConfigTypes, UnsignedRange)
{
    EXPECT_EQ(parse(CFG_K_PORT_MTU, "9000").cfg.port.mtu, 9000);
    Parsed low = parse(CFG_K_PORT_MTU, "100");
    EXPECT_EQ(low.rc, -EINVAL);
    EXPECT_STREQ(low.why, "100 is below the minimum 576");
    EXPECT_STREQ(low.fix, "use a value from 576 to 9600 (default 1500)");
    for (const char *t : {"-1", "+5", "1e3", "12abc", " ", "0x10", "99999999999999999999999"})
        EXPECT_EQ(parse(CFG_K_PORT_MTU, t).rc, -EINVAL) << t;
    EXPECT_EQ(parse(CFG_K_FAULT_SEED, "18446744073709551615").cfg.fault.seed, UINT64_MAX);
    EXPECT_EQ(parse(CFG_K_FAULT_SEED, "18446744073709551616").rc, -EINVAL);
}

TEST(ConfigTypes, Sizes)
{
    EXPECT_EQ(parse(CFG_K_LANES_MAX_MSG_BYTES, "64M").cfg.lanes.max_msg_bytes, 64ull << 20);
    EXPECT_EQ(parse(CFG_K_LANES_MAX_MSG_BYTES, "1G").cfg.lanes.max_msg_bytes, 1ull << 30);
    EXPECT_EQ(parse(CFG_K_LANES_MAX_MSG_BYTES, "4k").cfg.lanes.max_msg_bytes, 4096u);
    EXPECT_EQ(parse(CFG_K_LANES_MAX_MSG_BYTES, "2MiB").cfg.lanes.max_msg_bytes, 2ull << 20);
    EXPECT_EQ(parse(CFG_K_LANES_MAX_MSG_BYTES, "3000").cfg.lanes.max_msg_bytes, 3000u);
    for (const char *t : {"1.5M", "2T", "M", "64 M", "2G"})
        EXPECT_EQ(parse(CFG_K_LANES_MAX_MSG_BYTES, t).rc, -EINVAL) << t;
    Parsed p = parse(CFG_K_LANES_RX_WINDOW_BYTES, "3000");
    EXPECT_STREQ(p.why, "3000 is below the minimum 64K");
    EXPECT_EQ(fmt(parse(CFG_K_LANES_MAX_MSG_BYTES, "3000"), CFG_K_LANES_MAX_MSG_BYTES), "3000");
    EXPECT_EQ(fmt(parse(CFG_K_LANES_MAX_MSG_BYTES, "2048K"), CFG_K_LANES_MAX_MSG_BYTES), "2M");
}

TEST(ConfigTypes, Rates)
{
    EXPECT_DOUBLE_EQ(parse(CFG_K_FAULT_DROP_RATE, "0.25").cfg.fault.drop_rate, 0.25);
    EXPECT_DOUBLE_EQ(parse(CFG_K_FAULT_DROP_RATE, "1").cfg.fault.drop_rate, 1.0);
    for (const char *t : {"1.5", "-0.1", "nan", "inf", "x", "0.1x"})
        EXPECT_EQ(parse(CFG_K_FAULT_DROP_RATE, t).rc, -EINVAL) << t;
    EXPECT_EQ(fmt(parse(CFG_K_FAULT_DROP_RATE, "0.1"), CFG_K_FAULT_DROP_RATE), "0.1");
    EXPECT_EQ(fmt(parse(CFG_K_FAULT_DROP_RATE, "0.123456789012"), CFG_K_FAULT_DROP_RATE),
              "0.123456789012");
}

TEST(ConfigTypes, EnumsAndFlags)
{
    EXPECT_EQ(parse(CFG_K_PORT_DRIVER, "kernel").cfg.port.driver, CFG_DRV_KERNEL);
    EXPECT_EQ(parse(CFG_K_FAULT_DIRECTION, "tx").cfg.fault.direction, CFG_FAULT_TX);
    Parsed bad = parse(CFG_K_PORT_DRIVER, "vfio_pci");
    EXPECT_EQ(bad.rc, -EINVAL);
    EXPECT_STREQ(bad.why, "`vfio_pci` is not a valid choice; did you mean `vfio-pci`?");
    EXPECT_STREQ(bad.fix, "write auto, vfio-pci, uio_pci_generic, igb_uio or kernel");

    EXPECT_EQ(parse(CFG_K_PORT_OFFLOADS, "rss, fast_free").cfg.port.offloads,
              CFG_OFFLOAD_RSS | CFG_OFFLOAD_FAST_FREE);
    EXPECT_EQ(parse(CFG_K_PORT_OFFLOADS, "none").cfg.port.offloads, 0u);
    EXPECT_EQ(fmt(parse(CFG_K_PORT_OFFLOADS, "none"), CFG_K_PORT_OFFLOADS), "none");
    EXPECT_EQ(parse(CFG_K_PORT_OFFLOADS, "none,rss").rc, -EINVAL);
    Parsed typo = parse(CFG_K_PORT_OFFLOADS, "ipv4_csum");
    EXPECT_STREQ(typo.why, "`ipv4_csum` is not a known name; did you mean `ipv4_cksum`?");
}

TEST(ConfigTypes, NameLists)
{
    Parsed p = parse(CFG_K_LANES_EXPRESS, " ping , pong,'$gen_call'");
    ASSERT_EQ(p.rc, 0);
    ASSERT_EQ(p.cfg.lanes.express.n, 3u);
    EXPECT_STREQ(p.cfg.lanes.express.name[0], "ping");
    EXPECT_STREQ(p.cfg.lanes.express.name[2], "'$gen_call'");
    EXPECT_EQ(fmt(p, CFG_K_LANES_EXPRESS), "ping,pong,'$gen_call'");
    EXPECT_EQ(parse(CFG_K_LANES_EXPRESS, "a,,b").rc, -EINVAL);
    EXPECT_EQ(parse(CFG_K_LANES_EXPRESS, "a b").rc, -EINVAL);
    EXPECT_EQ(parse(CFG_K_LANES_EXPRESS, "a,a").rc, -EINVAL);
    EXPECT_EQ(parse(CFG_K_LANES_EXPRESS, std::string(64, 'x').c_str()).rc, -EINVAL);
    std::string many;
    for (int i = 0; i < 33; i++)
        many += (i ? "," : "") + std::to_string(i);
    EXPECT_EQ(parse(CFG_K_LANES_EXPRESS, many.c_str()).rc, -EINVAL);
}

TEST(ConfigTypes, CpuLists)
{
    Parsed p = parse(CFG_K_EAL_LCORES, "8,0-3,2");
    ASSERT_EQ(p.rc, 0);
    ASSERT_EQ(p.cfg.eal.lcores.n, 5u);
    EXPECT_EQ(p.cfg.eal.lcores.cpu[0], 0);
    EXPECT_EQ(p.cfg.eal.lcores.cpu[4], 8);
    EXPECT_EQ(fmt(p, CFG_K_EAL_LCORES), "0-3,8");
    EXPECT_EQ(fmt(parse(CFG_K_EAL_LCORES, "0-127"), CFG_K_EAL_LCORES), "0-127");
    for (const char *t : {"3-1", "128", "0-128", "a", "1,,2", "1-", "-1", "0@1", "(0,1)@2"})
        EXPECT_EQ(parse(CFG_K_EAL_LCORES, t).rc, -EINVAL) << t;
    EXPECT_STREQ(parse(CFG_K_EAL_LCORES, "0@1").why,
                 "lcore-to-CPU maps (`@`, `()`) are not supported");
}

TEST(ConfigTypes, MemoryLists)
{
    Parsed p = parse(CFG_K_EAL_SOCKET_MEM, "1024, 0,512");
    ASSERT_EQ(p.rc, 0);
    ASSERT_EQ(p.cfg.eal.socket_mem.n, 3u);
    EXPECT_EQ(p.cfg.eal.socket_mem.mb[2], 512u);
    EXPECT_EQ(fmt(p, CFG_K_EAL_SOCKET_MEM), "1024,0,512");
    EXPECT_EQ(parse(CFG_K_EAL_SOCKET_MEM, "1G,0").rc, -EINVAL);
}

TEST(ConfigTypes, PciAddresses)
{
    EXPECT_EQ(fmt(parse(CFG_K_PORT_PCI, "0000:3B:00.0"), CFG_K_PORT_PCI), "0000:3b:00.0");
    EXPECT_EQ(fmt(parse(CFG_K_PORT_PCI, "af:1f.7"), CFG_K_PORT_PCI), "0000:af:1f.7");
    EXPECT_EQ(fmt(parse(CFG_K_PORT_PCI, "10000:00:00.0"), CFG_K_PORT_PCI), "<unset>");
    for (const char *t :
         {"3b:00", "0000:3b:20.0", "0000:3b:00.8", "zz:00.0", "0000-3b:00.0", "0000:3b:00.0.1"})
        EXPECT_EQ(parse(CFG_K_PORT_PCI, t).rc, -EINVAL) << t;
}

TEST(ConfigTypes, Addresses)
{
    Parsed p = parse(CFG_K_PORT_IP, "10.77.0.1");
    ASSERT_EQ(p.rc, 0);
    EXPECT_EQ(fmt(p, CFG_K_PORT_IP), "10.77.0.1");
    for (const char *t : {"0.0.0.0", "255.255.255.255", "127.0.0.1", "224.0.0.5", "10.0.0",
                          "10.0.0.256", "::1", "host"})
        EXPECT_EQ(parse(CFG_K_PORT_IP, t).rc, -EINVAL) << t;
    EXPECT_EQ(fmt(parse(CFG_K_NODE_LISTEN_ADDRESS, "0:0::0"), CFG_K_NODE_LISTEN_ADDRESS), "::");
    EXPECT_EQ(parse(CFG_K_NODE_LISTEN_ADDRESS, "localhost").rc, -EINVAL);
    EXPECT_EQ(fmt(parse(CFG_K_PORT_MAC, "02-DD-00-00-00-01"), CFG_K_PORT_MAC), "02:dd:00:00:00:01");
    EXPECT_EQ(parse(CFG_K_PORT_MAC, "01:00:5e:00:00:01").rc, -EINVAL); // multicast
    EXPECT_EQ(parse(CFG_K_PORT_MAC, "00:00:00:00:00:00").rc, -EINVAL);
    EXPECT_EQ(parse(CFG_K_PORT_MAC, "02:dd:00:00:00").rc, -EINVAL);
}

TEST(ConfigTypes, StringsAndPaths)
{
    EXPECT_EQ(parse(CFG_K_EAL_FILE_PREFIX, std::string(63, 'a').c_str()).rc, 0);
    EXPECT_EQ(parse(CFG_K_EAL_FILE_PREFIX, std::string(64, 'a').c_str()).rc, -EINVAL);
    EXPECT_EQ(parse(CFG_K_NODE_COOKIE_FILE, "cookie").rc, -EINVAL);
    EXPECT_EQ(parse(CFG_K_NODE_COOKIE_FILE, "/etc/dpdist/cookie").rc, 0);
    EXPECT_EQ(parse(CFG_K_NODE_SNAME, "a\tb").rc, -EINVAL);
}

// --- edit distance ------------------------------------------------------------------------

TEST(ConfigDiag, EditDistance)
{
    EXPECT_EQ(cfg_edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(cfg_edit_distance("lcroes", "lcores"), 1u); // transposition
    EXPECT_EQ(cfg_edit_distance("Socket-Mem", "socket_mem"), 0u);
    EXPECT_EQ(cfg_edit_distance("", "abc"), 3u);
    EXPECT_EQ(cfg_edit_distance("abc", ""), 3u);
    EXPECT_EQ(cfg_edit_distance(std::string(65, 'a').c_str(), "a"), 1000u);
}

TEST(ConfigDiag, FormatAndBound)
{
    cfg_diags d;
    cfg_diags_init(&d);
    cfg_diag *g = cfg_diag_add(&d, CFG_SEV_ERROR, "x.ini", 3, "eal", "lcores", "bad %d", 1);
    cfg_diag_fix(g, "do %s", "this");
    cfg_diag_add(&d, CFG_SEV_WARNING, "x.ini", 0, "port", nullptr, "did you mean?");
    char buf[512];
    cfg_diag_format(&d.v[0], buf, sizeof(buf));
    EXPECT_STREQ(buf, "x.ini:3: error: [eal] lcores: bad 1. fix: do this");
    cfg_diag_format(&d.v[1], buf, sizeof(buf));
    EXPECT_STREQ(buf, "x.ini: warning: [port]: did you mean?");
    for (int i = 0; i < CFG_DIAG_MAX + 5; i++)
        cfg_diag_add(&d, CFG_SEV_ERROR, "y.ini", (unsigned)i, nullptr, nullptr, "n");
    EXPECT_EQ(d.n, (size_t)CFG_DIAG_MAX);
    EXPECT_EQ(d.dropped, 7u);
    EXPECT_EQ(d.errors, (unsigned)CFG_DIAG_MAX + 6);
    EXPECT_EQ(d.warnings, 1u);
    cfg_diags_sort(&d);
    EXPECT_STREQ(d.v[0].file, "x.ini");
    EXPECT_EQ(d.v[0].line, 0u); // sorted by line within its file
    EXPECT_EQ(d.v[2].line, 0u);
    EXPECT_EQ(d.v[3].line, 1u);
    cfg_diags_free(&d);
    EXPECT_EQ(d.n, 0u);
}

// --- loading ------------------------------------------------------------------------------

TEST(ConfigLoad, MinimalMemif)
{
    TempDir dir;
    Loaded l;
    l.load(dir, kMinimalMemif);
    ASSERT_EQ(l.rc, 0) << l.text();
    EXPECT_EQ(l.diags.errors, 0u) << l.text();
    EXPECT_EQ(l.cfg->port.kind, CFG_PORT_VDEV);
    EXPECT_STREQ(l.cfg->eal.file_prefix, "dpdist-t1");
    EXPECT_EQ(l.cfg->eal.main_lcore, 0u);
    EXPECT_EQ(l.cfg->key_line[CFG_K_NODE_SNAME], 2u);
    EXPECT_EQ(l.cfg->key_line[CFG_K_PORT_IP], 7u);
    EXPECT_EQ(l.cfg->key_line[CFG_K_PORT_MTU], 0u);
    EXPECT_EQ(l.cfg->section_line[CFG_SEC_PORT], 5u);
    EXPECT_EQ(l.cfg->section_line[CFG_SEC_FAULT], 0u);
    EXPECT_STREQ(l.cfg->path, l.file.c_str());
}

TEST(ConfigLoad, TcpOnlyNode)
{
    TempDir dir;
    Loaded l;
    l.load(dir, "[node]\nname = n@host.example.com\nlisten_port_min = 5000\n");
    ASSERT_EQ(l.rc, 0) << l.text();
    EXPECT_EQ(l.diags.n, 0u) << l.text();
    EXPECT_EQ(l.cfg->port.kind, CFG_PORT_NONE);
    EXPECT_EQ(l.cfg->node.listen_port_max, 5000); // derived, as inet_dist_listen_max
}

TEST(ConfigTypes, OctalModes)
{
    EXPECT_EQ(parse(CFG_K_AGENT_SOCKET_MODE, "0660").cfg.agent.socket_mode, 0660u);
    EXPECT_EQ(parse(CFG_K_AGENT_SOCKET_MODE, "600").cfg.agent.socket_mode, 0600u);
    EXPECT_EQ(parse(CFG_K_AGENT_SOCKET_MODE, "0").cfg.agent.socket_mode, 0u);
    for (const char *t : {"", "0668", "1777", "rw-rw----", "0x1b6", "-660", "000660"})
        EXPECT_EQ(parse(CFG_K_AGENT_SOCKET_MODE, t).rc, -EINVAL) << t;
    cfg_file cfg;
    cfg_defaults(&cfg);
    char buf[16];
    ASSERT_GT(cfg_format_value(&cfg_key_table[CFG_K_AGENT_SOCKET_MODE], &cfg, buf, sizeof(buf)), 0);
    EXPECT_STREQ(buf, "0660");
}

TEST(ConfigLoad, AgentFile)
{
    TempDir dir;
    Loaded l;
    l.load(dir, "[agent]\nsocket = /run/x/a.sock\nallow_uids = root,1000\nmax_vms = 8\n",
           "agent.ini");
    ASSERT_EQ(l.rc, 0) << l.text();
    EXPECT_EQ(l.diags.n, 0u) << l.text(); // no [node], no name: not an error for an agent
    EXPECT_TRUE(cfg_is_agent(l.cfg.get()));
    EXPECT_STREQ(l.cfg->agent.socket, "/run/x/a.sock");
    EXPECT_EQ(l.cfg->agent.allow_uids.n, 2u);
    EXPECT_EQ(l.cfg->agent.max_vms, 8u);
    EXPECT_EQ(l.cfg->agent.conn_tx_bytes, 2u << 20);
    EXPECT_STREQ(l.cfg->eal.file_prefix, "dpdist-agent");
    Loaded node;
    node.load(dir, "[node]\nsname = n\n");
    ASSERT_EQ(node.rc, 0) << node.text();
    EXPECT_FALSE(cfg_is_agent(node.cfg.get()));
    Loaded both;
    both.load(dir, "[agent]\n[node]\nsname = n\n", "both.ini");
    EXPECT_EQ(both.rc, -EINVAL);
    EXPECT_NE(both.find("an agent is not a node"), nullptr) << both.text();
}

TEST(ConfigAgent, ResolvesUsersAndGroups)
{
    uint32_t id = 99;
    EXPECT_EQ(cfg_resolve_uid("0", &id), 0);
    EXPECT_EQ(id, 0u);
    EXPECT_EQ(cfg_resolve_uid("root", &id), 0);
    EXPECT_EQ(id, 0u);
    EXPECT_EQ(cfg_resolve_uid("4294967294", &id), 0);
    EXPECT_EQ(id, 4294967294u);
    EXPECT_EQ(cfg_resolve_uid("4294967295", &id), -ENOENT); // (uid_t)-1 is no user
    EXPECT_EQ(cfg_resolve_uid("no-such-user-dpdist", &id), -ENOENT);
    EXPECT_EQ(cfg_resolve_uid("", &id), -EINVAL);
    EXPECT_EQ(cfg_resolve_gid("root", &id), 0);
    EXPECT_EQ(id, 0u);
    EXPECT_EQ(cfg_resolve_gid("no-such-group-dpdist", &id), -ENOENT);
}

TEST(ConfigLoad, CommentsAndEscapes)
{
    TempDir dir;
    Loaded l;
    l.load(dir, "# header\n[node]   # trailing\n  sname = a   # the name\n[telemetry]\n"
                "socket_path = /run/x\\#y\n");
    ASSERT_EQ(l.rc, 0) << l.text();
    EXPECT_STREQ(l.cfg->node.sname, "a");
    EXPECT_STREQ(l.cfg->telemetry.socket_path, "/run/x#y");
    char buf[64];
    ASSERT_GT(cfg_get(l.cfg.get(), "telemetry.socket_path", buf, sizeof(buf)), 0);
    EXPECT_STREQ(buf, "/run/x\\#y"); // as a file must write it
}

TEST(ConfigLoad, EveryProblemAtOnceWithLines)
{
    TempDir dir;
    Loaded l;
    l.load(dir, "[node]\n"            // 1
                "sname = a\n"         // 2
                "ticktime = soon\n"   // 3
                "epmd_prot = 4369\n"  // 4
                "lcores = 0\n"        // 5
                "[eall]\n"            // 6
                "x = 1\n"             // 7
                "[eal]\n"             // 8
                "socket-mem = 1024\n" // 9
                "lcores = 0-1\n"      // 10
                "lcores = 0\n"        // 11
                "[port]\n"            // 12
                "vdev = net_memif0\n" // 13
                "udp_port = 70000\n"  // 14
                "just words\n"        // 15
                "[node]\n"            // 16
                "name = b@c.d\n");    // 17
    EXPECT_EQ(l.rc, -EINVAL);
    struct {
        const char *needle;
        unsigned line;
        const char *section, *key;
    } want[] = {
        {"is not a whole number", 3, "node", "ticktime"},
        {"did you mean `epmd_port`?", 4, "node", "epmd_prot"},
        {"belongs to [eal], not [node]", 5, "node", "lcores"},
        {"unknown section; did you mean [eal]?", 6, "eall", ""},
        {"did you mean `socket_mem`?", 9, "eal", "socket-mem"},
        {"the key appears again (first at line 10)", 11, "eal", "lcores"},
        {"the data plane has no IPv4 address", 12, "port", "ip"},
        {"70000 is above the maximum 65535", 14, "port", "udp_port"},
        {"is not `key = value`", 15, "port", ""},
        {"the section appears again (first at line 1)", 16, "node", ""},
    };
    for (const auto &w : want) {
        const cfg_diag *g = l.find(w.needle);
        ASSERT_NE(g, nullptr) << w.needle << "\n" << l.text();
        EXPECT_EQ(g->line, w.line) << w.needle;
        EXPECT_STREQ(g->section, w.section) << w.needle;
        EXPECT_STREQ(g->key, w.key) << w.needle;
        EXPECT_EQ(g->severity, CFG_SEV_ERROR) << w.needle;
        EXPECT_NE(g->fix[0], '\0') << w.needle;
    }
    // the first of the duplicates is the one read (as rte_cfgfile does)
    EXPECT_EQ(l.cfg->eal.lcores.n, 2u);
    // the repeated [node]'s key is not read
    EXPECT_STREQ(l.cfg->node.name, "");
}

TEST(ConfigLoad, FilesRteCfgfileRefusesAreStillCheckedWhole)
{
    TempDir dir;
    Loaded l;
    std::string text = "[node]\nsname = a\n[lanes\nmtu = 1\n[eal]\nlcroes = 0\n";
    text += "extra_args = " + std::string(400, 'x') + "\n";
    l.load(dir, text);
    EXPECT_EQ(l.rc, -EINVAL);
    EXPECT_NE(l.find("section header without a closing ']'"), nullptr) << l.text();
    EXPECT_NE(l.find("the line is 413 characters long"), nullptr) << l.text();
    EXPECT_NE(l.find("did you mean `lcores`?"), nullptr) << l.text(); // still checked
    EXPECT_STREQ(l.cfg->node.sname, "a");                             // still read
}

TEST(ConfigLoad, SyntaxCornerCases)
{
    TempDir dir;
    Loaded l;
    l.load(dir, "early = 1\n[node] x\nsname = a\n; old comment\n= 5\n[]\n[port]\n"
                "mtu =\nip = 10.0.0.1\nvdev = net_null0\n");
    EXPECT_NE(l.find("the key comes before the first [section]"), nullptr) << l.text();
    EXPECT_NE(l.find("text after the section header"), nullptr) << l.text();
    const cfg_diag *semi = l.find("`; old comment` is not `key = value`");
    ASSERT_NE(semi, nullptr) << l.text();
    EXPECT_STREQ(semi->fix, "comments start with '#'");
    EXPECT_NE(l.find("a value without a key"), nullptr) << l.text();
    EXPECT_NE(l.find("the section name is empty"), nullptr) << l.text();
    EXPECT_NE(l.find("the value is empty"), nullptr) << l.text();
}

TEST(ConfigLoad, ByteOrderMark)
{
    TempDir dir;
    Loaded l;
    l.load(dir, "\xef\xbb\xbf[node]\nsname = bom\n");
    EXPECT_EQ(l.rc, -EINVAL);
    const cfg_diag *g = l.find("byte order mark");
    ASSERT_NE(g, nullptr) << l.text();
    EXPECT_EQ(g->line, 1u);
    EXPECT_EQ(l.diags.n, 1u) << l.text(); // the rest of the file reads normally
    EXPECT_STREQ(l.cfg->node.sname, "bom");
}

TEST(ConfigLoad, UnreadableFiles)
{
    TempDir dir;
    cfg_file cfg;
    cfg_diags d;
    cfg_diags_init(&d);
    EXPECT_EQ(cfg_load((dir.path() + "/missing.ini").c_str(), &cfg, &d), -ENOENT);
    EXPECT_EQ(cfg_load(dir.path().c_str(), &cfg, &d), -EINVAL); // a directory
    std::string nul = dir.write("nul.ini", std::string("[node]\0x", 8));
    EXPECT_EQ(cfg_load(nul.c_str(), &cfg, &d), -EINVAL);
    ASSERT_EQ(d.n, 3u);
    EXPECT_NE(std::string(d.v[0].message).find("cannot open the file"), std::string::npos);
    EXPECT_NE(std::string(d.v[2].message).find("NUL bytes"), std::string::npos);
    cfg_diags_free(&d);
}

TEST(ConfigLoad, TooManyProblemsStayBounded)
{
    TempDir dir;
    std::string text = "[node]\nsname = a\n";
    for (int i = 0; i < 1500; i++)
        text += "unknown_" + std::to_string(i) + " = 1\n";
    Loaded l;
    l.load(dir, text);
    EXPECT_EQ(l.rc, -EINVAL);
    EXPECT_EQ(l.diags.n, (size_t)CFG_DIAG_MAX);
    EXPECT_EQ(l.diags.errors, 1500u);
    EXPECT_EQ(l.diags.dropped, 500u);
}

// --- rules between keys -----------------------------------------------------------------

static std::string with(const std::string &extra)
{
    return std::string(kMinimalMemif) + extra;
}

TEST(ConfigRules, Names)
{
    TempDir dir;
    {
        Loaded l;
        l.load(dir, "[node]\nsname = a@b.c\n");
        EXPECT_NE(l.find("a short name's host has no dots"), nullptr) << l.text();
    }
    {
        Loaded l;
        l.load(dir, "[node]\nname = a@b\n");
        EXPECT_NE(l.find("a long name needs a fully qualified host"), nullptr) << l.text();
    }
    {
        Loaded l;
        l.load(dir, "[node]\nname = a@10.0.0.1\n");
        EXPECT_EQ(l.rc, 0) << l.text();
    }
    {
        Loaded l;
        l.load(dir, "[node]\nsname = a.b\n");
        EXPECT_NE(l.find("the part before '@' must be"), nullptr) << l.text();
    }
    {
        Loaded l;
        l.load(dir, "[eal]\nlcores = 0\n");
        const cfg_diag *g = l.find("the node has no name");
        ASSERT_NE(g, nullptr) << l.text();
        EXPECT_EQ(g->line, 0u); // no [node] section at all
    }
}

TEST(ConfigRules, ListenPorts)
{
    TempDir dir;
    Loaded a, b, c;
    a.load(dir, "[node]\nsname = a\nlisten_port_min = 5000\nlisten_port_max = 4000\n");
    EXPECT_NE(a.find("listen_port_max 4000 is below listen_port_min 5000"), nullptr) << a.text();
    b.load(dir, "[node]\nsname = a\nlisten_port_max = 4000\n");
    EXPECT_NE(b.find("listen_port_max without listen_port_min"), nullptr) << b.text();
    c.load(dir, "[node]\nsname = a\nlisten_port_min = 4000\nlisten_port_max = 5000\n");
    EXPECT_NE(c.find("includes epmd_port 4369"), nullptr) << c.text();
}

TEST(ConfigRules, EalMemoryAndArgs)
{
    TempDir dir;
    Loaded a, b, c, d;
    a.load(dir, with("[eal]\nsocket_mem = 1024\n"));
    EXPECT_NE(a.find("the section appears again"), nullptr) << a.text();
    b.load(dir, "[node]\nsname = a\n[eal]\nno_huge = true\nsocket_mem = 512\n");
    EXPECT_NE(b.find("socket_mem asks for hugepages, but no_huge is true"), nullptr) << b.text();
    c.load(dir, "[node]\nsname = a\n[eal]\nsocket_mem = 512,0\nmem_mb = 100\nmain_lcore = 3\n"
                "extra_args = --file-prefix=x -n 4 \"--foo\"\n");
    EXPECT_NE(c.find("both mem_mb and socket_mem are set"), nullptr) << c.text();
    EXPECT_NE(c.find("main_lcore 3 is not one of lcores (0)"), nullptr) << c.text();
    EXPECT_NE(c.find("quotes are not supported"), nullptr) << c.text();
    d.load(dir, "[node]\nsname = a\n[eal]\nextra_args = -l0 --socket-mem=1 --vdev net_ring0 "
                "--log-level=8 -n 4\nfile_prefix = a/b\n");
    EXPECT_NE(d.find("`-l` is generated from [eal] lcores"), nullptr) << d.text();
    EXPECT_NE(d.find("`--socket-mem` is generated from [eal] socket_mem"), nullptr) << d.text();
    EXPECT_NE(d.find("`--vdev` is generated from [port] vdev"), nullptr) << d.text();
    EXPECT_NE(d.find("has characters other than"), nullptr) << d.text();
    EXPECT_EQ(d.diags.errors, 4u) << d.text(); // --log-level and -n are fine
}

TEST(ConfigRules, PortShapes)
{
    TempDir dir;
    Loaded a, b, c, d, e;
    a.load(dir, "[node]\nsname = a\n[port]\nip = 10.0.0.1\n");
    EXPECT_NE(a.find("the port has neither pci nor vdev"), nullptr) << a.text();
    b.load(dir, "[node]\nsname = a\n[eal]\nno_huge = true\n[port]\n"
                "vdev = net_af_packet0,qpairs=0\nip = 10.0.0.1\ndriver = vfio-pci\n");
    EXPECT_NE(b.find("net_af_packet needs the interface"), nullptr) << b.text();
    EXPECT_NE(b.find("the device has 0 queue pairs, the engine needs 1"), nullptr) << b.text();
    EXPECT_NE(b.find("driver applies to PCI ports"), nullptr) << b.text();
    {
        // one queue pair runs (a warning): the pulse lane shares the data queue
        Loaded q;
        q.load(dir, "[node]\nsname = a\n[eal]\nno_huge = true\n[port]\n"
                    "vdev = net_af_packet0,iface=eth1,qpairs=1\nip = 10.0.0.1\n");
        EXPECT_NE(q.find("the pulse lane shares the data queue"), nullptr) << q.text();
        EXPECT_EQ(q.diags.errors, 0u) << q.text();
    }
    c.load(dir, "[node]\nsname = a\n[eal]\nno_huge = true\n[port]\n"
                "vdev = net_memif0,role=host,socket=rel.sock,zero-copy=yes\nip = 10.0.0.1\n"
                "mtu = 9000\n");
    EXPECT_NE(c.find("memif role `host` is neither server nor client"), nullptr) << c.text();
    EXPECT_NE(c.find("is not an absolute path"), nullptr) << c.text();
    EXPECT_NE(c.find("memif buffers of 2048 bytes cannot hold a 9014-byte frame"), nullptr)
        << c.text();
    EXPECT_NE(c.find("zero-copy works on the client side only"), nullptr) << c.text();
    const cfg_diag *room = c.find("mtu 9000 makes 9014-byte frames");
    ASSERT_NE(room, nullptr) << c.text();
    EXPECT_STREQ(room->key, "mtu"); // the key the file sets, not the default one
    d.load(dir, "[node]\nsname = a\n[eal]\nno_huge = true\n[port]\n"
                "vdev = net_memif0,socket=/tmp/x.sock\nip = 10.0.0.1\n");
    EXPECT_NE(d.find("abstract by default"), nullptr) << d.text();
    EXPECT_EQ(d.rc, 0) << d.text(); // a warning only
    e.load(dir, "[node]\nsname = a\n[eal]\nno_huge = true\n[port]\nvdev = memif0\nip = 10.0.0.1\n");
    EXPECT_NE(e.find("is not a network vdev name"), nullptr) << e.text();
}

TEST(ConfigRules, VdevArgumentsAreReadAsTheDriverReadsThem)
{
    char v[64];
    EXPECT_TRUE(cfg_vdev_arg("net_ring0,side=1,pair=x", "pair", v, sizeof(v)));
    EXPECT_STREQ(v, "x");
    EXPECT_TRUE(cfg_vdev_arg("net_ring0,side=1,pair=x", "side", v, sizeof(v)));
    EXPECT_STREQ(v, "1");
    EXPECT_TRUE(cfg_vdev_arg("net_memif0,role=client,socket=/run/m.sock", "socket", v, sizeof(v)));
    EXPECT_STREQ(v, "/run/m.sock");
    EXPECT_FALSE(cfg_vdev_arg("net_memif0,xsocket=/a", "socket", v, sizeof(v)));
    EXPECT_FALSE(cfg_vdev_arg("net_memif0", "socket", v, sizeof(v)));
    EXPECT_FALSE(cfg_vdev_arg("net_memif0,socket", "socket", v, sizeof(v))); // no value
    // net_memif reads "socket=/tmp/a=b" with rte_kvargs and sees no socket key at all: so
    // does the check (it took "/tmp/a=b" before, and passed a path the driver never used)
    EXPECT_FALSE(cfg_vdev_arg("net_memif0,socket=/tmp/a=b,role=client", "socket", v, sizeof(v)));
    EXPECT_TRUE(cfg_vdev_arg("net_memif0,socket=/tmp/a=b,role=client", "role", v, sizeof(v)));
    EXPECT_STREQ(v, "client");
    // the first of repeated keys, a bracketed list as one value
    EXPECT_TRUE(cfg_vdev_arg("net_x0,k=1,k=2", "k", v, sizeof(v)));
    EXPECT_STREQ(v, "1");
    EXPECT_TRUE(cfg_vdev_arg("net_x0,list=[1,2],k=3", "list", v, sizeof(v)));
    EXPECT_STREQ(v, "[1,2]");
}

TEST(ConfigRules, QueuesMbufsAndMemory)
{
    TempDir dir;
    Loaded a, b, c;
    a.load(dir, "[node]\nsname = a\n[eal]\nlcores = 0-3\nno_huge = true\nmem_mb = 64\n[port]\n"
                "pci = 0000:3b:00.0\nip = 10.0.0.1\nrx_desc = 1000\n[mempool]\nmbuf_count = 2047\n"
                "cache_size = 512\n");
    const cfg_diag *p = a.find("3 lcores would poll the port, but the engine runs 1 poller");
    ASSERT_NE(p, nullptr) << a.text();
    EXPECT_EQ(p->severity, CFG_SEV_WARNING); // the node runs, with idle lcores
    EXPECT_STREQ(p->fix, "lcores = 0-1");
    EXPECT_NE(a.find("1000 is not a multiple of 32"), nullptr) << a.text();
    const cfg_diag *m = a.find("mbufs are fewer than the rings and caches hold");
    ASSERT_NE(m, nullptr) << a.text();
    EXPECT_STREQ(m->fix, "set mbuf_count = 8191"); // the next 2^n - 1 above 4136
    EXPECT_NE(a.find("a NIC that does DMA should use hugepages"), nullptr) << a.text();
    b.load(dir, "[node]\nsname = a\n[eal]\nno_huge = true\nmem_mb = 16\n[port]\n"
                "vdev = net_null0\nip = 10.0.0.1\n");
    EXPECT_NE(b.find("the packet pool needs 19 MiB, the EAL gets 16 MiB"), nullptr) << b.text();
    c.load(dir, "[node]\nsname = a\n[eal]\nno_huge = true\nmem_mb = 40\n[port]\n"
                "vdev = net_null0\nip = 10.0.0.1\n");
    EXPECT_NE(c.find("leaving little for rings"), nullptr) << c.text();
    EXPECT_EQ(c.rc, 0);
}

TEST(ConfigRules, LanesFaultAndUnusedSections)
{
    TempDir dir;
    Loaded a, b, c;
    a.load(dir, with("[lanes]\nmax_msg_bytes = 256M\nwindow_frames = 1000\nmin_rto_us = 5000\n"
                     "max_rto_us = 2000\n"));
    EXPECT_NE(a.find("rx_window_bytes = 128M cannot receive a message of max_msg_bytes = 256M"),
              nullptr)
        << a.text();
    EXPECT_NE(a.find("tx_queue_bytes = 128M cannot take"), nullptr) << a.text();
    EXPECT_NE(a.find("1000 is not a power of two"), nullptr) << a.text();
    EXPECT_NE(a.find("max_rto_us 2000 is below min_rto_us 5000"), nullptr) << a.text();
    b.load(dir, with("[lanes]\nhb_interval_us = 100\nhb_missed_limit = 2\n[fault]\n"
                     "drop_rate = 0.01\ndelay_rate = 0.1\ndelay_us = 0\n"));
    EXPECT_EQ(b.rc, 0) << b.text();
    EXPECT_NE(b.find("longer than the 200 us after which a silent peer is down"), nullptr)
        << b.text();
    EXPECT_NE(b.find("fault injection is on"), nullptr) << b.text();
    EXPECT_NE(b.find("frames are delayed by 0 us"), nullptr) << b.text();
    EXPECT_TRUE(b.cfg->fault.enabled);
    c.load(dir, "[node]\nsname = a\n[lanes]\nmax_flows = 8\n[mempool]\n");
    EXPECT_EQ(c.rc, 0) << c.text();
    EXPECT_NE(c.find("not used: the file has no [port]"), nullptr) << c.text();
    EXPECT_EQ(c.diags.warnings, 1u) << c.text(); // [mempool] sets nothing
}

// --- the node's entry point ---------------------------------------------------------------

static std::string g_log;
static void capture(enum dlog_level, const char *line, void *)
{
    g_log += line;
    g_log += "\n";
}

TEST(ConfigNode, RefusesABrokenFileWithTheToolsMessages)
{
    TempDir dir;
    std::string path = dir.write("bad.ini", "[node]\nsname = a\n[eal]\nlcroes = 0\n");
    g_log.clear();
    dlog_set_hook(capture, nullptr);
    cfg_file cfg;
    int rc = cfg_load_for_node(path.c_str(), &cfg);
    dlog_set_hook(nullptr, nullptr);
    EXPECT_EQ(rc, -EINVAL);
    std::string expected = path + ":4: error: [eal] lcroes: unknown key; did you mean `lcores`? "
                                  "fix: rename it to lcores";
    EXPECT_NE(g_log.find(expected), std::string::npos) << g_log;
    EXPECT_NE(g_log.find("the node does not start"), std::string::npos) << g_log;

    std::string good = dir.write("good.ini", "[node]\nsname = a\n");
    EXPECT_EQ(cfg_load_for_node(good.c_str(), &cfg), 0);
    EXPECT_EQ(cfg_load_for_node((dir.path() + "/none.ini").c_str(), &cfg), -ENOENT);
}

// --- robustness ----------------------------------------------------------------------------

TEST(ConfigRobustness, RandomFilesNeverCrash)
{
    TempDir dir;
    std::mt19937 rng(12345);
    const std::string alphabet = "[]=#\\;,.-_@:/ \t\nabcdeilmnoprstuxy0123456789";
    std::vector<std::string> pieces = {"[node]\n",
                                       "[eal]\n",
                                       "[port]\n",
                                       "[lanes]\n",
                                       "sname = a\n",
                                       "lcores = ",
                                       "vdev = net_memif0,",
                                       "ip = 10.0.0.1\n",
                                       "mtu = ",
                                       "pci = ",
                                       "\n"};
    for (int round = 0; round < 300; round++) {
        std::string text;
        size_t len = rng() % 600;
        while (text.size() < len) {
            if (rng() % 3 == 0)
                text += pieces[rng() % pieces.size()];
            else
                text += alphabet[rng() % alphabet.size()];
        }
        if (rng() % 10 == 0)
            text += std::string(rng() % 500, 'z');
        Loaded l;
        l.load(dir, text, "r.ini");
        if (l.rc == 0) {
            char **argv;
            int argc;
            ASSERT_EQ(cfg_eal_argv(l.cfg.get(), "p", &argv, &argc), 0);
            free(argv);
        }
    }
}

} // namespace

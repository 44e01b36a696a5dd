// Tests of the config file's [node] section as dd_node_start applies it
// (runtime/api/api_node_cfg.c): a program that gives only config_file gets the node the file
// describes, and the precedence explicit > $ERL_EPMD_PORT > file > default holds field by
// field. Real nodes registered with the test process's EPMD, real handshakes.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "rt_test_util.h"
extern "C" {
#include "control/epmd/epmd_client.h"
}

using namespace rt_test;

namespace
{

// A config file written for one test, removed at the end of its scope.
struct CfgFile {
    std::string path;
    explicit CfgFile(const std::string &text, const std::string &tag)
    {
        path = "/tmp/dd-test-nodecfg-" + std::to_string(getpid()) + "-" + tag + ".ini";
        std::ofstream(path) << text;
    }
    ~CfgFile()
    {
        unlink(path.c_str());
    }
};

// Sets (or unsets, value nullptr) an environment variable for one scope.
struct EnvVar {
    std::string name, old;
    bool had;
    EnvVar(const char *n, const char *value) : name(n)
    {
        const char *o = getenv(n);
        had = o != nullptr;
        if (had)
            old = o;
        if (value)
            setenv(n, value, 1);
        else
            unsetenv(n);
    }
    ~EnvVar()
    {
        if (had)
            setenv(name.c_str(), old.c_str(), 1);
        else
            unsetenv(name.c_str());
    }
};

// Whether the test EPMD knows alive.
bool registered(const std::string &alive)
{
    struct epmd_lookup l;
    return epmd_client_port_please(nullptr, epmd_port(), alive.c_str(), 2000, &l) >= 0 &&
           l.found;
}

std::string alive_of(const dd_node *n)
{
    std::string full = dd_node_name(n);
    return full.substr(0, full.find('@'));
}

} // namespace

// Only config_file: the name, the EPMD port and the cookie all come from [node]. Before the
// library applied [node] this was DD_EINVAL ("give exactly one of sname and name").
TEST(RuntimeNodeCfg, OnlyTheConfigFileStartsTheNodeItNames)
{
    EnvVar env("ERL_EPMD_PORT", nullptr);
    std::string alive = fresh_name("cfgonly");
    std::string ck = "/tmp/dd-test-nodecfg-" + std::to_string(getpid()) + "-cookie";
    {
        std::ofstream(ck) << "filecookie\n";
    }
    ASSERT_EQ(chmod(ck.c_str(), 0400), 0);
    CfgFile f("[node]\nsname = " + alive + "\nepmd_port = " + std::to_string(epmd_port()) +
                  "\ncookie_file = " + ck + "\n",
              "only");
    struct dd_node_cfg cfg = {};
    cfg.config_file = f.path.c_str();
    dd_node *n = nullptr;
    int rc = dd_node_start(&cfg, &n);
    unlink(ck.c_str());
    ASSERT_EQ(rc, DD_OK) << dd_last_error();
    EXPECT_EQ(alive_of(n), alive);
    EXPECT_TRUE(registered(alive)) << "registered with [node] epmd_port";

    // the cookie from cookie_file: a peer with that cookie connects, one with another not
    NodeOpts same, other;
    same.cookie = "filecookie";
    other.cookie = "wrongcookie";
    Node b(fresh_name("cfgpeer"), same), c(fresh_name("cfgpeer"), other);
    ASSERT_TRUE(b.n && c.n);
    EXPECT_EQ(dd_ping(b.n, dd_node_name(n), 3000), DD_OK) << dd_last_error();
    EXPECT_NE(dd_ping(c.n, dd_node_name(n), 3000), DD_OK);
    dd_node_stop(n);
}

// Explicit settings beat the file: the caller's sname and cookie win over [node]'s.
TEST(RuntimeNodeCfg, ExplicitSettingsBeatTheFile)
{
    std::string file_alive = fresh_name("cfgfile"), mine = fresh_name("cfgmine");
    CfgFile f("[node]\nsname = " + file_alive + "\nticktime = 5\n", "explicit");
    struct dd_node_cfg cfg = {};
    cfg.config_file = f.path.c_str();
    cfg.sname = mine.c_str();
    cfg.cookie = "rtcookie";
    cfg.epmd_port = epmd_port();
    dd_node *n = nullptr;
    ASSERT_EQ(dd_node_start(&cfg, &n), DD_OK) << dd_last_error();
    EXPECT_EQ(alive_of(n), mine);
    EXPECT_TRUE(registered(mine));
    EXPECT_FALSE(registered(file_alive));
    Node b(fresh_name("cfgpeer"));
    ASSERT_TRUE(b.n);
    EXPECT_EQ(dd_ping(b.n, dd_node_name(n), 3000), DD_OK) << dd_last_error();
    dd_node_stop(n);
}

// $ERL_EPMD_PORT beats the file's epmd_port (a port where no EPMD listens): the node
// registers with the EPMD the environment names.
TEST(RuntimeNodeCfg, ErlEpmdPortBeatsTheFile)
{
    std::string port = std::to_string(epmd_port());
    EnvVar env("ERL_EPMD_PORT", port.c_str());
    std::string alive = fresh_name("cfgenv");
    CfgFile f("[node]\nsname = " + alive + "\nepmd_port = 1\n", "env");
    struct dd_node_cfg cfg = {};
    cfg.config_file = f.path.c_str();
    cfg.cookie = "rtcookie";
    dd_node *n = nullptr;
    ASSERT_EQ(dd_node_start(&cfg, &n), DD_OK) << dd_last_error();
    EXPECT_TRUE(registered(alive));
    dd_node_stop(n);
}

// Without $ERL_EPMD_PORT the file's epmd_port counts: port 1 has no EPMD, so the start
// fails at registration (and says so), where the default 4369 would be tried otherwise.
TEST(RuntimeNodeCfg, TheFilesEpmdPortIsUsedWithoutTheEnvironment)
{
    EnvVar env("ERL_EPMD_PORT", nullptr);
    std::string alive = fresh_name("cfgport");
    CfgFile f("[node]\nsname = " + alive + "\nepmd_port = 1\n", "port");
    struct dd_node_cfg cfg = {};
    cfg.config_file = f.path.c_str();
    cfg.cookie = "rtcookie";
    dd_node *n = nullptr;
    EXPECT_EQ(dd_node_start(&cfg, &n), DD_EEPMD);
    EXPECT_NE(std::string(dd_last_error()).find("port 1:"), std::string::npos) << dd_last_error();
    EXPECT_EQ(n, nullptr);
}

// A cookie_file that cannot be read is the config's fault: DD_ECONFIG (the file's check finds
// it before the node starts).
TEST(RuntimeNodeCfg, AnUnreadableCookieFileIsAConfigError)
{
    std::string alive = fresh_name("cfgck");
    CfgFile f("[node]\nsname = " + alive + "\ncookie_file = /nonexistent/dir/cookie\n", "ck");
    struct dd_node_cfg cfg = {};
    cfg.config_file = f.path.c_str();
    cfg.epmd_port = epmd_port();
    dd_node *n = nullptr;
    EXPECT_EQ(dd_node_start(&cfg, &n), DD_ECONFIG);
    EXPECT_NE(std::string(dd_last_error()).find(f.path), std::string::npos) << dd_last_error();
    EXPECT_FALSE(registered(alive));
}

// A broken file: DD_ECONFIG before anything starts.
TEST(RuntimeNodeCfg, ABrokenFileRefusesTheStart)
{
    std::string alive = fresh_name("cfgbad");
    CfgFile f("[node]\nsname = " + alive + "\nticktiem = 5\n", "bad");
    struct dd_node_cfg cfg = {};
    cfg.config_file = f.path.c_str();
    cfg.cookie = "rtcookie";
    cfg.epmd_port = epmd_port();
    dd_node *n = nullptr;
    EXPECT_EQ(dd_node_start(&cfg, &n), DD_ECONFIG);
    EXPECT_FALSE(registered(alive));
}

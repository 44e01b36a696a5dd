// Tests of the public command-line flags (runtime/api/api_args.c, dpdist/dpdist_args.h):
// every flag into struct dd_node_cfg, the other arguments kept in order, malformed values
// refused with the flag named, -loglevel and dd_log_set_level.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "dpdist/dpdist_args.h"
extern "C" {
#include "common/log.h"
}

namespace
{

// Parses {"prog", args...}; the strings live as long as the Argv.
struct Argv {
    std::vector<std::string> s;
    std::vector<char *> v;
    dd_args a{};
    int rc;
    Argv(std::initializer_list<const char *> args)
    {
        s.push_back("prog");
        for (const char *x : args)
            s.push_back(x);
        for (auto &x : s)
            v.push_back(&x[0]);
        v.push_back(nullptr);
        rc = dd_args_parse(int(s.size()), v.data(), &a);
    }
    ~Argv()
    {
        dd_args_free(&a);
    }
    std::vector<std::string> rest() const
    {
        std::vector<std::string> r;
        for (int i = 0; i < a.rest_argc; i++)
            r.push_back(a.rest_argv[i]);
        return r;
    }
};

// Restores the process's log level after a test changed it.
struct LevelGuard {
    enum dlog_level old = dlog_get_level();
    ~LevelGuard()
    {
        dlog_set_level(old);
    }
};

} // namespace

TEST(Args, EveryFlagFillsItsField)
{
    Argv p({"-sname", "foo", "-setcookie", "c00kie", "-hidden", "-epmd_port", "4370", "-ticktime",
            "15", "-setuptime", "3000", "-listen_min", "9100", "-listen_max", "9200", "-config",
            "/etc/dpdist/node.ini"});
    ASSERT_EQ(p.rc, DD_OK) << dd_last_error();
    EXPECT_STREQ(p.a.cfg.sname, "foo");
    EXPECT_EQ(p.a.cfg.name, nullptr);
    EXPECT_STREQ(p.a.cfg.cookie, "c00kie");
    EXPECT_TRUE(p.a.cfg.hidden);
    EXPECT_EQ(p.a.cfg.epmd_port, 4370);
    EXPECT_EQ(p.a.cfg.ticktime_s, 15u);
    EXPECT_EQ(p.a.cfg.setuptime_ms, 3000u);
    EXPECT_EQ(p.a.cfg.listen_port_min, 9100);
    EXPECT_EQ(p.a.cfg.listen_port_max, 9200);
    EXPECT_STREQ(p.a.cfg.config_file, "/etc/dpdist/node.ini");
    EXPECT_EQ(p.a.rest_argc, 0);
    ASSERT_NE(p.a.rest_argv, nullptr);
    EXPECT_EQ(p.a.rest_argv[0], nullptr);

    Argv l({"-name", "foo@host.example.com"});
    ASSERT_EQ(l.rc, DD_OK) << dd_last_error();
    EXPECT_STREQ(l.a.cfg.name, "foo@host.example.com");
    EXPECT_EQ(l.a.cfg.sname, nullptr);
}

// Everything that is not a node flag stays, in order, and a flag's value is consumed even
// when it looks like a flag.
TEST(Args, OtherArgumentsKeepTheirOrder)
{
    Argv p({"client", "-test", "rtt", "-sname", "-x", "-count", "5", "-hidden", "last"});
    ASSERT_EQ(p.rc, DD_OK) << dd_last_error();
    EXPECT_STREQ(p.a.cfg.sname, "-x");
    EXPECT_EQ(p.rest(), (std::vector<std::string>{"client", "-test", "rtt", "-count", "5", "last"}));
    EXPECT_EQ(p.a.rest_argv[p.a.rest_argc], nullptr);
}

// No name is required here (dd_node_start checks; a -config file may name the node).
TEST(Args, NoNameIsLeftToTheNodeStart)
{
    Argv p({"-config", "x.ini"});
    EXPECT_EQ(p.rc, DD_OK) << dd_last_error();
    EXPECT_EQ(p.a.cfg.sname, nullptr);
    EXPECT_EQ(p.a.cfg.name, nullptr);
}

TEST(Args, MalformedValuesAreRefusedNamingTheFlag)
{
    struct Case {
        std::initializer_list<const char *> args;
        const char *flag;
    };
    const Case cases[] = {
        {{"-epmd_port", "65536"}, "-epmd_port"}, {{"-epmd_port", "x"}, "-epmd_port"},
        {{"-epmd_port", "-1"}, "-epmd_port"},    {{"-epmd_port", ""}, "-epmd_port"},
        {{"-epmd_port", "12a"}, "-epmd_port"},   {{"-listen_min", "70000"}, "-listen_min"},
        {{"-listen_max", "1e3"}, "-listen_max"}, {{"-ticktime", "0"}, "-ticktime"},
        {{"-ticktime", "86401"}, "-ticktime"},   {{"-setuptime", "120001"}, "-setuptime"},
        {{"-ticktime", "99999999999999999999999"}, "-ticktime"},
        {{"-sname"}, "-sname"},                  {{"-setcookie"}, "-setcookie"},
        {{"x", "-config"}, "-config"},           {{"-loglevel", "loud"}, "-loglevel"},
        {{"-sname", "a", "-name", "b"}, "-sname"},
    };
    for (const Case &c : cases) {
        Argv p(c.args);
        EXPECT_EQ(p.rc, DD_EINVAL) << "accepted " << *c.args.begin();
        EXPECT_NE(std::string(dd_last_error()).find(c.flag), std::string::npos)
            << dd_last_error();
        EXPECT_EQ(p.a.rest_argv, nullptr) << "nothing left to free on failure";
        EXPECT_EQ(p.a.cfg.sname, nullptr);
    }
    Argv edge({"-epmd_port", "65535", "-ticktime", "86400", "-setuptime", "0"});
    EXPECT_EQ(edge.rc, DD_OK) << dd_last_error();
    EXPECT_EQ(edge.a.cfg.epmd_port, 65535);
}

TEST(Args, BadCallsAreRefused)
{
    dd_args a;
    char prog[] = "prog";
    char *argv[] = {prog, nullptr};
    EXPECT_EQ(dd_args_parse(1, argv, nullptr), DD_EINVAL);
    EXPECT_EQ(dd_args_parse(0, argv, &a), DD_EINVAL);
    EXPECT_EQ(dd_args_parse(1, nullptr, &a), DD_EINVAL);
    dd_args_free(nullptr);
}

TEST(Args, LogLevelFlagSetsTheProcessLevel)
{
    LevelGuard g;
    const char *names[] = {"error", "warning", "info", "debug"};
    for (int k = 3; k >= 0; k--) {
        Argv p({"-loglevel", names[k]});
        ASSERT_EQ(p.rc, DD_OK) << dd_last_error();
        EXPECT_EQ(int(dlog_get_level()), k) << names[k];
    }
    Argv bad({"-loglevel", "debug2"});
    EXPECT_EQ(bad.rc, DD_EINVAL);
    EXPECT_EQ(dlog_get_level(), DLOG_ERROR) << "a refused level changes nothing";
}

TEST(Args, LogSetLevel)
{
    LevelGuard g;
    EXPECT_EQ(dd_log_set_level(DD_LOG_DEBUG), DD_OK);
    EXPECT_EQ(dlog_get_level(), DLOG_DEBUG);
    EXPECT_TRUE(dlog_enabled(DLOG_DEBUG));
    EXPECT_EQ(dd_log_set_level(DD_LOG_ERROR), DD_OK);
    EXPECT_FALSE(dlog_enabled(DLOG_WARN));
    EXPECT_EQ(dd_log_set_level(static_cast<dd_log_level>(4)), DD_EINVAL);
    EXPECT_EQ(dd_log_set_level(static_cast<dd_log_level>(-1)), DD_EINVAL);
    EXPECT_EQ(dlog_get_level(), DLOG_ERROR);
}

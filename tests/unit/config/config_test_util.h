// Helpers for the tests of config/: temporary directories and files, loading a
// configuration from text, and finding diagnostics.
#ifndef DPDIST_TESTS_UNIT_RUNTIME_CONFIG_TEST_UTIL_H
#define DPDIST_TESTS_UNIT_RUNTIME_CONFIG_TEST_UTIL_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "config/cfg.h"
}

// A directory under /tmp, removed with everything in it at the end of the test.
class TempDir
{
  public:
    TempDir()
    {
        char tmpl[] = "/tmp/dpdist-cfgtest.XXXXXX";
        const char *p = mkdtemp(tmpl);
        path_ = p ? p : "";
    }
    ~TempDir()
    {
        if (!path_.empty() && path_.rfind("/tmp/dpdist-cfgtest.", 0) == 0) {
            std::string cmd = "rm -rf '" + path_ + "'";
            if (system(cmd.c_str()) != 0) {
            }
        }
    }
    const std::string &path() const
    {
        return path_;
    }
    // Writes rel (creating parent directories) and returns its full path.
    std::string write(const std::string &rel, const std::string &text) const
    {
        std::string full = path_ + "/" + rel;
        mkdirs(full.substr(0, full.rfind('/')));
        std::ofstream f(full, std::ios::binary);
        f << text;
        return full;
    }
    void mkdirs(const std::string &dir) const
    {
        std::string cmd = "mkdir -p '" + dir + "'";
        if (system(cmd.c_str()) != 0) {
        }
    }
    void symlink_to(const std::string &target, const std::string &rel) const
    {
        std::string full = path_ + "/" + rel;
        mkdirs(full.substr(0, full.rfind('/')));
        unlink(full.c_str());
        if (symlink(target.c_str(), full.c_str()) != 0) {
        }
    }

  private:
    std::string path_;
};

// A configuration loaded from text, with its diagnostics.
struct Loaded {
    std::unique_ptr<cfg_file> cfg{new cfg_file()};
    cfg_diags diags;
    int rc = 0;
    std::string file;

    Loaded()
    {
        cfg_diags_init(&diags);
    }
    ~Loaded()
    {
        cfg_diags_free(&diags);
    }
    Loaded(const Loaded &) = delete;
    Loaded &operator=(const Loaded &) = delete;

    void load(const TempDir &dir, const std::string &text, const std::string &name = "node.ini")
    {
        file = dir.write(name, text);
        rc = cfg_load(file.c_str(), cfg.get(), &diags);
    }

    // All diagnostics as the tool prints them, one per line.
    std::string text() const
    {
        std::string all;
        char buf[8192];
        for (size_t i = 0; i < diags.n; i++) {
            cfg_diag_format(&diags.v[i], buf, sizeof(buf));
            all += buf;
            all += "\n";
        }
        return all;
    }

    // The first diagnostic whose message contains `needle`, or nullptr.
    const cfg_diag *find(const std::string &needle) const
    {
        for (size_t i = 0; i < diags.n; i++)
            if (std::string(diags.v[i].message).find(needle) != std::string::npos)
                return &diags.v[i];
        return nullptr;
    }
};

// The smallest valid configuration with a data plane (a memif vdev, no hugepages).
static const char *const kMinimalMemif = "[node]\n"
                                         "sname = t1\n"
                                         "[eal]\n"
                                         "no_huge = true\n"
                                         "[port]\n"
                                         "vdev = net_memif0,role=server,socket=/tmp/t.sock,"
                                         "socket-abstract=no\n"
                                         "ip = 10.0.0.1\n";

#endif

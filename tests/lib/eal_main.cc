// main() of the GoogleTest suites that need DPDK's EAL (needs_eal = true in
// tests/unit/meson.build). EAL runs once per process, so it is initialised here, before any
// test, through dp_eal_init (the nodes the tests start then find it initialised and ignore
// their configs' EAL options).
//
// The EAL arguments are our own, never the command line: GoogleTest's flags and what meson
// appends (--gtest_output=...) would make rte_eal_init fail. --no-huge, --no-shconf and a file
// prefix of our own (no clash with other processes; --in-memory does not go with --no-huge in
// DPDK 22.11), --no-pci (no device is probed; the tests create their ports, e.g. crossed
// net_ring pairs), no telemetry (unless built with DD_EAL_TELEMETRY), one lcore; the runtime
// directory EAL still creates goes at exit. EAL pins the calling thread to that lcore; the test
// threads get the process's CPUs back so that the nodes' threads are not all squeezed onto one
// CPU.
#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

extern "C" {
#include "dataplane/dp.h"
}

int main(int argc, char **argv)
{
    testing::InitGoogleTest(&argc, argv); // takes the --gtest_* flags out of argv
    cpu_set_t cpus;
    bool have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;
    std::string prefix = "dpdist-unit-" + std::to_string(getpid());
    std::vector<std::string> args = {
        "dpdist-unit", "--no-shconf",    "--no-huge", "-m", "512",         "--file-prefix", prefix,
        "--no-pci",    "--no-telemetry", "-l",        "0",  "--log-level", "lib.eal:error"};
#ifdef DD_EAL_TELEMETRY // suites that query the telemetry socket (test_dp_telemetry.cc)
    args.erase(std::find(args.begin(), args.end(), "--no-telemetry"));
#endif
    std::vector<char *> eal_argv;
    for (auto &a : args)
        eal_argv.push_back(&a[0]);
    eal_argv.push_back(nullptr);
    char err[DP_ERR_LEN] = "";
    if (dp_eal_init(int(eal_argv.size()) - 1, eal_argv.data(), err, sizeof(err)) < 0) {
        fprintf(stderr, "eal_main: %s\n", err);
        return 1;
    }
    if (have_cpus)
        pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
    int rc = RUN_ALL_TESTS();
    dp_eal_release();
    std::error_code ec;
    std::filesystem::remove_all("/var/run/dpdk/" + prefix, ec); // what EAL leaves even so
    return rc;
}

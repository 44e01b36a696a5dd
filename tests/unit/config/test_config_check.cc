// Tests of config/cfg_check.c: the system checks against a fake sysfs/procfs tree built
// in a temporary directory (nothing of the real machine is read), and the clashes between
// configurations of one host.
#include "config_test_util.h"

#include <cstring>
#include <sys/stat.h>

namespace
{

// A machine with 8 CPUs (node 0: 0-3, node 1: 4-7), 512 free 2 MiB pages per node, and
// an Intel NIC 0000:3b:00.0 on node 0 bound to vfio-pci.
class FakeMachine : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        sys_ = dir_.path() + "/sys";
        proc_ = dir_.path() + "/proc";
        put("sys/devices/system/cpu/present", "0-7\n");
        put("sys/devices/system/cpu/online", "0-7\n");
        put("sys/devices/system/node/node0/cpulist", "0-3\n");
        put("sys/devices/system/node/node1/cpulist", "4-7\n");
        pages(0, 512);
        pages(1, 512);
        put("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "1024\n");
        put("sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages", "0\n");
        nic("0000:3b:00.0", "0x8086", "0", "vfio-pci");
        dir_.mkdirs(sys_ + "/kernel/iommu_groups/7");
        dir_.symlink_to("../../../../kernel/iommu_groups/7",
                        "sys/bus/pci/devices/0000:3b:00.0/iommu_group");
        put("proc/mounts", "hugetlbfs /dev/hugepages hugetlbfs rw,pagesize=2M 0 0\n");
        const char *hdr = "  sl  local_address rem_address   st tx_queue rx_queue\n";
        for (const char *f : {"udp", "udp6", "tcp", "tcp6"})
            put(std::string("proc/net/") + f, hdr);
    }

    void put(const std::string &rel, const std::string &text)
    {
        dir_.write(rel, text);
    }
    void pages(int node, int free2m)
    {
        put("sys/devices/system/node/node" + std::to_string(node) +
                "/hugepages/hugepages-2048kB/free_hugepages",
            std::to_string(free2m) + "\n");
    }
    void nic(const std::string &pci, const std::string &vendor, const std::string &numa,
             const std::string &driver)
    {
        std::string dev = "sys/bus/pci/devices/" + pci;
        put(dev + "/vendor", vendor + "\n");
        put(dev + "/numa_node", numa + "\n");
        if (!driver.empty()) {
            dir_.mkdirs(sys_ + "/bus/pci/drivers/" + driver);
            dir_.symlink_to("../../drivers/" + driver, dev + "/driver");
        } else {
            unlink((dir_.path() + "/" + dev + "/driver").c_str());
        }
    }

    // Loads text (which must be valid) and runs the system checks on it.
    void check(Loaded &l, const std::string &text)
    {
        l.load(dir_, text);
        ASSERT_EQ(l.rc, 0) << l.text();
        cfg_sysroot root = {sys_.c_str(), proc_.c_str()};
        l.rc = cfg_check_system(l.cfg.get(), &root, &l.diags);
    }

    TempDir dir_;
    std::string sys_, proc_;
};

static const char *const kNic = "[node]\nsname = n\n[eal]\nlcores = 0-1\nsocket_mem = 512,0\n"
                                "[port]\npci = 0000:3b:00.0\nip = 192.168.1.5\n";

TEST_F(FakeMachine, AGoodConfigPasses)
{
    Loaded l;
    check(l, kNic);
    EXPECT_EQ(l.rc, 0) << l.text();
    EXPECT_EQ(l.diags.n, 0u) << l.text();
}

TEST_F(FakeMachine, MissingDevice)
{
    Loaded l;
    std::string text = kNic;
    text.replace(text.find("3b:00.0"), 7, "5e:00.0");
    check(l, text);
    EXPECT_EQ(l.rc, -EINVAL);
    const cfg_diag *g = l.find("no PCI device 0000:5e:00.0 on this machine");
    ASSERT_NE(g, nullptr) << l.text();
    EXPECT_EQ(g->line, 7u);
    EXPECT_STREQ(g->key, "pci");
}

TEST_F(FakeMachine, DeviceBoundToTheKernelDriver)
{
    nic("0000:3b:00.0", "0x8086", "0", "i40e");
    put("sys/bus/pci/devices/0000:3b:00.0/net/ens1f0/operstate", "up\n");
    Loaded l;
    check(l, kNic);
    const cfg_diag *g = l.find("is bound to i40e, another driver; it needs vfio-pci");
    ASSERT_NE(g, nullptr) << l.text();
    EXPECT_NE(std::string(g->message).find("(interface ens1f0, up)"), std::string::npos);
    EXPECT_NE(std::string(g->fix).find("is it your SSH link?"), std::string::npos);
}

TEST_F(FakeMachine, UnboundDeviceAndNoIommu)
{
    nic("0000:3b:00.0", "0x8086", "0", "");
    unlink((sys_ + "/bus/pci/devices/0000:3b:00.0/iommu_group").c_str());
    Loaded l;
    check(l, kNic);
    EXPECT_NE(l.find("is not bound to any driver; it needs vfio-pci"), nullptr) << l.text();
    const cfg_diag *w = l.find("has no IOMMU group");
    ASSERT_NE(w, nullptr) << l.text();
    EXPECT_EQ(w->severity, CFG_SEV_WARNING);
}

TEST_F(FakeMachine, NicOnAnotherNumaNode)
{
    nic("0000:3b:00.0", "0x8086", "1", "vfio-pci");
    Loaded l;
    check(l, kNic);
    const cfg_diag *g =
        l.find("polling lcore 1 is on NUMA node 0, the NIC 0000:3b:00.0 on node 1");
    ASSERT_NE(g, nullptr) << l.text();
    EXPECT_STREQ(g->fix, "poll from CPUs of node 1: 4-7");
    EXPECT_NE(l.find("no memory on NUMA node 1, where the NIC is"), nullptr) << l.text();
    EXPECT_EQ(l.find("lcore 0 is on"), nullptr) << "the main lcore does not poll";
}

TEST_F(FakeMachine, MellanoxNeedsItsKernelDriver)
{
    nic("0000:af:00.0", "0x15b3", "0", "mlx5_core");
    Loaded l;
    std::string text = kNic;
    text.replace(text.find("0000:3b:00.0"), 12, "0000:af:00.0");
    check(l, text + "driver = vfio-pci\n");
    EXPECT_NE(l.find("is a Mellanox device"), nullptr) << l.text();

    Loaded ok;
    check(ok, text + "driver = auto\n");
    EXPECT_EQ(ok.rc, 0) << ok.text();

    Loaded intel;
    check(intel, std::string(kNic) + "driver = kernel\n");
    EXPECT_NE(intel.find("is not a Mellanox device"), nullptr) << intel.text();
}

// The kernel drops frames above an interface's MTU: an af_packet port's interface, and the
// netdev of a bifurcated NIC, must take [port] mtu. An interface this check cannot see (in
// another network namespace) is not a problem.
TEST_F(FakeMachine, AKernelInterfaceMustTakeTheMtu)
{
    put("sys/class/net/veth1/mtu", "1500\n");
    auto afp = [](const std::string &port_lines) {
        return "[node]\nsname = n\n[eal]\nlcores = 0-1\nno_huge = true\nmem_mb = 256\n[port]\n"
               "vdev = net_af_packet0,iface=veth1,qpairs=2,framesz=9216\nip = 10.0.0.1\n" +
               port_lines + "[mempool]\ndata_room = 9344\n";
    };
    Loaded jumbo;
    check(jumbo, afp("mtu = 9000\n"));
    EXPECT_EQ(jumbo.rc, -EINVAL);
    const cfg_diag *g = jumbo.find("interface veth1 has MTU 1500: the kernel drops the data "
                                   "plane's frames of mtu 9000");
    ASSERT_NE(g, nullptr) << jumbo.text();
    EXPECT_STREQ(g->key, "mtu");
    EXPECT_NE(strstr(g->fix, "ip link set veth1 mtu 9000"), nullptr) << g->fix;

    Loaded standard;
    check(standard, afp(""));
    EXPECT_EQ(standard.rc, 0) << standard.text();

    put("sys/class/net/veth1/mtu", "9000\n");
    Loaded raised;
    check(raised, afp("mtu = 9000\n"));
    EXPECT_EQ(raised.rc, 0) << raised.text();

    Loaded elsewhere; // veth9 is not visible here
    std::string text = afp("mtu = 9000\n");
    text.replace(text.find("veth1"), 5, "veth9");
    check(elsewhere, text);
    EXPECT_EQ(elsewhere.rc, 0) << elsewhere.text();

    nic("0000:af:00.0", "0x15b3", "0", "mlx5_core");
    put("sys/bus/pci/devices/0000:af:00.0/net/ens5/mtu", "1500\n");
    put("sys/bus/pci/devices/0000:af:00.0/net/ens5/operstate", "up\n");
    Loaded mlx;
    std::string nic_text = kNic;
    nic_text.replace(nic_text.find("0000:3b:00.0"), 12, "0000:af:00.0");
    check(mlx, nic_text + "mtu = 9000\n[mempool]\ndata_room = 9344\n");
    EXPECT_NE(mlx.find("interface ens5 has MTU 1500"), nullptr) << mlx.text();
}

TEST_F(FakeMachine, LcoresMissingOrOffline)
{
    put("sys/devices/system/cpu/online", "0-1,3-7\n");
    Loaded l;
    std::string text = kNic;
    text.replace(text.find("lcores = 0-1"), 12, "lcores = 0,2,9,12");
    check(l, text);
    const cfg_diag *g = l.find("CPUs 9,12 do not exist on this machine (online: 0-1,3-7)");
    ASSERT_NE(g, nullptr) << l.text();
    EXPECT_NE(l.find("CPU 2 is offline"), nullptr) << l.text();
}

TEST_F(FakeMachine, Hugepages)
{
    pages(0, 100);
    Loaded l;
    check(l, kNic);
    const cfg_diag *g = l.find("NUMA node 0 has 200 MiB of free hugepages, 512 are asked for");
    ASSERT_NE(g, nullptr) << l.text();
    EXPECT_NE(std::string(g->fix).find("reserve 156 more 2 MiB pages on node 0"), std::string::npos)
        << g->fix;

    Loaded node2;
    std::string text = kNic;
    text.replace(text.find("512,0"), 5, "512,0,64");
    check(node2, text);
    EXPECT_NE(node2.find("NUMA node 2 does not exist on this machine"), nullptr) << node2.text();

    put("proc/mounts", "proc /proc proc rw 0 0\n");
    put("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "10\n");
    Loaded any;
    text = kNic;
    text.replace(text.find("socket_mem = 512,0"), 18, "mem_mb = 64");
    check(any, text);
    EXPECT_NE(any.find("no hugetlbfs is mounted"), nullptr) << any.text();
    EXPECT_NE(any.find("20 MiB of hugepages are free, mem_mb asks for 64 MiB"), nullptr)
        << any.text();

    Loaded nohuge;
    check(nohuge, "[node]\nsname = m\n[eal]\nno_huge = true\n[port]\nvdev = net_null0\n"
                  "ip = 10.0.0.1\n");
    EXPECT_EQ(nohuge.rc, 0) << nohuge.text();
}

TEST_F(FakeMachine, LocalListeners)
{
    // 10.77.0.1:4370 as the kernel prints it on a little-endian host
    put("proc/net/udp", "  sl  local_address rem_address   st\n"
                        "   1: 01004D0A:1112 00000000:0000 07 00000000:00000000 00:0 0 0\n");
    const char *af = "[node]\nsname = p\nlisten_port_min = 4380\nlisten_port_max = 4381\n"
                     "[eal]\nno_huge = true\n[port]\nvdev = net_af_packet0,iface=veth0\n"
                     "ip = 10.77.0.1\n";
    Loaded l;
    check(l, af);
    EXPECT_NE(l.find("a local socket already uses UDP port 4370 on 10.77.0.1"), nullptr)
        << l.text();
    EXPECT_NE(l.find("there is no interface veth0"), nullptr) << l.text();

    // memif: the kernel never sees these frames, so no clash
    Loaded memif;
    check(memif, "[node]\nsname = q\n[eal]\nno_huge = true\n[port]\nvdev = net_memif0\n"
                 "ip = 10.77.0.1\n");
    EXPECT_EQ(memif.find("local socket"), nullptr) << memif.text();

    // every listen port taken (one on the wildcard address, one on ours)
    put("proc/net/tcp", "  sl  local_address rem_address   st\n"
                        "   0: 00000000:111C 00000000:0000 0A 0\n"
                        "   1: 0100007F:111D 00000000:0000 0A 0\n");
    Loaded some;
    check(some, "[node]\nsname = r\nlisten_address = 10.0.0.1\nlisten_port_min = 4380\n"
                "listen_port_max = 4381\n");
    EXPECT_EQ(some.rc, 0) << "4381 is taken on 127.0.0.1 only: " << some.text();
    Loaded all;
    check(all, "[node]\nsname = r\nlisten_port_min = 4380\nlisten_port_max = 4381\n");
    EXPECT_NE(all.find("every TCP port from 4380 to 4381 already has a listener"), nullptr)
        << all.text();
}

TEST_F(FakeMachine, CookieFile)
{
    std::string cookie = dir_.write("cookie", "SECRET");
    chmod(cookie.c_str(), 0644);
    Loaded l;
    check(l, "[node]\nsname = c\ncookie_file = " + cookie + "\n");
    EXPECT_NE(l.find("can be read by others (mode 644)"), nullptr) << l.text();
    chmod(cookie.c_str(), 0400);
    Loaded ok;
    check(ok, "[node]\nsname = c\ncookie_file = " + cookie + "\n");
    EXPECT_EQ(ok.rc, 0) << ok.text();
    Loaded missing;
    check(missing, "[node]\nsname = c\ncookie_file = " + cookie + ".none\n");
    EXPECT_NE(missing.find("cannot read"), nullptr) << missing.text();
}

TEST_F(FakeMachine, UnreadableSysfsIsAWarningNotACrash)
{
    unlink((sys_ + "/devices/system/cpu/online").c_str());
    Loaded l;
    check(l, kNic);
    const cfg_diag *g = l.find("lcores not checked");
    ASSERT_NE(g, nullptr) << l.text();
    EXPECT_EQ(g->severity, CFG_SEV_WARNING);
}

TEST(ConfigPeers, Clashes)
{
    TempDir dir;
    Loaded a, b, c;
    const char *one = "[node]\nsname = x\n[eal]\nlcores = 0\nno_huge = true\nfile_prefix = p\n"
                      "[port]\nvdev = net_memif0,role=server,socket=/run/dpdist/m.sock\n"
                      "ip = 10.0.0.1\n";
    a.load(dir, one, "a.ini");
    b.load(dir, one, "b.ini");
    c.load(dir,
           "[node]\nsname = y\n[eal]\nlcores = 1\nno_huge = true\n[port]\n"
           "vdev = net_memif0,role=client,socket=/run/dpdist/m.sock\nip = 10.0.0.2\n",
           "c.ini");
    const cfg_file *all[] = {a.cfg.get(), b.cfg.get(), c.cfg.get()};
    cfg_diags d;
    cfg_diags_init(&d);
    EXPECT_EQ(cfg_check_peers(all, 3, &d), -EINVAL);
    std::string text;
    char buf[1024];
    for (size_t i = 0; i < d.n; i++) {
        cfg_diag_format(&d.v[i], buf, sizeof(buf));
        text += std::string(buf) + "\n";
        EXPECT_NE(std::string(d.v[i].file).find("b.ini"), std::string::npos) << buf;
    }
    for (const char *want :
         {"node name x is also used by", "file prefix p is also used by",
          "10.0.0.1 UDP port 4370 is also the data-plane address of",
          "is also a memif server on /run/dpdist/m.sock", "lcore 0 is also used by"})
        EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
    EXPECT_EQ(d.errors, 4u) << text;
    EXPECT_EQ(d.warnings, 1u) << text;
    cfg_diags_free(&d);

    const cfg_file *pair[] = {a.cfg.get(), c.cfg.get()};
    cfg_diags_init(&d);
    EXPECT_EQ(cfg_check_peers(pair, 2, &d), 0); // server and client on one socket: the point
    EXPECT_EQ(d.n, 0u);
    cfg_diags_free(&d);
}

} // namespace

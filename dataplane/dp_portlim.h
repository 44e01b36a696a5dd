/* The largest Ethernet frame each kind of port carries in one buffer, read from its device
 * string the way the poll-mode driver reads it (dp_devargs.h). The engine refuses to start a
 * port whose MTU makes larger frames (dp_engine.c setup_port), and `dpdist-config check`
 * refuses such a file (config/cfg_rules.c), both from this one function, so the check and the
 * node never disagree. docs/dataplane.md "Frame size" says where each number comes from.
 *
 *   net_memif       bsize (default 2048, at most 65535: the driver keeps it in 16 bits). A
 *                   frame larger than bsize is chained over several memif descriptors, and
 *                   DPDK 22.11.11 loses and corrupts chained frames under backpressure
 *                   (/work/shared/reference/dpdk-here.md), so a frame must fit one buffer.
 *   net_af_packet   framesz (default 2048) minus 66: the kernel's receive ring puts the frame
 *                   at offset 66 of a slot (TPACKET_ALIGN(tpacket2 header + sockaddr_ll + 16)
 *                   minus the 14-byte Ethernet header) and truncates what does not fit. The
 *                   interface's own MTU is a limit too: the system check reads it
 *                   (config/cfg_check.c), the engine asks the driver to set it.
 *   others          no limit of the device kind known here (net_ring: the mbuf data room is
 *                   the limit, checked by both; a NIC: its max_mtu, known only once probed).
 *
 * Header only, no EAL needed (rte_kvargs is a plain parser). Slow path: each call parses the
 * string again.
 */
#ifndef DPDIST_DATAPLANE_DP_PORTLIM_H
#define DPDIST_DATAPLANE_DP_PORTLIM_H

#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_devargs.h"

#define DP_ETH_HDR_BYTES              14
#define DP_MEMIF_BSIZE_DEFAULT_BYTES  2048u
#define DP_MEMIF_BSIZE_MAX_BYTES      65535u
#define DP_AFPACKET_FRAMESZ_DEFAULT   2048u
#define DP_AFPACKET_RX_MAC_OFF_BYTES  66u
/* where the driver's frames start in a slot (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)):
 * it wants mbufs of framesz minus this many data bytes */
#define DP_AFPACKET_TX_DATA_OFF_BYTES 32u
#define DP_PORTLIM_NONE               0u /* no limit known for the device kind */

/* What limits the frames of a port: the devarg that sets it (empty when none), its value and
 * the largest frame in bytes (DP_PORTLIM_NONE when the kind has no known limit). */
struct dp_portlim {
    const char *devarg; /* "bsize", "framesz" or "" */
    unsigned devarg_value;
    unsigned frame_max_bytes;
};

static inline unsigned dp_portlim_arg(const char *dev, const char *key, unsigned dflt)
{
    char v[16];
    if (!dp_devargs_get(dev, key, v, sizeof(v)))
        return dflt;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end || n > 0xffffffffu ? 0 : (unsigned)n; /* 0: unreadable, refused below */
}

/* The limit of the port dev ("net_memif0,bsize=9216,...", or a PCI address). */
static inline struct dp_portlim dp_portlim_of(const char *dev)
{
    struct dp_portlim l = {"", 0, DP_PORTLIM_NONE};
    if (strncmp(dev, "net_memif", 9) == 0) {
        l.devarg = "bsize";
        l.devarg_value = dp_portlim_arg(dev, "bsize", DP_MEMIF_BSIZE_DEFAULT_BYTES);
        l.frame_max_bytes = l.devarg_value > DP_MEMIF_BSIZE_MAX_BYTES ? 0 : l.devarg_value;
    } else if (strncmp(dev, "net_af_packet", 13) == 0) {
        l.devarg = "framesz";
        l.devarg_value = dp_portlim_arg(dev, "framesz", DP_AFPACKET_FRAMESZ_DEFAULT);
        l.frame_max_bytes = l.devarg_value > DP_AFPACKET_RX_MAC_OFF_BYTES
                                ? l.devarg_value - DP_AFPACKET_RX_MAC_OFF_BYTES
                                : 0;
    }
    return l;
}

/* The devarg value that carries frames of frame_bytes on a port of l's kind. */
static inline unsigned dp_portlim_devarg_for(const struct dp_portlim *l, unsigned frame_bytes)
{
    return l->devarg[0] == 'f' ? frame_bytes + DP_AFPACKET_RX_MAC_OFF_BYTES : frame_bytes;
}

#endif

/* The key=value arguments of a device string ("net_memif0,role=server,socket=/run/x.sock")
 * read exactly as the poll-mode drivers read them: with DPDK's rte_kvargs. The engine uses
 * it for its own net_ring pairs (dp_engine.c), the configuration checks for every vdev
 * (config: cfg_vdev_arg), so a check never accepts what the driver will read differently —
 * e.g. a value containing '=' ("socket=/tmp/a=b"), which rte_kvargs does not take as a
 * value of that key at all.
 *
 * Header only (static inline), no EAL needed: rte_kvargs is a plain parser. Slow path: it
 * allocates a copy of the string per call.
 */
#ifndef DPDIST_DATAPLANE_DP_DEVARGS_H
#define DPDIST_DATAPLANE_DP_DEVARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <rte_kvargs.h>

/* The first value of `key` in the arguments of dev (everything after its first ','), copied
 * (truncated to len - 1 bytes) into buf: true; false when dev has no such key=value (a key
 * given without '=' has no value) or the arguments do not parse. */
static inline bool dp_devargs_get(const char *dev, const char *key, char *buf, size_t len)
{
    const char *args = strchr(dev, ',');
    if (!args)
        return false;
    struct rte_kvargs *kv = rte_kvargs_parse(args + 1, NULL);
    if (!kv)
        return false;
    const char *v = rte_kvargs_get(kv, key);
    if (v && len)
        snprintf(buf, len, "%s", v);
    rte_kvargs_free(kv);
    return v != NULL;
}

static inline bool dp_devargs_has(const char *dev, const char *key)
{
    char v[1];
    return dp_devargs_get(dev, key, v, sizeof(v));
}

#endif

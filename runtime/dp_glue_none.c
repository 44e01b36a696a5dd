/* The data-plane glue when a node has no data plane (TCP only): advertises nothing but the
 * dpdist marker, and every connection stays on the TCP carrier. Replaced by dp_glue.c when
 * the DPDK data plane is built in. */
#include <string.h>

#include "common/log.h"
#include "runtime/dp_glue.h"

/* Handshake trailer: "DPDIST" + version. BEAM ignores bytes after the name. */
static const uint8_t dp_marker[] = {'D', 'P', 'D', 'I', 'S', 'T', 1};

int dp_glue_start(struct dd_node *n, const char *config_file, char *err, size_t errlen)
{
    (void)n;
    if (config_file) {
        snprintf(err, errlen, "this build has no DPDK data plane (config %s)", config_file);
        return DD_ECONFIG;
    }
    return DD_OK;
}

void dp_glue_stop(struct dd_node *n)
{
    (void)n;
}

size_t dp_glue_trailer(struct dd_node *n, uint8_t *buf, size_t cap)
{
    (void)n;
    if (cap < sizeof(dp_marker))
        return 0;
    memcpy(buf, dp_marker, sizeof(dp_marker));
    return sizeof(dp_marker);
}

size_t dp_glue_epmd_extra(struct dd_node *n, uint8_t *buf, size_t cap)
{
    (void)n;
    (void)buf;
    (void)cap;
    return 0;
}

bool dp_glue_parse_trailer(struct dd_conn *c, const uint8_t *t, size_t len)
{
    (void)c;
    return len >= sizeof(dp_marker) && memcmp(t, dp_marker, sizeof(dp_marker) - 1) == 0;
}

void dp_glue_note_extra(struct dd_conn *c, const uint8_t *extra, size_t len)
{
    (void)c;
    (void)extra;
    (void)len;
}

void dp_glue_maybe_upgrade(struct dd_conn *c)
{
    (void)c;
}

void dp_glue_upgrade_msg(struct dd_conn *c, const char *term, size_t len)
{
    (void)term;
    (void)len;
    DLOG_INFO(c->node->log_name, "%s offers a data-plane upgrade; this node has none", c->peer);
}

void dp_glue_detach(struct dd_conn *c)
{
    (void)c;
}

void dp_glue_consumed(struct dd_conn *c, size_t bytes)
{
    (void)c;
    (void)bytes;
}

enum dd_carrier_kind dp_glue_carrier_kind(struct dd_conn *c)
{
    (void)c;
    return DD_CARRIER_TCP;
}

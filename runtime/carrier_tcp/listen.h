/* The distribution listener (runtime/carrier_tcp/listen.c). */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_LISTEN_H
#define DPDIST_RUNTIME_CARRIER_TCP_LISTEN_H

#include <stddef.h>

#include "dpdist/dpdist.h"

struct dd_node;

/* Binds n's listener as cfg says (listen_address, listen_port_min..max; without an address
 * "::" with IPV6_V6ONLY off, or 0.0.0.0 on a kernel without IPv6): sets n->tcp->listen_fd,
 * listen_port, listen_address. 0, or -1 with the reason in err. */
int listen_open(struct dd_node *n, const struct dd_node_cfg *cfg, char *err, size_t errlen);
/* Registers the listener with the control thread: accepted connections start their
 * handshake (0 or -errno). */
int listen_register(struct dd_node *n);

#endif

/* dpc_engine: a DPDK engine from a configuration file, for whoever owns a port: a node
 * (dpc_start.c) or the host's dpdist-agent (tools/dpdist-agent.c). It knows the config and the
 * data plane, never the node: a program that links it gets EAL and the engine, not the
 * runtime (the linker takes this object alone from ddrt_dpdk).
 *
 * Slow path: one thread, at start and stop. Not thread-safe against itself (EAL is one per
 * process; a second engine in the process finds EAL up and shares it). */
#ifndef DPDIST_RUNTIME_CARRIER_DPDK_DPC_ENGINE_H
#define DPDIST_RUNTIME_CARRIER_DPDK_DPC_ENGINE_H

#include <stddef.h>

#include "common/budget.h"
#include "config/cfg.h"
#include "dataplane/dp.h"

/* What the owner adds to the file's values. */
struct dpc_engine_hooks {
    const char *name;            /* for logs and telemetry; borrowed for the engine's life */
    struct budget *reasm_budget; /* shared reassembly budget; borrowed for the engine's life */
    void (*poller_init)(void *arg);
    void *poller_arg;
    void (*notify)(void *arg);
    void *notify_arg;
};

/* The engine's parameters from the file's [port], [mempool], [lanes], [fault], [eal]. */
void dpc_engine_params(const struct cfg_file *cfg, const struct dpc_engine_hooks *h,
                       struct dp_engine_params *p);

/* EAL (from cfg_eal_argv; its argument vector is kept for the process's life, as EAL needs)
 * and the engine on the file's port. cfg must have a [port]. Returns the engine, or NULL with
 * err and *rc: -ENOMEM, -EINVAL (the EAL arguments cannot be built), -EIO (EAL or the port
 * refused; err says why). Nothing is left behind on failure. */
struct dp_engine *dpc_engine_start(const struct cfg_file *cfg, const struct dpc_engine_hooks *h,
                                   int *rc, char *err, size_t errlen);

/* The engine's end, then EAL's (its user count). Channels must be closed, and their RCU
 * callbacks run, before (urcu_qsbr_barrier). */
void dpc_engine_stop(struct dp_engine *e);

#endif

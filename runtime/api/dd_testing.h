/* Test machinery of the node API: functions that programs of the public API do not need.
 * Not installed (include/dpdist/ holds the public headers only) and not exported by
 * libdpdist.so (declared here without DD_EXPORT, so hidden at -fvisibility=hidden): the
 * tests and stress programs that call them link the internal static libraries. */
#ifndef DPDIST_DD_TESTING_H
#define DPDIST_DD_TESTING_H

#include <stdbool.h>
#include <stdint.h>

#include "dpdist/dpdist.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Turn the data plane's fault injection ([fault] in the config) off or back on, for tests
 * that check recovery.
 *
 * @param node    the node.
 * @param enable  true: inject the configured faults; false: stop injecting.
 * @return  DD_OK; DD_EINVAL (NULL node); DD_ENOTFOUND without a data plane or without a
 *   [fault] section.
 * Thread safety: any thread (the poller reads the flag atomically). Blocks: no.
 */
int dd_dataplane_fault(dd_node *node, bool enable);

/**
 * How the node's receivers wait before they sleep (runtime/core/mbox.c), as decided at
 * node start from the CPUs the process may run on.
 *
 * @param node     the node.
 * @param spin_ns  out: how long a receiver spins.
 * @param yields   out: whether the spin yields the core (one CPU only).
 * @return  DD_OK; DD_EINVAL (NULL argument).
 */
int dd_testing_mbox_spin(const dd_node *node, uint64_t *spin_ns, bool *yields);

/**
 * mbox_spin_skip_after: the waits of a mailbox that sleep at once after one that spun (one
 * CPU), from whether it spun, whether its message came, whether the core was busy.
 */
unsigned dd_testing_mbox_spin_skip_after(bool spun, bool ready, bool busy);

#ifdef __cplusplus
}
#endif

#endif

/* Test machinery of the node API: functions that programs of the public API do not need.
 * Not installed (include/dpdist/ holds the public headers only) and not exported by
 * libdpdist.so (declared here without DD_EXPORT, so hidden at -fvisibility=hidden): the
 * tests and stress programs that call them link the internal static libraries. */
#ifndef DPDIST_DD_TESTING_H
#define DPDIST_DD_TESTING_H

#include <stdbool.h>

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

#ifdef __cplusplus
}
#endif

#endif

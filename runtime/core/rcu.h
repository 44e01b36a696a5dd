/* RCU read-side sections for any thread of the process (liburcu, QSBR flavour).
 *
 * The data plane's polling lcores are QSBR readers for their whole life and announce a
 * quiescent state every loop iteration. Other threads (the control thread, application
 * threads calling dd_*) read the same RCU tables only now and then: rcu_rd_enter()
 * registers the thread on first use (and unregisters it when the thread exits), brings it
 * online and takes the read lock; rcu_rd_leave() releases it and takes the thread offline, so
 * an idle application thread never holds up a grace period. Sections nest.
 *
 * Writers free memory with call_rcu() or after synchronize_rcu(); a thread must not call
 * synchronize_rcu() inside a read-side section.
 */
#ifndef DPDIST_RUNTIME_CORE_RCU_H
#define DPDIST_RUNTIME_CORE_RCU_H

#include <urcu/urcu-qsbr.h>

void rcu_rd_enter(void);
void rcu_rd_leave(void);
/* For threads that are QSBR readers for good (polling lcores, which call
 * urcu_qsbr_register_thread themselves and announce quiescent states in their loop): makes
 * rcu_rd_enter/leave no-ops on this thread. */
void rcu_rd_mark_permanent(void);
/* Whether this thread is inside an rcu_rd_enter() section. */
int rcu_rd_depth(void);

#endif

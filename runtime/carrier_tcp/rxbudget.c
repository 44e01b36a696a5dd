/* The node's reassembly memory on the TCP carrier: see rxbudget.h.
 *
 * Algorithm
 *   Every buffer that holds a message being received draws from node->reasm_budget: a
 *   fragmented message reserves its whole estimated size at its start fragment
 *   (control/distmsg_reasm.c), a packet longer than RXB_FREE_PACKET_BYTES reserves its length
 *   when its length arrives (tcpc.c), a DPDK message buffer its length (dataplane/reasm.c).
 *   When the budget has no room for what a TCP packet starts, that connection stops being
 *   read, with the packet left unread at the front of its receive buffer (rxb_wait), and joins
 *   the node's wait list. Whenever memory comes back (and on the periodic timer) every waiting
 *   connection reads on from that packet (rxb_resume): it either fits now or waits again.
 *   Lossless: nothing is dropped, TCP pushes back on the sender, and a waiting socket is not
 *   silence (tcpc_tick does not count the time against net_ticktime).
 *
 * Invariants
 *   - a message in progress never waits: its start reserved all it needs (honest senders),
 *     so the bytes held by connections that are being read always come back;
 *   - a connection waits only if some memory in use belongs to a connection that is not
 *     waiting (or to the data plane): otherwise, if it holds memory itself, waiting could
 *     never end (every holder waiting for another), and it is closed instead. A connection
 *     that holds nothing may always wait: it keeps nobody else from finishing.
 *   - rxb_waiting_bytes == sum of rxb_waiting_held over the wait list; what a waiting
 *     connection holds does not change while it is not read.
 *
 * Bounds
 *   memory in use <= the budget's cap; the wait list holds each connection once (with a
 *   reference); one log line per RXB_LOG_INTERVAL_MS.
 */
#include "common/clock.h"
#include "runtime/carrier_tcp/rxbudget.h"

#include "common/budget.h"
#include "common/log.h"
#include "runtime/core/conn.h"
#include "runtime/carrier_tcp/tcpc.h"

size_t rxb_held(const struct conn *c)
{
    return c->tcp->reasm.shared_bytes + c->tcp->rxb_pkt;
}

bool rxb_take_packet(struct conn *c, size_t len)
{
    struct budget *b = &c->node->reasm_budget;
    if (!budget_take(b, len, b->cap)) {
        budget_refused(b);
        return false;
    }
    c->tcp->rxb_pkt = len;
    return true;
}

void rxb_give_packet(struct conn *c)
{
    if (c->tcp->rxb_pkt)
        budget_give(&c->node->reasm_budget, c->tcp->rxb_pkt);
    c->tcp->rxb_pkt = 0;
}

int rxb_wait(struct conn *c, const char *what)
{
    struct dd_node *n = c->node;
    struct budget *b = &n->reasm_budget;
    size_t held = rxb_held(c);
    uint64_t used = budget_used(b);
    if (held > 0 && used <= n->tcp->rxb_waiting_bytes + held) {
        DLOG_WARN(n->log_name,
                  "closing connection to %s: the node's reassembly memory is at its cap "
                  "(%llu of %llu bytes) and all of it is held by connections waiting for more "
                  "(it interleaves fragmented messages); %s",
                  c->peer, (unsigned long long)used, (unsigned long long)b->cap, what);
        return -1;
    }
    c->tcp->rxb_waiting = true;
    c->tcp->rxb_waiting_held = held;
    c->tcp->rxb_next = NULL;
    n->tcp->rxb_waiting_bytes += held;
    __atomic_fetch_add(&n->reasm_waiting, 1, __ATOMIC_RELAXED); /* read by dd_node_reassembly */
    conn_ref(c);
    if (n->tcp->rxb_tail)
        n->tcp->rxb_tail->tcp->rxb_next = c;
    else
        n->tcp->rxb_head = c;
    n->tcp->rxb_tail = c;
    tcpc_update_events(c);
    n->tcp->rxb_wait_used = used;
    uint64_t now = clock_now_ms();
    if (now >= n->tcp->rxb_log_ms + RXB_LOG_INTERVAL_MS) {
        DLOG_WARN(n->log_name,
                  "the node's reassembly memory is at its cap (%llu of %llu bytes in use): "
                  "reading from %s waits for room (%s); %zu connections wait",
                  (unsigned long long)used, (unsigned long long)b->cap, c->peer, what,
                  n->reasm_waiting);
        n->tcp->rxb_log_ms = now;
        n->tcp->rxb_refusals_logged = __atomic_load_n(&b->refusals, __ATOMIC_RELAXED);
    }
    return 0;
}

void rxb_resume(struct dd_node *n)
{
    if (!n->tcp->rxb_head)
        return;
    if (n->tcp->rxb_resuming) { /* memory came back while a waiter was being read */
        n->tcp->rxb_again = true;
        return;
    }
    n->tcp->rxb_resuming = true;
    n->tcp->rxb_resumed_ms = clock_now_ms();
    do {
        n->tcp->rxb_again = false;
        struct conn *c = n->tcp->rxb_head;
        n->tcp->rxb_head = n->tcp->rxb_tail = NULL;
        while (c) {
            struct conn *next = c->tcp->rxb_next;
            c->tcp->rxb_next = NULL;
            c->tcp->rxb_waiting = false;
            n->tcp->rxb_waiting_bytes -= c->tcp->rxb_waiting_held;
            __atomic_fetch_sub(&n->reasm_waiting, 1, __ATOMIC_RELAXED);
            c->tcp->rxb_waiting_held = 0;
            if (atomic_load(&c->state) != CONN_DOWN) {
                tcpc_update_events(c);
                tcpc_on_readable(c); /* from the packet that waited; may wait again */
            }
            conn_unref(c);
            c = next;
        }
    } while (n->tcp->rxb_again && n->tcp->rxb_head);
    n->tcp->rxb_resuming = false;
}

static void rxb_log(struct dd_node *n, uint64_t now_ms);

void rxb_periodic(struct dd_node *n, uint64_t now_ms)
{
    bool retry = budget_used(&n->reasm_budget) < n->tcp->rxb_wait_used ||
                 now_ms >= n->tcp->rxb_resumed_ms + RXB_RETRY_MS;
    for (struct conn *c = n->tcp->rxb_head; c && !retry; c = c->tcp->rxb_next)
        retry = atomic_load(&c->state) == CONN_DOWN;
    if (retry)
        rxb_resume(n);
    rxb_log(n, now_ms);
}

static void rxb_log(struct dd_node *n, uint64_t now_ms)
{
    struct budget *b = &n->reasm_budget;
    uint64_t refusals = __atomic_load_n(&b->refusals, __ATOMIC_RELAXED);
    if (refusals == n->tcp->rxb_refusals_logged || now_ms < n->tcp->rxb_log_ms + RXB_LOG_INTERVAL_MS)
        return;
    DLOG_WARN(n->log_name,
              "%llu message starts refused at the node's reassembly cap since the last line "
              "(TCP: reading waits; DPDK: fragments dropped unacknowledged, sent again); "
              "%llu of %llu bytes in use, at most %llu; %zu connections wait",
              (unsigned long long)(refusals - n->tcp->rxb_refusals_logged),
              (unsigned long long)budget_used(b), (unsigned long long)b->cap,
              (unsigned long long)__atomic_load_n(&b->high_water, __ATOMIC_RELAXED),
              n->reasm_waiting);
    n->tcp->rxb_log_ms = now_ms;
    n->tcp->rxb_refusals_logged = refusals;
}

int dd_node_reassembly(dd_node *node, struct dd_reassembly_stats *out)
{
    if (!node || !out)
        return lasterr_set(DD_EINVAL, "node and out are required");
    struct budget *b = &node->reasm_budget;
    out->bytes = budget_used(b);
    out->limit = b->cap;
    out->high_water = __atomic_load_n(&b->high_water, __ATOMIC_RELAXED);
    out->refusals = __atomic_load_n(&b->refusals, __ATOMIC_RELAXED);
    out->waiting = __atomic_load_n(&node->reasm_waiting, __ATOMIC_RELAXED);
    return DD_OK;
}

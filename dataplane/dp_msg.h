/* Fast path: header-only, no allocation, no locks.
 *
 * struct dp_msg: one outgoing message handed to the data plane. The node runtime
 * allocates it (header and data, in one block or two, as it likes) and fills the public
 * fields; the data plane only reads the data and counts references.
 *
 * Ownership: the creator holds the first reference (refcnt = 1). chan_submit() takes a
 * reference of its own, so the creator drops its one when it no longer needs the message.
 * Whoever drops the last reference (any thread: the count is atomic) calls `free_fn`,
 * which releases the message and its data. The engine takes extra references when it lets
 * a NIC read the data in place (external mbuf buffers) and drops them from the mbuf free
 * callback.
 *
 * One message goes to one channel, once: the `tx` block belongs to that channel from
 * chan_submit() until the channel drops its reference. Nobody else touches it.
 */
#ifndef DPDIST_DATAPLANE_DP_MSG_H
#define DPDIST_DATAPLANE_DP_MSG_H

#include <stdint.h>

#ifdef __cplusplus /* C++ tests and tools: std::atomic<unsigned> has atomic_uint's layout */
extern "C++" {
#include <atomic>
}
typedef std::atomic<unsigned> dp_msg_refcnt;
#define DP_MSG_RELAXED std::memory_order_relaxed
#define DP_MSG_ACQ_REL std::memory_order_acq_rel
#else
#include <stdatomic.h>
typedef atomic_uint dp_msg_refcnt;
#define DP_MSG_RELAXED memory_order_relaxed
#define DP_MSG_ACQ_REL memory_order_acq_rel
#endif

struct dp_msg;
typedef void (*dp_msg_free_fn)(struct dp_msg *msg);

struct dp_msg {
    dp_msg_refcnt refcnt;   /* references; free_fn runs when it drops to 0 */
    uint32_t len;           /* message bytes, 1..max_msg_bytes */
    const uint8_t *data;    /* len bytes, read-only for the data plane */
    uint64_t sender;        /* opaque sender tag (e.g. mailbox id): messages of one
                             * sender are delivered in submission order */
    uint8_t lane;           /* WIRE_LANE_EXPRESS or WIRE_LANE_NORMAL */
    dp_msg_free_fn free_fn; /* called once, by whoever drops the last reference */
    void *user;             /* free for the creator (free_fn's context) */

    /* Channel-private transmit state (see chan.c); zeroed by chan_submit(). */
    struct {
        struct dp_msg *next; /* start queue / flow queue link */
        uint32_t msg_seq;    /* message number within its flow */
        uint32_t sent;       /* bytes handed out as fragments so far */
        uint32_t acked;      /* bytes acknowledged by the peer */
        uint16_t flow;       /* flow slot once started */
    } tx;
};

/* Initialise the public fields with one reference held by the caller. */
static inline void dp_msg_init(struct dp_msg *msg, const uint8_t *data, uint32_t len,
                               uint64_t sender, uint8_t lane, dp_msg_free_fn free_fn, void *user)
{
#ifdef __cplusplus
    msg->refcnt.store(1, DP_MSG_RELAXED);
#else
    atomic_init(&msg->refcnt, 1);
#endif
    msg->len = len;
    msg->data = data;
    msg->sender = sender;
    msg->lane = lane;
    msg->free_fn = free_fn;
    msg->user = user;
}

static inline void dp_msg_ref(struct dp_msg *msg)
{
    atomic_fetch_add_explicit(&msg->refcnt, 1u, DP_MSG_RELAXED);
}

/* Drop one reference; the last one calls free_fn (if set). */
static inline void dp_msg_unref(struct dp_msg *msg)
{
    if (atomic_fetch_sub_explicit(&msg->refcnt, 1u, DP_MSG_ACQ_REL) == 1) {
        if (msg->free_fn)
            msg->free_fn(msg);
    }
}

#endif

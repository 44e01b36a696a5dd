/* libFuzzer target: agent/ag_classify.c, the classification of the packets a VM writes.
 *
 * The input is used twice: as one packet (copied to an exact-size heap buffer so ASan sees
 * any read past it), and as a stream of packets, each prefixed by a 1-byte length, fed to one
 * classifier with a table of 4 sequences (so duplicates, unknown sequences and the full
 * table are reached). A first fragment of a multi-fragment message is followed by a made-up
 * last fragment of its sequence, which must take its key.
 * Invariants beyond "no crash": a known result; on an error the struct is zeroed and the
 * table unchanged; on success the lane fits the kind, the key is 0 exactly for barriers and
 * ticks, the sender term lies inside the packet and hashes to the key, and the table never
 * holds more than its bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ag_classify.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_one(struct ag_classify *c, const uint8_t *data, size_t size)
{
    uint8_t *pkt = malloc(size ? size : 1);
    CHECK(pkt != NULL);
    memcpy(pkt, data, size);
    uint32_t n_before = c->n;
    struct ag_class cl;
    enum ag_classify_result r = ag_classify_packet(c, pkt, size, &cl);
    CHECK((unsigned)r < AG_CLASSIFY__COUNT);
    CHECK(c->n <= c->max_seqs);
    if (r != AG_CLASSIFY_OK) {
        struct ag_class zero;
        memset(&zero, 0, sizeof(zero));
        CHECK(memcmp(&cl, &zero, sizeof(cl)) == 0);
        CHECK(c->n == n_before);
        free(pkt);
        return;
    }
    CHECK((cl.kind == AG_PKT_TICK) == (size == 0));
    CHECK((cl.lane == AG_LANE_PULSE) == (cl.kind == AG_PKT_TICK));
    CHECK((cl.lane == AG_LANE_EXPRESS) == (cl.kind == AG_PKT_WHOLE));
    CHECK((cl.key == 0) == (cl.barrier != AG_BARRIER_NONE || cl.kind == AG_PKT_TICK));
    CHECK(cl.sender_off + cl.sender_len <= size);
    if (cl.sender_len)
        CHECK(ag_classify_key(pkt + cl.sender_off, cl.sender_len) == cl.key);
    if (cl.kind == AG_PKT_FRAG_FIRST && cl.frag_id > 1) {
        CHECK(c->n == n_before + 1);
        uint8_t last[18] = {131, 'F'};
        for (int i = 0; i < 8; i++)
            last[2 + i] = (uint8_t)(cl.seq_id >> (56 - 8 * i));
        last[17] = 1;
        struct ag_class f;
        CHECK(ag_classify_packet(c, last, sizeof(last), &f) == AG_CLASSIFY_OK);
        CHECK(f.key == cl.key && f.kind == AG_PKT_FRAG_CONT);
        CHECK(c->n == n_before);
        /* put it back, so the stream goes on with the sequence open */
        CHECK(ag_classify_packet(c, pkt, size, &f) == AG_CLASSIFY_OK);
    }
    free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ag_classify one, stream;
    CHECK(ag_classify_init(&one, 64) == 0);
    check_one(&one, data, size);
    ag_classify_fini(&one);

    CHECK(ag_classify_init(&stream, 4) == 0);
    for (size_t off = 0; off < size;) {
        size_t n = data[off++];
        if (n > size - off)
            n = size - off;
        check_one(&stream, data + off, n);
        off += n;
    }
    ag_classify_fini(&stream);
    return 0;
}

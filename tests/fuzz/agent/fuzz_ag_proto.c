/* libFuzzer target: agent/ag_proto.c, the VM <-> agent protocol codec. The input is what a
 * VM (or anything that may connect to the agent's socket) writes: a stream of messages.
 *
 * Each message is copied to an exact-size heap buffer so ASan sees reads past it.
 * Invariants beyond "no crash": known results; a refused decode leaves the struct zeroed; a
 * message that decodes lies inside its body, encodes back to exactly its bytes (one encoding
 * per message), and is refused with one byte less room.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ag_proto.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(const uint8_t *frame, size_t total, const uint8_t *body, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    CHECK(copy != NULL);
    memcpy(copy, body, len);
    struct ag_msg m;
    enum ag_proto_result r = ag_proto_decode(copy, len, &m);
    CHECK((unsigned)r < AG_PROTO__COUNT);
    if (r != AG_PROTO_OK) {
        struct ag_msg zero;
        memset(&zero, 0, sizeof(zero));
        CHECK(memcmp(&m, &zero, sizeof(m)) == 0);
        free(copy);
        return;
    }
    uint8_t out[AG_PROTO_MSG_MAX];
    size_t n = 0;
    CHECK(ag_proto_encode(&m, out, sizeof(out), &n) == AG_PROTO_OK);
    CHECK(n == total && memcmp(out, frame, total) == 0);
    CHECK(ag_proto_encode(&m, out, total - 1, &n) == AG_PROTO_E_SPACE);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        const uint8_t *body;
        size_t len, total;
        enum ag_proto_result r = ag_proto_frame(data + off, size - off, &body, &len, &total);
        CHECK(r == AG_PROTO_OK || r == AG_PROTO_NEED_MORE || r == AG_PROTO_E_TOO_LONG);
        if (r != AG_PROTO_OK)
            break;
        CHECK(total == len + AG_PROTO_LEN_BYTES && total <= size - off);
        check_body(data + off, total, body, len);
        off += total;
    }
    return 0;
}

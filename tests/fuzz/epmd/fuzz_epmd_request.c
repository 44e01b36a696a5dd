/* libFuzzer target: the EPMD request framing and parser (control/epmd/epmd_codec.c), plus
 * the responses built from whatever parsed. Invariants checked beyond "no crash": a
 * request that parses has in-bounds name/extra spans, and a PORT2 reply built from a parsed
 * ALIVE2 record parses back to the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/epmd/epmd_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = 0;
    enum epmd_result fr = epmd_frame_check(data, size, &total);
    if (fr == EPMD_OK && total != size)
        abort();
    /* The parser is also fed unframed bodies, as the server would after framing. */
    const uint8_t *body = fr == EPMD_OK ? data + 2 : data;
    size_t len = fr == EPMD_OK ? size - 2 : size;
    struct epmd_request req;
    if (epmd_parse_request(body, len, &req) != EPMD_OK)
        return 0;
    if (req.code == EPMD_ALIVE2_REQ) {
        const struct epmd_node_rec *r = &req.u.alive2;
        if (r->name < body || r->name + r->name_len > body + len || r->extra < body ||
            r->extra + r->extra_len > body + len)
            abort();
        static uint8_t out[EPMD_PORT2_RESP_MAX + 16];
        size_t n = epmd_build_port2_resp(out, sizeof(out), r);
        if (n == 0)
            return 0;
        struct epmd_node_rec back;
        bool found;
        size_t used;
        if (epmd_parse_port2_resp(out, n, &found, &back, &used) != EPMD_OK || !found ||
            used != n || back.port != r->port || back.name_len != r->name_len ||
            back.extra_len != r->extra_len || memcmp(back.name, r->name, r->name_len) != 0)
            abort();
        uint8_t req_out[EPMD_INBUF_SIZE + 8];
        if (epmd_build_alive2_req(req_out, sizeof(req_out), r) == 0 && r->name_len < 2000)
            abort();
    } else if (req.code == EPMD_PORT2_REQ || req.code == EPMD_STOP_REQ) {
        if (epmd_check_name(req.u.named.name, req.u.named.name_len) != EPMD_OK)
            abort();
    }
    return 0;
}

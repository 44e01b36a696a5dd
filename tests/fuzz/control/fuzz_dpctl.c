/* libFuzzer target: dpdist's own protocol bytes (control/dpctl.c). The input is one term as
 * it arrives in a '$dpdist' message (no version byte); it is also read as a handshake
 * trailer and as an EPMD Extra field.
 *
 * The input is copied to an exact-size heap buffer so ASan catches any read past it.
 * Invariants checked beyond "no crash": a message dpctl_decode accepts is one well-formed
 * term of exactly the input's length (control/etf.c agrees); a decoded REQ/ACK/NAK/SWITCH
 * encodes (dpctl_encode) and decodes again to the same message; a decoded mesh list yields
 * exactly mesh_count names, and written again (dpctl_mesh_writer) reads back the same names.
 * Links dpctl.c, etf.c and common/utf8.c only: no libei.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/dpctl.h"
#include "control/etf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static bool same_msg(const struct dpctl_msg *a, const struct dpctl_msg *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == DPCTL_REQ || a->kind == DPCTL_ACK)
        return a->offer.session == b->offer.session &&
               memcmp(a->offer.mac, b->offer.mac, 6) == 0 && a->offer.ip == b->offer.ip &&
               a->offer.port == b->offer.port && a->offer.mtu == b->offer.mtu &&
               a->offer.window == b->offer.window && a->offer.hb_ns == b->offer.hb_ns &&
               a->offer.hb_missed == b->offer.hb_missed;
    if (a->kind == DPCTL_NAK)
        return strcmp(a->reason, b->reason) == 0;
    return true;
}

static void mesh_roundtrip(const uint8_t *t, size_t len, const struct dpctl_msg *m)
{
    static char names[64][DPCTL_ATOM_MAX + 1];
    static uint8_t out[DPCTL_MESH_HEAD_BYTES + 64 * (DPCTL_MESH_NODE_BYTES(DPCTL_ATOM_MAX))];
    struct dpctl_mesh_iter it;
    dpctl_mesh_iter_init(&it, t, len, m);
    struct dpctl_mesh_writer w;
    dpctl_mesh_writer_init(&w, out, sizeof(out));
    unsigned k = 0;
    char name[DPCTL_ATOM_MAX + 1];
    while (dpctl_mesh_next(&it, name)) {
        if (k < 64) {
            memcpy(names[k], name, sizeof(name));
            CHECK(dpctl_mesh_add(&w, name));
        }
        k++;
    }
    CHECK(k == m->mesh_count);
    size_t n = dpctl_mesh_finish(&w);
    CHECK(n > 0);
    struct dpctl_msg again;
    CHECK(dpctl_decode(out + 1, n - 1, &again) == DPCTL_OK);
    CHECK(again.kind == DPCTL_MESH && again.mesh_count == (k < 64 ? k : 64));
    dpctl_mesh_iter_init(&it, out + 1, n - 1, &again);
    for (unsigned i = 0; dpctl_mesh_next(&it, name); i++)
        CHECK(strcmp(name, names[i]) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *t = malloc(size ? size : 1);
    CHECK(t != NULL);
    memcpy(t, data, size);
    static struct dpctl_msg m, again;
    static uint8_t enc[64 + DPCTL_ATOM_MAX];
    enum dpctl_result r = dpctl_decode(t, size, &m);
    CHECK((unsigned)r < DPCTL_E__COUNT);
    if (r == DPCTL_OK) {
        size_t end;
        CHECK(etf_skip(t, size, 0, &end) == ETF_OK && end == size);
        if (m.kind == DPCTL_MESH) {
            mesh_roundtrip(t, size, &m);
        } else {
            size_t n = dpctl_encode(&m, enc, sizeof(enc));
            CHECK(n > 0 && enc[0] == ETF_VERSION);
            CHECK(dpctl_decode(enc + 1, n - 1, &again) == DPCTL_OK);
            CHECK(same_msg(&m, &again));
        }
    }
    struct dpctl_trailer tr;
    if (dpctl_trailer_parse(t, size, &tr) == DPCTL_OK)
        CHECK(size > DPCTL_TRAILER_MAGIC_LEN);
    struct dpctl_endpoint ep;
    if (dpctl_extra_parse(t, size, &ep) == DPCTL_OK) {
        uint8_t e[DPCTL_EXTRA_LEN];
        CHECK(dpctl_extra_encode(e, sizeof(e), &ep) == DPCTL_EXTRA_LEN);
        CHECK(memcmp(e, t, DPCTL_EXTRA_OFF_VERSION) == 0);
    }
    free(t);
    return 0;
}

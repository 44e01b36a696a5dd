/* libFuzzer target: the version-2 handshake trailer codec (control/dptrailer.c). The input is
 * the bytes a peer put after its node name in an 'N' message.
 *
 * The input is copied to an exact-size heap buffer so ASan catches any read past it.
 * Invariants checked beyond "no crash": a refusal is a known result and leaves the struct
 * zeroed (but for the version byte it reports); a trailer that parses is in range, its
 * extension lies inside the input, it parses the same with the kind it carries and is
 * refused with the other, and it encodes back to exactly the input bytes (one encoding per
 * offer, which the handshake transcript and the key confirmation rely on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/dptrailer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static int all_zero_but_version(const struct dptrailer *t)
{
    struct dptrailer z;
    memset(&z, 0, sizeof(z));
    z.version = t->version;
    return memcmp(&z, t, sizeof(z)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    CHECK(buf != NULL);
    memcpy(buf, data, size);
    struct dptrailer t;
    enum dptrailer_result r = dptrailer_parse(buf, size, DPTRAILER_KIND_ANY, &t);
    CHECK((unsigned)r < DPTRAILER_RESULT__COUNT && r != DPTRAILER_E_SPACE);
    if (r != DPTRAILER_OK) {
        CHECK(all_zero_but_version(&t));
        free(buf);
        return 0;
    }
    CHECK(t.version == DPTRAILER_VERSION);
    CHECK(t.mtu >= DPTRAILER_MTU_MIN && t.mtu <= DPTRAILER_MTU_MAX);
    CHECK(t.endpoint_id != 0 && t.rx_session != 0 && t.conn_rx_id != 0);
    CHECK(t.ext_len <= DPTRAILER_BODY_MAX - DPTRAILER_BODY_V2_LEN);
    if (t.ext_len)
        CHECK(t.ext >= buf && t.ext + t.ext_len == buf + size);

    struct dptrailer again;
    enum dptrailer_kind other = t.kind == DPTRAILER_OFFER ? DPTRAILER_ANSWER : DPTRAILER_OFFER;
    CHECK(dptrailer_parse(buf, size, t.kind, &again) == DPTRAILER_OK);
    CHECK(dptrailer_parse(buf, size, other, &again) == DPTRAILER_E_KIND);

    uint8_t out[DPTRAILER_MAX_LEN];
    size_t len = 0;
    CHECK(dptrailer_encode(&t, out, sizeof(out), &len) == DPTRAILER_OK);
    CHECK(len == size && memcmp(out, buf, size) == 0);
    CHECK(dptrailer_encode(&t, out, size - 1, &len) == DPTRAILER_E_SPACE);
    free(buf);
    return 0;
}

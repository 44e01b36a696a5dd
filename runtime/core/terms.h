/* Constant terms the runtime sends (runtime/core/terms.c): the atoms that are reasons of exits
 * and 'DOWN's, as standalone external terms (version byte, SMALL_ATOM_UTF8_EXT, length,
 * text), ready to be copied into a message. Read-only data, any thread. */
#ifndef DPDIST_RUNTIME_CORE_TERMS_H
#define DPDIST_RUNTIME_CORE_TERMS_H

#include <stddef.h>
#include <stdint.h>

/* A link or monitor across a connection that went down. */
extern const uint8_t *const term_noconnection;
extern const size_t term_noconnection_len;
/* A link or monitor toward a process that does not exist. */
extern const uint8_t *const term_noproc;
extern const size_t term_noproc_len;
/* A mailbox closed by its owner. */
extern const uint8_t *const term_normal;
extern const size_t term_normal_len;
/* The mailboxes still open when their node stops. */
extern const uint8_t *const term_shutdown;
extern const size_t term_shutdown_len;

#endif

/* The calling thread's last error (runtime/core/lasterr.c): a DD_* status and its message,
 * what dd_last_error() shows. Thread-local: each thread sees only its own; the message stays
 * until the thread's next lasterr_set or lasterr_clear. */
#ifndef DPDIST_RUNTIME_CORE_LASTERR_H
#define DPDIST_RUNTIME_CORE_LASTERR_H

#define LASTERR_MSG_MAX 512 /* bytes of a message, NUL included (longer ones are cut) */

/* Sets the thread's last error (printf-style message) and returns status, so that
 * `return lasterr_set(DD_EINVAL, "...")` reads as it does. */
int lasterr_set(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* No error: DD_OK and an empty message. */
void lasterr_clear(void); /* not called by the API: dd_last_error outlives successes */
/* The status of the thread's last lasterr_set (DD_OK after lasterr_clear). */
int lasterr_status(void);
/* The thread's last message (never NULL; "" when none). */
const char *lasterr_get(void);

#endif

/*
 * Session ticket keys shared by every worker of every generation, so a
 * client resumes on whichever worker accepts it, also after a reload. The
 * master makes them (RAND_bytes) and rotates them; workers only read.
 */
#ifndef WEIR_TLS_TICKETS_H
#define WEIR_TLS_TICKETS_H

#include <stdint.h>

#include <openssl/ssl.h>

/* Master, once before the first fork: map the keys and make the first. */
int tls_tickets_init(void);
/*
 * Master: make a new key the one that encrypts; the one before still
 * decrypts (and its tickets are renewed). 0, or -1 when RAND_bytes fails.
 */
int tls_tickets_rotate(void);
/* Master: CLOCK_MONOTONIC ms of the last rotation (0: not mapped). */
uint64_t tls_tickets_rotated_ms(void);
/* Have ctx encrypt and decrypt its tickets with the shared keys. */
void tls_tickets_use(SSL_CTX *ctx);

#endif

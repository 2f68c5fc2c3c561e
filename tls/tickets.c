/*
 * Owns the session ticket keys: a small shared mapping the master creates
 * before its first fork, so every worker of every generation sees the same
 * keys and a ticket made by one worker opens on any other, across reloads.
 *
 * Contract (a sequence lock; readers never block the writer or each other):
 * - Only the master writes, and only from its event loop: seq becomes odd,
 *   the key words are stored, seq becomes even again (release).
 * - A reader (a worker in a handshake) loads seq (acquire), copies the
 *   words with relaxed loads, then re-loads seq after an acquire fence; an
 *   odd or changed seq means a rotation ran meanwhile, and it copies again.
 *   Rotations are hours apart, so a retry is rare and short.
 * - keys[0] encrypts new tickets; keys[1] (the one before) still decrypts,
 *   and its tickets are renewed with keys[0]. A rotation shifts keys[0]
 *   into keys[1].
 */
#include "autoconf.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/clock.h"
#include "common/log.h"
#include "tls/tickets.h"

#define TLS_KEY_WORDS	10	/* name 16 + AES-256 key 32 + HMAC key 32 */

struct tls_ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
};

_Static_assert(sizeof(struct tls_ticket_key) == TLS_KEY_WORDS * 8,
    "ticket key size");

struct tls_tickets_sh {
	_Atomic uint64_t seq;		/* odd while the master writes */
	_Atomic uint64_t rotated_ms;	/* master: last rotation */
	_Atomic uint64_t words[2][TLS_KEY_WORDS];
};

static struct tls_tickets_sh *tickets;	/* inherited by every worker */
static EVP_CIPHER *tickets_aes;		/* fetched once, not per ticket */

int
tls_tickets_init(void)
{
	if (tickets != NULL)
		return 0;
	if ((tickets_aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) ==
	    NULL) {
		log_warnx("session ticket keys: no AES-256-CBC in OpenSSL");
		return -1;
	}
	tickets = mmap(NULL, sizeof(*tickets), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tickets == MAP_FAILED) {
		tickets = NULL;
		log_warn("mmap session ticket keys");
		return -1;
	}
	/* Both slots get a key: nothing ever decrypts with a zero key. */
	if (tls_tickets_rotate() == -1 || tls_tickets_rotate() == -1)
		return -1;
	return 0;
}

int
tls_tickets_rotate(void)
{
	uint64_t fresh[TLS_KEY_WORDS], seq;
	int i;

	if (tickets == NULL)
		return -1;
	if (RAND_bytes((unsigned char *)fresh, sizeof(fresh)) != 1) {
		log_warnx("session ticket key: RAND_bytes failed");
		return -1;
	}
	seq = atomic_load_explicit(&tickets->seq, memory_order_relaxed);
	atomic_store_explicit(&tickets->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (i = 0; i < TLS_KEY_WORDS; i++) {
		atomic_store_explicit(&tickets->words[1][i],
		    atomic_load_explicit(&tickets->words[0][i],
		    memory_order_relaxed), memory_order_relaxed);
		atomic_store_explicit(&tickets->words[0][i], fresh[i],
		    memory_order_relaxed);
	}
	atomic_store_explicit(&tickets->rotated_ms, clock_ms(),
	    memory_order_relaxed);
	atomic_store_explicit(&tickets->seq, seq + 2, memory_order_release);
	memset(fresh, 0, sizeof(fresh));
	return 0;
}

uint64_t
tls_tickets_rotated_ms(void)
{
	return tickets == NULL ? 0 :
	    atomic_load_explicit(&tickets->rotated_ms, memory_order_relaxed);
}

/* A consistent copy of both keys (see the contract above). */
static void
tls_tickets_read(struct tls_ticket_key keys[2])
{
	uint64_t words[2][TLS_KEY_WORDS], s1, s2;
	int k, i;

	do {
		s1 = atomic_load_explicit(&tickets->seq, memory_order_acquire);
		for (k = 0; k < 2; k++)
			for (i = 0; i < TLS_KEY_WORDS; i++)
				words[k][i] = atomic_load_explicit(
				    &tickets->words[k][i],
				    memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&tickets->seq, memory_order_relaxed);
	} while ((s1 & 1) != 0 || s1 != s2);
	memcpy(keys, words, sizeof(words));
	memset(words, 0, sizeof(words));
}

/* Point the MAC at key's HMAC-SHA256 half. */
static int
tls_tickets_mac(EVP_MAC_CTX *hctx, struct tls_ticket_key *key)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    key->hmac, sizeof(key->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket callback: enc = 1 makes a ticket with keys[0]; else
 * find the ticket's key by name: 1 = good, 2 = good but renew it, 0 =
 * unknown (a full handshake), -1 = error. Renewed: tickets made with the
 * previous key, and every TLS 1.3 ticket, since TLS 1.3 clients use a
 * ticket once (RFC 8446 C.4) and need a new one from each resumption.
 */
static int
tls_tickets_cb(SSL *ssl, unsigned char name[16], unsigned char iv[16],
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_ticket_key keys[2];
	int k, rc = -1;

	if (tickets == NULL)
		return enc ? -1 : 0;
	tls_tickets_read(keys);
	if (enc) {
		memcpy(name, keys[0].name, 16);
		if (RAND_bytes(iv, 16) == 1 &&
		    EVP_EncryptInit_ex(cctx, tickets_aes, NULL,
		    keys[0].aes, iv) == 1 && tls_tickets_mac(hctx, &keys[0]) == 0)
			rc = 1;
		goto out;
	}
	for (k = 0; k < 2 && memcmp(name, keys[k].name, 16) != 0; k++)
		;
	if (k == 2)
		rc = 0;
	else if (EVP_DecryptInit_ex(cctx, tickets_aes, NULL,
	    keys[k].aes, iv) == 1 && tls_tickets_mac(hctx, &keys[k]) == 0)
		rc = k == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
out:
	OPENSSL_cleanse(keys, sizeof(keys));
	return rc;
}

void
tls_tickets_use(SSL_CTX *ctx)
{
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_tickets_cb);
}

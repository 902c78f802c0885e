/*
 * auth/sasl_test.h — a hook for tests only: never call it from the server.
 *
 * SCRAM's server nonce is random, so no exchange can be replayed. Tests that
 * reproduce a published exchange (RFC 7677 §3) and the fuzz target (which
 * must be able to send the right nonce back) fix it here.
 *
 * Owns: nothing. Never does I/O, never logs.
 */
#ifndef OUTPOST_AUTH_SASL_TEST_H
#define OUTPOST_AUTH_SASL_TEST_H

#include "auth/sasl.h"

/* The server's part of the SCRAM nonce, used instead of 24 random bytes in
 * base64 (call before sasl_scram_credentials). `suffix` must be 1 to 64
 * printable ASCII characters without ','; anything else is ignored (the
 * nonce stays random). NULL goes back to random. */
void sasl_test_set_nonce(struct sasl *s, const char *suffix);

#endif

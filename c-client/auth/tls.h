/*
 * tls.h - TLS (OpenSSL 3) as an ios layer: implicit (imaps/pop3s) or
 * started by STARTTLS/STLS. TLS 1.2 and 1.3 only; outgoing records are
 * at most tls-max-record bytes (8 KB by default, FAQ 6.7, 7.43).
 */
#ifndef CC_TLS_H
#define CC_TLS_H

#include "ios.h"

enum tls_service { TLS_SERVICE_IMAP, TLS_SERVICE_POP };

/* Are the certificate and key for this service present and loadable?
 * When not, logs one clear line (once) and returns false: then neither
 * STARTTLS/STLS is advertised nor implicit TLS possible (FAQ 7.28). */
bool tls_available(enum tls_service svc);
/* Handshake on s and install the TLS layer. Discards any plaintext
 * input buffered before the handshake (STARTTLS injection defence).
 * Returns 0, or -1 with *error_r (the connection is then unusable). */
int tls_start(struct ios *s, enum tls_service svc, const char **error_r);
bool tls_active(const struct ios *s);
/* should this connection use implicit TLS? (-s given, or the local port
 * of the socket on fd is 993/995) */
bool tls_implicit_port(int fd, enum tls_service svc);

#endif

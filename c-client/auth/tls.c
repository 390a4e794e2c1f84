/*
 * tls.c - server-side TLS with OpenSSL 3, installed as an ios layer
 * (see tls.h).
 *
 * Certificates come from imapd-tls-cert/-key and ipop3d-tls-cert/-key
 * (the paths UW used on Debian). As UW allowed, the key may also sit in
 * the certificate file. When they cannot be loaded, one log line says
 * so and tls_available() is false: STARTTLS/STLS is then not offered
 * rather than offered and failing (FAQ 7.28).
 *
 * Protocol: TLS 1.2 minimum, 1.3 allowed; forward-secret AEAD ciphers
 * only for 1.2; no compression, no renegotiation, no session cache (one
 * process per connection). Outgoing records carry at most tls-max-record
 * bytes (8 KB by default) for clients that cannot take 16 KB records
 * (FAQ 6.7, 7.43: SChannel).
 *
 * SECURITY: tls_start() drops every plaintext byte buffered before the
 * handshake, so commands pipelined after STARTTLS by a man in the middle
 * are never executed inside the encrypted session (CVE-2011-0411 class).
 * OpenSSL writes to the socket with write(2): callers ignore SIGPIPE.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "tls.h"

/* TLS 1.2 suites: ECDHE/DHE key exchange with AEAD (Mozilla
 * "intermediate"); TLS 1.3 suites are OpenSSL's defaults, all AEAD */
#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:" \
	"DHE-RSA-CHACHA20-POLY1305"

struct tls_conn {
	SSL *ssl;
};

static SSL_CTX *tls_ctx[2];
static int tls_state[2];	/* 0 not tried, 1 loaded, -1 unavailable */

static const char *const svc_prefix[2] = { "imapd", "ipop3d" };

static const char *openssl_error(void)
{
	static char msg[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, msg, sizeof msg);
	ERR_clear_error();
	return msg;
}

static SSL_CTX *tls_load(enum tls_service svc)
{
	char certkey[32], keykey[32];
	const char *cert, *key;
	SSL_CTX *ctx;
	long long maxrec = config_int("tls-max-record");

	snprintf(certkey, sizeof certkey, "%s-tls-cert", svc_prefix[svc]);
	snprintf(keykey, sizeof keykey, "%s-tls-key", svc_prefix[svc]);
	cert = config_str(certkey);
	key = config_str(keykey);

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		log_error("TLS unavailable: SSL_CTX_new: %s", openssl_error());
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS)) {
		log_error("TLS unavailable: cannot set protocol or ciphers: %s",
			  openssl_error());
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);	/* nothing could resume them */
	SSL_CTX_set_dh_auto(ctx, 1);
	if (cert[0] == '\0' ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		log_error("TLS for %s unavailable: cannot load certificate %s: "
			  "%s; STARTTLS and implicit TLS are off (FAQ 7.28)",
			  svc_prefix[svc], cert, openssl_error());
		goto fail;
	}
	/* the key in its own file, or (UW's habit) after the certificate */
	if ((key[0] == '\0' ||
	     SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) &&
	    SSL_CTX_use_PrivateKey_file(ctx, cert, SSL_FILETYPE_PEM) != 1) {
		log_error("TLS for %s unavailable: cannot load private key %s "
			  "(nor from %s): %s; STARTTLS and implicit TLS are off "
			  "(FAQ 7.28)", svc_prefix[svc], key, cert,
			  openssl_error());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_error("TLS for %s unavailable: key %s does not match "
			  "certificate %s", svc_prefix[svc], key, cert);
		goto fail;
	}
	if (maxrec < 512 || maxrec > 16384) {
		log_warning("tls-max-record %lld out of range 512..16384; "
			    "using 8192", maxrec);
		maxrec = 8192;
	}
	if (!SSL_CTX_set_max_send_fragment(ctx, (long)maxrec)) {
		log_error("TLS unavailable: cannot limit records to %lld bytes",
			  maxrec);
		goto fail;
	}
	ERR_clear_error();
	return ctx;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

bool tls_available(enum tls_service svc)
{
	if (svc != TLS_SERVICE_IMAP && svc != TLS_SERVICE_POP)
		panic("bad TLS service %d", (int)svc);
	if (tls_state[svc] == 0) {
		tls_ctx[svc] = tls_load(svc);
		tls_state[svc] = tls_ctx[svc] != NULL ? 1 : -1;
	}
	return tls_state[svc] == 1;
}

/* ---- the ios layer ---- */

/* map an SSL_read/SSL_write result to the read(2)/write(2) contract */
static ssize_t tls_result(struct tls_conn *c, int r)
{
	int err;

	if (r > 0)
		return r;
	err = SSL_get_error(c->ssl, r);
	switch (err) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;		/* close_notify */
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		/* blocking socket: only SO_RCVTIMEO/SO_SNDTIMEO gets here */
		errno = EAGAIN;
		break;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;	/* EOF without close_notify */
		break;
	default:
		log_info("TLS error: %s", openssl_error());
		errno = EPROTO;
		break;
	}
	ERR_clear_error();
	return -1;
}

static ssize_t tls_read(void *ctx, void *buf, size_t n)
{
	struct tls_conn *c = ctx;

	if (n > INT_MAX)
		n = INT_MAX;
	errno = 0;
	return tls_result(c, SSL_read(c->ssl, buf, (int)n));
}

static ssize_t tls_write(void *ctx, const void *buf, size_t n)
{
	struct tls_conn *c = ctx;

	if (n > INT_MAX)
		n = INT_MAX;
	errno = 0;
	return tls_result(c, SSL_write(c->ssl, buf, (int)n));
}

static bool tls_pending(void *ctx)
{
	struct tls_conn *c = ctx;

	return SSL_pending(c->ssl) > 0;
}

static void tls_close(void *ctx)
{
	struct tls_conn *c = ctx;

	/* send our close_notify; do not wait for the peer's */
	(void)SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	ERR_clear_error();
	free(c);
}

static const struct ios_layer tls_layer = {
	.name = "tls",
	.read = tls_read,
	.write = tls_write,
	.pending = tls_pending,
	.close = tls_close,
};

int tls_start(struct ios *s, enum tls_service svc, const char **error_r)
{
	static char errbuf[300];
	struct tls_conn *c;
	int r;

	if (!tls_available(svc)) {
		*error_r = "TLS not available";
		return -1;
	}
	if (tls_active(s)) {
		*error_r = "TLS already active";
		return -1;
	}
	/* the "OK, begin TLS" must leave in plaintext before the handshake */
	if (ios_flush(s) != IOS_OK) {
		*error_r = "write error before TLS handshake";
		return -1;
	}
	/* STARTTLS injection defence: anything the client sent after the
	 * STARTTLS command, in plaintext, is thrown away unread */
	ios_discard_input(s);

	c = xcalloc(1, sizeof *c);
	c->ssl = SSL_new(tls_ctx[svc]);
	if (c->ssl == NULL ||
	    !SSL_set_rfd(c->ssl, ios_in_fd(s)) ||
	    !SSL_set_wfd(c->ssl, ios_out_fd(s))) {
		snprintf(errbuf, sizeof errbuf, "TLS setup failed: %s",
			 openssl_error());
		goto fail;
	}
	for (;;) {
		errno = 0;
		r = SSL_accept(c->ssl);
		if (r == 1)
			break;
		int err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_SYSCALL && errno == EINTR)
			continue;
		if (err == SSL_ERROR_SYSCALL)
			snprintf(errbuf, sizeof errbuf,
				 "TLS handshake failed: %s",
				 errno == 0 ? "connection closed" :
				 errno == EAGAIN ? "timeout" : strerror(errno));
		else
			snprintf(errbuf, sizeof errbuf,
				 "TLS handshake failed: %s", openssl_error());
		goto fail;
	}
	ios_set_layer(s, &tls_layer, c);
	log_info("TLS %s with %s", SSL_get_version(c->ssl),
		 SSL_get_cipher_name(c->ssl));
	ERR_clear_error();
	return 0;
fail:
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	free(c);
	ERR_clear_error();
	*error_r = errbuf;
	return -1;
}

bool tls_active(const struct ios *s)
{
	return ios_get_layer(s, NULL) == &tls_layer;
}

bool tls_implicit_port(int fd, enum tls_service svc)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	unsigned port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return false;
	return port == (svc == TLS_SERVICE_POP ? 995u : 993u);
}

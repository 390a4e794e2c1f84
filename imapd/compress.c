/*
 * compress.c - COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (RFC 1951, no
 * zlib header) both ways, as an ios layer stacked on whatever carries
 * the session (TLS, or the descriptors themselves): compression sits
 * above TLS when both are on, as the RFC says. zlib (Debian's zlib1g) is
 * the reference DEFLATE implementation and what the RFC's peers use.
 *
 * Output: every layer write is deflated with Z_SYNC_FLUSH, so each
 * response batch ios_flush() sends reaches the client whole.
 * Input: compressed bytes are read into a fixed buffer and inflated
 * straight into the caller's (ios's) read buffer, never more than it
 * has room for.
 *
 * SECURITY: the client's compressed stream is hostile. Memory is fixed
 * per session (zlib's 32 KB window plus two 16 KB buffers): a
 * decompression bomb only yields input at the rate ios consumes it, and
 * ios's line and literal limits apply to what it yields. A corrupt
 * stream is a read error: the session ends. COMPRESS is offered only
 * after login, so no secret of the login is compressed with attacker-
 * chosen text (CRIME).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "config.h"
#include "log.h"
#include "imapd.h"

#define Z_BUF 16384

struct zlayer {
	struct ios *ios;
	/* what was below us: a layer (TLS) or, when NULL, the fds */
	const struct ios_layer *inner;
	void *inner_ctx;
	int in_fd, out_fd;
	z_stream in, out;
	bool more_out;		/* the last inflate filled its output */
	bool in_end;		/* Z_STREAM_END: the client ended the stream */
	unsigned char ibuf[Z_BUF];
	unsigned char obuf[Z_BUF];
};

static ssize_t inner_read(struct zlayer *z, void *buf, size_t n)
{
	if (z->inner != NULL)
		return z->inner->read(z->inner_ctx, buf, n);
	return read(z->in_fd, buf, n);
}

static bool inner_pending(struct zlayer *z)
{
	return z->inner != NULL && z->inner->pending != NULL &&
		z->inner->pending(z->inner_ctx);
}

static int inner_write_all(struct zlayer *z, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = z->inner != NULL ?
			z->inner->write(z->inner_ctx, p, n) :
			write(z->out_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t z_read(void *ctx, void *buf, size_t n)
{
	struct zlayer *z = ctx;
	int autologout = (int)config_int("imap-autologout");

	if (z->in_end)
		return 0;
	for (;;) {
		int r;

		if (z->in.avail_in > 0 || z->more_out) {
			z->in.next_out = buf;
			z->in.avail_out = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
			r = inflate(&z->in, Z_SYNC_FLUSH);
			if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
				log_info("COMPRESS: corrupt input (%s)",
					 z->in.msg != NULL ? z->in.msg : "?");
				errno = EPROTO;
				return -1;
			}
			size_t got = n - z->in.avail_out;
			z->more_out = z->in.avail_out == 0;
			if (r == Z_STREAM_END)
				z->in_end = true;
			if (got > 0)
				return (ssize_t)got;
			if (z->in_end)
				return 0;
		}
		/* nothing inflated: more compressed input, waited for as
		 * ios waits (its poll saw the first bytes only) */
		if (!inner_pending(z)) {
			struct pollfd pfd = { .fd = z->in_fd, .events = POLLIN };
			int ms = autologout > 0 && autologout < 86400 ?
				autologout * 1000 : 86400 * 1000;
			r = poll(&pfd, 1, ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				errno = EAGAIN;
				return -1;
			}
			if (r < 0)
				return -1;
		}
		ssize_t got = inner_read(z, z->ibuf, sizeof z->ibuf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got;
		z->in.next_in = z->ibuf;
		z->in.avail_in = (uInt)got;
	}
}

static ssize_t z_write(void *ctx, const void *buf, size_t n)
{
	struct zlayer *z = ctx;
	int r;

	z->out.next_in = (unsigned char *)(uintptr_t)buf;
	z->out.avail_in = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
	do {
		z->out.next_out = z->obuf;
		z->out.avail_out = sizeof z->obuf;
		r = deflate(&z->out, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR) {
			errno = EPROTO;
			return -1;
		}
		if (inner_write_all(z, z->obuf, sizeof z->obuf -
				    z->out.avail_out) < 0)
			return -1;
	} while (z->out.avail_out == 0 || z->out.avail_in > 0);
	return (ssize_t)(n - z->out.avail_in);
}

static bool z_pending(void *ctx)
{
	struct zlayer *z = ctx;

	return z->more_out || (z->in.avail_in > 0 && !z->in_end) ||
		inner_pending(z);
}

static void z_close(void *ctx)
{
	struct zlayer *z = ctx;

	inflateEnd(&z->in);
	deflateEnd(&z->out);
	if (z->inner != NULL && z->inner->close != NULL)
		z->inner->close(z->inner_ctx);
	free(z);
}

static const struct ios_layer z_layer = {
	.name = "deflate",
	.read = z_read,
	.write = z_write,
	.pending = z_pending,
	.close = z_close,
};

bool imapd_compress_active(struct client *c)
{
	return ios_get_layer(c->ios, NULL) == &z_layer;
}

void cmd_compress(struct client *c, struct imap_arg *args)
{
	struct zlayer *z;

	if (args[0].type != IMAP_ARG_ATOM || args[1].type != IMAP_ARG_EOL) {
		client_bad(c, "COMPRESS mechanism");
		return;
	}
	if (ascii_strcasecmp(args[0].str, "DEFLATE") != 0) {
		client_bad(c, "Unknown compression mechanism");
		return;
	}
	if (imapd_compress_active(c)) {
		client_no(c, "[COMPRESSIONACTIVE] DEFLATE is already active");
		return;
	}
	/* the client waits for our OK before it compresses: anything
	 * already here was sent uncompressed after COMPRESS */
	if (ios_input_pending(c->ios)) {
		client_bad(c, "Commands pipelined after COMPRESS");
		return;
	}
	z = xcalloc(1, sizeof *z);
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		client_no(c, "Compression not available");
		return;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		client_no(c, "Compression not available");
		return;
	}
	z->ios = c->ios;
	z->inner = ios_get_layer(c->ios, &z->inner_ctx);
	z->in_fd = ios_in_fd(c->ios);
	z->out_fd = ios_out_fd(c->ios);
	/* the OK goes out uncompressed; everything after it is compressed */
	ios_printf(c->ios, "%s OK DEFLATE active\r\n", c->tag);
	c->tagged_done = true;
	if (ios_flush(c->ios) != IOS_OK) {
		z_close(z);
		client_state_change(c, STATE_LOGOUT);
		return;
	}
	ios_set_layer(c->ios, &z_layer, z);
}

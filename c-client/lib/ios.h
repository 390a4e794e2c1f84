/*
 * ios.h - bounded buffered I/O over a file descriptor pair, with a layer
 * slot where TLS sits.
 *
 * SECURITY: every read is bounded. ios_getline() takes a maximum and
 * reports IOS_TOOLONG instead of growing without limit; ios_read_exact()
 * reads a declared number of bytes into a buf whose own max applies.
 * Output is buffered and only leaves on ios_flush() (or by itself past
 * 128 KB, to bound memory), so a response is sent in as few writes as
 * possible (with TCP_NODELAY set by ios_new() on sockets, no
 * Nagle/delayed-ACK stall between responses). Callers ignore SIGPIPE.
 */
#ifndef CC_IOS_H
#define CC_IOS_H

#include "buf.h"

enum ios_status {
	IOS_OK = 0,
	IOS_EOF = -1,		/* peer closed */
	IOS_ERROR = -2,		/* read/write error (errno or layer error) */
	IOS_TIMEOUT = -3,	/* no input within the timeout */
	IOS_TOOLONG = -4,	/* line longer than the maximum */
};

/* A layer replaces raw read/write on the descriptors (TLS). */
struct ios_layer {
	const char *name;
	/* like read(2)/write(2); return -1 and set *error_r on failure */
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	ssize_t (*write)(void *ctx, const void *buf, size_t n);
	/* true if the layer holds decrypted input not yet returned */
	bool (*pending)(void *ctx);
	void (*close)(void *ctx);
};

struct ios;

/* in_fd may equal out_fd (socket); sets TCP_NODELAY when it is a socket */
struct ios *ios_new(int in_fd, int out_fd);
void ios_free(struct ios **s);		/* flushes, closes layer, not fds */

void ios_set_layer(struct ios *s, const struct ios_layer *layer, void *ctx);
/* the installed layer (NULL: none) and its context */
const struct ios_layer *ios_get_layer(const struct ios *s, void **ctx_r);
int ios_in_fd(const struct ios *s);
int ios_out_fd(const struct ios *s);
/* seconds to wait for input in ios_getline/ios_read_exact; 0 = forever */
void ios_set_timeout(struct ios *s, unsigned seconds);

/* Read one line into line (reset first), without the CRLF or LF.
 * A line longer than max bytes: the rest of the line is skipped (bounded
 * by discarding, never stored) and IOS_TOOLONG is returned. */
enum ios_status ios_getline(struct ios *s, struct buf *line, size_t max);
/* The same, but on IOS_TOOLONG line keeps the line's first keep bytes
 * (for the tag of an over-long command). */
enum ios_status ios_getline_keep(struct ios *s, struct buf *line, size_t max,
				 size_t keep);
/* Append exactly n bytes to out (bounded by out->max: IOS_TOOLONG). */
enum ios_status ios_read_exact(struct ios *s, struct buf *out, size_t n);
/* Discard exactly n input bytes (e.g. an oversized literal). */
enum ios_status ios_skip(struct ios *s, size_t n);
/* bytes of input already buffered (including in the layer) */
bool ios_input_pending(const struct ios *s);
/* drop all buffered, unread input (STARTTLS injection defence) */
void ios_discard_input(struct ios *s);
/* Wait up to ms milliseconds for input; 1 = readable, 0 = timeout,
 * -1 = error. Buffered input counts as readable. */
int ios_wait_input(struct ios *s, int ms);

/* output: buffered until ios_flush() */
void ios_write(struct ios *s, const void *p, size_t n);
void ios_puts(struct ios *s, const char *str);
void ios_printf(struct ios *s, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* IOS_OK or IOS_ERROR (then every later write is dropped) */
enum ios_status ios_flush(struct ios *s);
bool ios_failed(const struct ios *s);

#endif

/*
 * ios.c - bounded buffered I/O over a descriptor pair (see ios.h).
 *
 * Input goes through a fixed 16 KB read buffer; nothing the peer sends
 * can make it grow. Lines are copied into the caller's buf up to the
 * caller's maximum; the rest of an over-long line is read and thrown
 * away in place. Output collects in a buf and leaves on ios_flush() (or
 * when it passes IOS_WBUF_HIGH, so a huge FETCH does not sit in memory).
 *
 * SECURITY: every byte read here comes from the network. All copies are
 * bounded by the read buffer size, the caller's maximum, or buf->max.
 *
 * SIGPIPE: raw writes to sockets use send(MSG_NOSIGNAL); writes to pipes
 * and writes made by a layer (OpenSSL uses write(2)) can still raise
 * SIGPIPE, so every server ignores SIGPIPE at start (signal(SIGPIPE,
 * SIG_IGN)); a dead peer then shows up as a latched write error.
 *
 * Timeouts: ios_set_timeout() bounds every wait for input with poll(2);
 * on sockets it also sets SO_RCVTIMEO/SO_SNDTIMEO so that a layer which
 * reads the socket itself (TLS waiting for the rest of a record) cannot
 * block for ever either. After IOS_TIMEOUT or IOS_ERROR a partly read
 * line is lost: callers end the session then.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ios.h"

#define IOS_RBUF_SIZE	16384
/* output beyond this is flushed at once: bounded memory per session */
#define IOS_WBUF_HIGH	(128 * 1024)
/* An over-long line is discarded up to its end, but not for ever: after
 * this many bytes without a LF we give up looking and report it anyway
 * (callers end the session on IOS_TOOLONG of a command line). */
#define IOS_DISCARD_MAX	(64 * 1024 * 1024)

struct ios {
	int in_fd, out_fd;
	bool out_is_socket;
	bool in_is_socket;
	const struct ios_layer *layer;
	void *layer_ctx;
	unsigned timeout;		/* seconds, 0 = none */

	unsigned char rbuf[IOS_RBUF_SIZE];
	size_t rpos, rlen;		/* unread input is rbuf[rpos..rlen) */
	bool eof;

	struct buf wbuf;
	bool failed;
};

static bool fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void set_nodelay(int fd)
{
	int one = 1;

	/* fails harmlessly on UNIX-domain sockets and socketpairs */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct ios *ios_new(int in_fd, int out_fd)
{
	struct ios *s = xcalloc(1, sizeof *s);

	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->out_is_socket = fd_is_socket(out_fd);
	s->in_is_socket = fd_is_socket(in_fd);
	if (s->in_is_socket)
		set_nodelay(in_fd);
	if (out_fd != in_fd && s->out_is_socket)
		set_nodelay(out_fd);
	buf_init(&s->wbuf, 0);
	return s;
}

void ios_free(struct ios **sp)
{
	struct ios *s = *sp;

	if (s == NULL)
		return;
	(void)ios_flush(s);
	if (s->layer != NULL && s->layer->close != NULL)
		s->layer->close(s->layer_ctx);
	buf_release(&s->wbuf);
	free(s);
	*sp = NULL;
}

void ios_set_layer(struct ios *s, const struct ios_layer *layer, void *ctx)
{
	s->layer = layer;
	s->layer_ctx = ctx;
}

const struct ios_layer *ios_get_layer(const struct ios *s, void **ctx_r)
{
	if (ctx_r != NULL)
		*ctx_r = s->layer_ctx;
	return s->layer;
}

int ios_in_fd(const struct ios *s)
{
	return s->in_fd;
}

int ios_out_fd(const struct ios *s)
{
	return s->out_fd;
}

static void set_sock_timeout(int fd, int opt, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	if (fd_is_socket(fd))
		(void)setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

void ios_set_timeout(struct ios *s, unsigned seconds)
{
	s->timeout = seconds;
	set_sock_timeout(s->in_fd, SO_RCVTIMEO, seconds);
	set_sock_timeout(s->out_fd, SO_SNDTIMEO, seconds);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll one fd for events; ms < 0 waits for ever. EINTR-safe: the wait
 * continues with the time that is left. 1 ready, 0 timeout, -1 error. */
static int poll_fd(int fd, short events, int ms)
{
	long long deadline = ms >= 0 ? now_ms() + ms : 0;
	struct pollfd pfd;

	for (;;) {
		int left = ms;
		if (ms >= 0) {
			long long d = deadline - now_ms();
			left = d < 0 ? 0 : (int)d;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		int r = poll(&pfd, 1, left);
		if (r > 0)
			return 1;	/* POLLHUP/POLLERR too: the read tells */
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static bool layer_pending(const struct ios *s)
{
	return s->layer != NULL && s->layer->pending != NULL &&
		s->layer->pending(s->layer_ctx);
}

/* Read more input into rbuf. */
static enum ios_status ios_fill(struct ios *s)
{
	ssize_t n;

	if (s->eof)
		return IOS_EOF;
	if (s->rpos == s->rlen)
		s->rpos = s->rlen = 0;
	else if (s->rlen == sizeof s->rbuf) {
		memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
		s->rlen -= s->rpos;
		s->rpos = 0;
	}
	if (s->timeout > 0 && !layer_pending(s)) {
		int ms = s->timeout > 86400 ? 86400 * 1000 : (int)s->timeout * 1000;
		int r = poll_fd(s->in_fd, POLLIN, ms);
		if (r == 0)
			return IOS_TIMEOUT;
		if (r < 0)
			return IOS_ERROR;
	}
	if (s->rlen == sizeof s->rbuf)
		panic("ios_fill with a full read buffer");	/* callers consume first */
	for (;;) {
		size_t room = sizeof s->rbuf - s->rlen;
		if (s->layer != NULL) {
			errno = 0;
			n = s->layer->read(s->layer_ctx, s->rbuf + s->rlen, room);
		} else {
			n = read(s->in_fd, s->rbuf + s->rlen, room);
		}
		if (n > 0 && s->in_is_socket) {
			/* ACK at once: a client that sends a literal and its
			 * closing CRLF in two writes (Python's imaplib, c-client)
			 * has Nagle hold the CRLF until this ACK, and a delayed
			 * ACK costs ~40 ms per APPEND. Linux clears the flag
			 * again by itself, so it is set after every read. */
			int one = 1;
			(void)setsockopt(s->in_fd, IPPROTO_TCP, TCP_QUICKACK,
					 &one, sizeof one);
		}
		if (n > 0) {
			s->rlen += (size_t)n;
			return IOS_OK;
		}
		if (n == 0) {
			s->eof = true;
			return IOS_EOF;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IOS_TIMEOUT;	/* SO_RCVTIMEO expired */
		return IOS_ERROR;
	}
}

/* Throw input away up to and including the next LF. */
static enum ios_status discard_line(struct ios *s)
{
	size_t discarded = 0;

	for (;;) {
		unsigned char *p = s->rbuf + s->rpos;
		size_t avail = s->rlen - s->rpos;
		unsigned char *lf = memchr(p, '\n', avail);

		if (lf != NULL) {
			s->rpos += (size_t)(lf - p) + 1;
			return IOS_TOOLONG;
		}
		s->rpos = s->rlen;
		discarded += avail;
		if (discarded > IOS_DISCARD_MAX)
			return IOS_TOOLONG;
		enum ios_status st = ios_fill(s);
		if (st != IOS_OK)
			return st;
	}
}

enum ios_status ios_getline(struct ios *s, struct buf *line, size_t max)
{
	return ios_getline_keep(s, line, max, 0);
}

/* keep at most the first keep bytes of a line found too long */
static void toolong_keep(struct buf *line, const unsigned char *p,
			 size_t take, size_t keep)
{
	if (line->len > keep)
		buf_truncate(line, keep);
	else if (line->len < keep) {
		size_t more = keep - line->len;
		(void)buf_append(line, p, take < more ? take : more);
	}
}

enum ios_status ios_getline_keep(struct ios *s, struct buf *line, size_t max,
				 size_t keep)
{
	/* room for max bytes plus a CR that may turn out to precede the LF */
	size_t limit = max < SIZE_MAX ? max + 1 : max;

	buf_reset(line);
	for (;;) {
		unsigned char *p = s->rbuf + s->rpos;
		size_t avail = s->rlen - s->rpos;
		unsigned char *lf = memchr(p, '\n', avail);
		size_t take = lf != NULL ? (size_t)(lf - p) : avail;

		if (take > limit - line->len ||
		    !buf_append(line, p, take)) {
			toolong_keep(line, p, take, keep);
			return discard_line(s);
		}
		s->rpos += take;
		if (lf != NULL) {
			s->rpos++;		/* the LF */
			if (line->len > 0 && line->data[line->len - 1] == '\r')
				buf_truncate(line, line->len - 1);
			if (line->len > max) {
				toolong_keep(line, p, 0, keep);
				return IOS_TOOLONG;
			}
			return IOS_OK;
		}
		enum ios_status st = ios_fill(s);
		if (st != IOS_OK)
			return st;	/* a partial last line is not a line */
	}
}

enum ios_status ios_read_exact(struct ios *s, struct buf *out, size_t n)
{
	size_t total;

	if (!size_add(out->len, n, &total) ||
	    (out->max != 0 && total > out->max))
		return IOS_TOOLONG;	/* nothing consumed: caller may ios_skip */
	while (n > 0) {
		size_t avail = s->rlen - s->rpos;
		if (avail == 0) {
			enum ios_status st = ios_fill(s);
			if (st != IOS_OK)
				return st;
			continue;
		}
		size_t take = avail < n ? avail : n;
		if (!buf_append(out, s->rbuf + s->rpos, take))
			return IOS_TOOLONG;	/* cannot happen: checked above */
		s->rpos += take;
		n -= take;
	}
	return IOS_OK;
}

enum ios_status ios_skip(struct ios *s, size_t n)
{
	while (n > 0) {
		size_t avail = s->rlen - s->rpos;
		if (avail == 0) {
			enum ios_status st = ios_fill(s);
			if (st != IOS_OK)
				return st;
			continue;
		}
		size_t take = avail < n ? avail : n;
		s->rpos += take;
		n -= take;
	}
	return IOS_OK;
}

bool ios_input_pending(const struct ios *s)
{
	return s->rpos < s->rlen || layer_pending(s);
}

void ios_discard_input(struct ios *s)
{
	s->rpos = s->rlen = 0;
}

int ios_wait_input(struct ios *s, int ms)
{
	if (ios_input_pending(s) || s->eof)
		return 1;
	return poll_fd(s->in_fd, POLLIN, ms < 0 ? -1 : ms);
}

/* ---- output ---- */

static ssize_t raw_write(struct ios *s, const void *p, size_t n)
{
	if (s->layer != NULL)
		return s->layer->write(s->layer_ctx, p, n);
	if (s->out_is_socket)
		return send(s->out_fd, p, n, MSG_NOSIGNAL);
	return write(s->out_fd, p, n);
}

enum ios_status ios_flush(struct ios *s)
{
	size_t off = 0;

	while (!s->failed && off < s->wbuf.len) {
		if (s->timeout > 0 && s->layer == NULL) {
			int ms = s->timeout > 86400 ? 86400 * 1000 :
				(int)s->timeout * 1000;
			if (poll_fd(s->out_fd, POLLOUT, ms) <= 0) {
				s->failed = true;
				break;
			}
		}
		errno = 0;
		ssize_t n = raw_write(s, s->wbuf.data + off, s->wbuf.len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		s->failed = true;
	}
	buf_reset(&s->wbuf);
	return s->failed ? IOS_ERROR : IOS_OK;
}

bool ios_failed(const struct ios *s)
{
	return s->failed;
}

void ios_write(struct ios *s, const void *p, size_t n)
{
	if (s->failed)
		return;
	(void)buf_append(&s->wbuf, p, n);	/* no max: cannot fail */
	if (s->wbuf.len >= IOS_WBUF_HIGH)
		(void)ios_flush(s);
}

void ios_puts(struct ios *s, const char *str)
{
	ios_write(s, str, strlen(str));
}

void ios_printf(struct ios *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failed)
		return;
	va_start(ap, fmt);
	(void)buf_vprintf(&s->wbuf, fmt, ap);
	va_end(ap);
	if (s->wbuf.len >= IOS_WBUF_HIGH)
		(void)ios_flush(s);
}

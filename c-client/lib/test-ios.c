/* test-ios.c - bounded buffered streams: lines, literals, timeouts,
 * layers, output buffering and latched write errors */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ios.h"
#include "test.h"

/* a pipe whose read end feeds an ios; the test writes the input */
struct pipe_ios {
	int rfd, wfd;
	struct ios *s;
};

static void pio_open(struct pipe_ios *p, const char *input, size_t len)
{
	int fds[2];

	if (pipe(fds) < 0)
		panic("pipe: %s", strerror(errno));
	p->rfd = fds[0];
	p->wfd = fds[1];
	if (len > 0 && write_full(p->wfd, input, len) < 0)
		panic("write: %s", strerror(errno));
	p->s = ios_new(p->rfd, p->wfd);
}

static void pio_close(struct pipe_ios *p)
{
	ios_free(&p->s);
	close(p->rfd);
	if (p->wfd >= 0)
		close(p->wfd);
}

static void pio_eof(struct pipe_ios *p)
{
	close(p->wfd);
	p->wfd = -1;
}

static void test_ios_getline(void)
{
	static const char in[] = "a1 LOGIN\r\nsecond\nthird\r\r\n\r\nlast";
	struct pipe_ios p;
	struct buf line;

	buf_init(&line, 0);
	pio_open(&p, in, sizeof in - 1);
	pio_eof(&p);
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_STR(buf_cstr(&line), "a1 LOGIN");
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_STR(buf_cstr(&line), "second");
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_STR(buf_cstr(&line), "third\r");	/* only one CR is the EOL */
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_INT(line.len, 0);
	/* an unterminated last line is not a line */
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_EOF);
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_EOF);
	pio_close(&p);
	buf_release(&line);
}

static void test_ios_getline_toolong(void)
{
	struct buf in, line;
	struct pipe_ios p;
	int fds[2];

	/* a 40000-byte line spans several read buffers */
	buf_init(&in, 0);
	for (int i = 0; i < 40000; i++)
		buf_putc(&in, 'x');
	buf_puts(&in, "\r\nok\r\n12345\r\n123456\r\n");
	buf_init(&line, 0);
	/* the data exceeds a pipe buffer: feed it from a socketpair writer */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		panic("socketpair");
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		(void)write_full(fds[1], in.data, in.len);
		_exit(0);
	}
	close(fds[1]);
	p.rfd = fds[0];
	p.wfd = -1;
	p.s = ios_new(p.rfd, p.rfd);
	CHECK_INT(ios_getline(p.s, &line, 1000), IOS_TOOLONG);
	CHECK_INT(line.len, 0);
	CHECK_INT(ios_getline(p.s, &line, 1000), IOS_OK);
	CHECK_STR(buf_cstr(&line), "ok");
	/* exactly max bytes is fine, max + 1 is not, CR not counted */
	CHECK_INT(ios_getline(p.s, &line, 5), IOS_OK);
	CHECK_STR(buf_cstr(&line), "12345");
	CHECK_INT(ios_getline(p.s, &line, 5), IOS_TOOLONG);
	CHECK_INT(ios_getline(p.s, &line, 5), IOS_EOF);
	pio_close(&p);
	waitpid(pid, NULL, 0);
	buf_release(&in);
	buf_release(&line);
}

static void test_ios_getline_keep(void)
{
	static const char in[] = "a1 NOOP xxxxxxxxxxxxxxxxxxxx\r\nb2 OK\r\n";
	struct pipe_ios p;
	struct buf line;

	/* an over-long line keeps its head (the tag), the rest is skipped */
	buf_init(&line, 0);
	pio_open(&p, in, sizeof in - 1);
	CHECK_INT(ios_getline_keep(p.s, &line, 10, 4), IOS_TOOLONG);
	CHECK_STR(buf_cstr(&line), "a1 N");
	CHECK_INT(ios_getline_keep(p.s, &line, 10, 4), IOS_OK);
	CHECK_STR(buf_cstr(&line), "b2 OK");
	pio_close(&p);
	buf_release(&line);
}

static void test_ios_getline_bufmax(void)
{
	static const char in[] = "0123456789\r\nabc\r\n";
	struct pipe_ios p;
	struct buf line;

	/* the buf's own max applies as well as the argument */
	buf_init(&line, 4);
	pio_open(&p, in, sizeof in - 1);
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_TOOLONG);
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_STR(buf_cstr(&line), "abc");
	pio_close(&p);
	buf_release(&line);
}

static void test_ios_read_exact_skip(void)
{
	static const char in[] = "{5}\r\nhelloworld, and more\r\nnext\r\n";
	struct pipe_ios p;
	struct buf line, lit, small;

	buf_init(&line, 0);
	buf_init(&lit, 0);
	buf_init(&small, 3);
	pio_open(&p, in, sizeof in - 1);
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_INT(ios_read_exact(p.s, &lit, 5), IOS_OK);
	CHECK_STR(buf_cstr(&lit), "hello");
	/* too big for small: nothing consumed, then skipped */
	CHECK_INT(ios_read_exact(p.s, &small, 5), IOS_TOOLONG);
	CHECK_INT(small.len, 0);
	CHECK_INT(ios_skip(p.s, 5), IOS_OK);
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_STR(buf_cstr(&line), ", and more");
	CHECK(ios_input_pending(p.s));
	ios_discard_input(p.s);
	CHECK(!ios_input_pending(p.s));
	pio_eof(&p);
	CHECK_INT(ios_read_exact(p.s, &lit, 1), IOS_EOF);
	pio_close(&p);
	buf_release(&line);
	buf_release(&lit);
	buf_release(&small);
}

static void test_ios_timeout_and_wait(void)
{
	struct pipe_ios p;
	struct buf line;

	buf_init(&line, 0);
	pio_open(&p, "par", 3);
	ios_set_timeout(p.s, 1);
	/* partial line then silence: times out */
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_TIMEOUT);
	/* (the partial line is gone: a timeout ends the session) */
	CHECK_INT(ios_wait_input(p.s, 50), 0);
	/* buffered input counts for wait_input, even with nothing on the fd */
	CHECK(write_full(p.wfd, "y\nz\n", 4) == 4);
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_STR(buf_cstr(&line), "y");
	CHECK_INT(ios_wait_input(p.s, 0), 1);
	ios_discard_input(p.s);
	CHECK_INT(ios_wait_input(p.s, 50), 0);
	CHECK(write_full(p.wfd, "x\n", 2) == 2);
	CHECK_INT(ios_wait_input(p.s, 1000), 1);
	CHECK_INT(ios_getline(p.s, &line, 100), IOS_OK);
	CHECK_STR(buf_cstr(&line), "x");
	pio_close(&p);
	buf_release(&line);
}

/* a layer that xors every byte and holds one byte of "pending" input,
 * standing in for TLS */
struct xor_ctx {
	int fd;
	bool closed;
	int pending_calls;
};

static ssize_t xor_read(void *ctx, void *buf, size_t n)
{
	struct xor_ctx *x = ctx;
	ssize_t r = read(x->fd, buf, n);

	for (ssize_t i = 0; i < r; i++)
		((unsigned char *)buf)[i] ^= 0x20;
	return r;
}

static ssize_t xor_write(void *ctx, const void *buf, size_t n)
{
	struct xor_ctx *x = ctx;
	unsigned char tmp[64];

	if (n > sizeof tmp)
		n = sizeof tmp;		/* short writes exercise the flush loop */
	for (size_t i = 0; i < n; i++)
		tmp[i] = ((const unsigned char *)buf)[i] ^ 0x20;
	return write(x->fd, tmp, n);
}

static bool xor_pending(void *ctx)
{
	struct xor_ctx *x = ctx;

	x->pending_calls++;
	return true;
}

static void xor_close(void *ctx)
{
	struct xor_ctx *x = ctx;

	x->closed = true;
}

static const struct ios_layer xor_layer = {
	.name = "xor", .read = xor_read, .write = xor_write,
	.pending = xor_pending, .close = xor_close,
};

static void test_ios_layer(void)
{
	int fds[2];
	struct xor_ctx x = { 0 };
	struct buf line, big;
	char got[400];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		panic("socketpair");
	struct ios *s = ios_new(fds[0], fds[0]);
	x.fd = fds[0];
	ios_set_layer(s, &xor_layer, &x);
	CHECK(ios_input_pending(s));	/* layer says so */
	CHECK_INT(ios_wait_input(s, 0), 1);
	CHECK(x.pending_calls > 0);

	/* "HELLO\n" xor 0x20 = "hello*" */
	CHECK(write_full(fds[1], "hello*", 6) == 6);
	buf_init(&line, 0);
	CHECK_INT(ios_getline(s, &line, 10), IOS_OK);
	CHECK_STR(buf_cstr(&line), "HELLO");

	buf_init(&big, 0);
	for (int i = 0; i < 300; i++)
		buf_putc(&big, (char)('A' + i % 26));
	ios_write(s, big.data, big.len);
	ios_printf(s, "%s", "!");
	CHECK_INT(ios_flush(s), IOS_OK);
	CHECK(read(fds[1], got, sizeof got) > 0);	/* may be partial */
	CHECK(got[0] == ('A' ^ 0x20));
	ios_free(&s);
	CHECK(s == NULL);
	CHECK(x.closed);
	close(fds[0]);
	close(fds[1]);
	buf_release(&line);
	buf_release(&big);
}

static void test_ios_output(void)
{
	int fds[2];
	char got[100];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		panic("socketpair");
	struct ios *s = ios_new(fds[0], fds[0]);
	CHECK_INT(ios_in_fd(s), fds[0]);
	CHECK_INT(ios_out_fd(s), fds[0]);
	ios_puts(s, "* OK ");
	ios_printf(s, "%s %d\r\n", "ready", 42);
	/* nothing leaves before the flush */
	CHECK_INT(recv(fds[1], got, sizeof got, MSG_DONTWAIT), -1);
	CHECK_INT(ios_flush(s), IOS_OK);
	ssize_t n = read(fds[1], got, sizeof got - 1);
	CHECK_INT(n, 15);
	got[n > 0 ? n : 0] = '\0';
	CHECK_STR(got, "* OK ready 42\r\n");

	/* peer gone: the error latches and no SIGPIPE kills us (send with
	 * MSG_NOSIGNAL on a socket) */
	close(fds[1]);
	ios_puts(s, "lost\r\n");
	CHECK_INT(ios_flush(s), IOS_ERROR);
	CHECK(ios_failed(s));
	ios_puts(s, "dropped\r\n");
	CHECK_INT(ios_flush(s), IOS_ERROR);
	ios_free(&s);
	close(fds[0]);
}

static void test_ios_pipe_write_error(void)
{
	struct pipe_ios p;

	/* pipes can raise SIGPIPE: servers ignore it, and so do we here */
	signal(SIGPIPE, SIG_IGN);
	pio_open(&p, "", 0);
	ios_free(&p.s);
	p.s = ios_new(p.rfd, p.wfd);
	close(p.rfd);
	p.rfd = -1;
	ios_puts(p.s, "x");
	CHECK_INT(ios_flush(p.s), IOS_ERROR);
	CHECK(ios_failed(p.s));
	ios_free(&p.s);
	close(p.wfd);
}

static void test_ios_big_output(void)
{
	int fds[2];
	char chunk[1000];

	/* output past the high-water mark leaves without an explicit flush,
	 * so a reader must run concurrently */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		panic("socketpair");
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		size_t total = 0;
		ssize_t n;
		char rb[4096];
		while ((n = read(fds[1], rb, sizeof rb)) > 0)
			total += (size_t)n;
		_exit(total == 1000000 ? 0 : 1);
	}
	close(fds[1]);
	memset(chunk, 'm', sizeof chunk);
	struct ios *s = ios_new(fds[0], fds[0]);
	ios_set_timeout(s, 10);
	for (int i = 0; i < 1000; i++)
		ios_write(s, chunk, sizeof chunk);
	CHECK_INT(ios_flush(s), IOS_OK);
	ios_free(&s);
	close(fds[0]);
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_ios_getline),
		TEST(test_ios_getline_keep),
		TEST(test_ios_getline_toolong),
		TEST(test_ios_getline_bufmax),
		TEST(test_ios_read_exact_skip),
		TEST(test_ios_timeout_and_wait),
		TEST(test_ios_layer),
		TEST(test_ios_output),
		TEST(test_ios_pipe_write_error),
		TEST(test_ios_big_output),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}

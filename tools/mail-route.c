/*
 * mail-route - the auth_http service of nginx's mail proxy: checks a
 * login with the same password backends as imapd and ipop3d (PAM,
 * shadow, passwd-file, the CRAM-MD5/APOP database) and tells nginx which
 * backend holds the user's mail (the route-map file).
 *
 *   mail-route [-c FILE] [-o key=value]... [-l ADDR:PORT]
 *
 * One HTTP/1.0 request per connection on stdin/stdout (inetd, xinetd,
 * systemd Accept=yes) or, with -l, its own listener forking one process
 * per connection (see mail-route(8) and docs/scaling.md).
 *
 * SECURITY: runs as root (shadow and the CRAM-MD5 database are root's)
 * on bytes from the network. The request is read with a size cap
 * (AUTH_HTTP_MAX_REQUEST), a header count cap and a 10 s deadline, then
 * parsed by auth-http.c; nothing else is read. Failures only ever tell
 * the client "Invalid login or password"; the reason goes to the log.
 * Repeated failures from one client address get growing Auth-Wait delays,
 * kept in a small fixed-size state file (route-state-file) under flock.
 * The only secret ever sent back is a CRAM-MD5 database secret after an
 * APOP/CRAM-MD5 login, which nginx needs to log in to the backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "auth-http.h"
#include "buf.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "route-map.h"
#include "server.h"

#define REQUEST_TIMEOUT_MS	10000
#define BACKEND_CHECK_MS	3000
#define WAIT_MAX		60

/* ---- failures per client address (route-state-file) ---- */

#define STATE_SLOTS	4096
#define STATE_PROBE	8
#define STATE_FORGET	900	/* seconds after which failures are forgotten */

struct state_slot {
	char ip[46];
	uint16_t unused;
	uint32_t failures;
	int64_t last;
};

static uint32_t ip_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * Add delta failures for ip (delta 0: clear) and return the count now.
 * Without a usable state file, returns fallback (the attempt number
 * nginx counts on its own connection).
 */
static unsigned state_update(const char *ip, bool failed, unsigned fallback)
{
	const char *path = config_str("route-state-file");
	struct state_slot slots[STATE_PROBE], *use = NULL;
	int64_t now = (int64_t)time(NULL);
	uint32_t start = ip_hash(ip) % STATE_SLOTS;
	unsigned count = fallback;
	int fd;

	if (path[0] == '\0')
		return fallback;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_warning("route-state-file %s: %s (delays count this "
			    "connection's attempts only)", path, strerror(errno));
		return fallback;
	}
	if (flock(fd, LOCK_EX) < 0)
		goto out;
	/* the probe window may wrap: read slot by slot */
	for (unsigned i = 0; i < STATE_PROBE; i++) {
		off_t off = (off_t)((start + i) % STATE_SLOTS) * sizeof slots[0];
		if (pread_full(fd, &slots[i], sizeof slots[i], off) !=
		    (ssize_t)sizeof slots[i])
			memset(&slots[i], 0, sizeof slots[i]);
		slots[i].ip[sizeof slots[i].ip - 1] = '\0';
	}
	for (unsigned i = 0; i < STATE_PROBE && use == NULL; i++)
		if (strcmp(slots[i].ip, ip) == 0)
			use = &slots[i];
	if (use == NULL && !failed)
		goto out;
	if (use == NULL) {
		/* an empty slot, else the oldest in the window */
		use = &slots[0];
		for (unsigned i = 0; i < STATE_PROBE; i++)
			if (slots[i].ip[0] == '\0' || slots[i].last < use->last) {
				use = &slots[i];
				if (slots[i].ip[0] == '\0')
					break;
			}
		memset(use, 0, sizeof *use);
		snprintf(use->ip, sizeof use->ip, "%s", ip);
	}
	if (now - use->last > STATE_FORGET)
		use->failures = 0;
	if (failed) {
		if (use->failures < 1000)
			use->failures++;
		use->last = now;
		count = use->failures;
	} else {
		memset(use, 0, sizeof *use);
		count = 0;
	}
	off_t off = (off_t)((start + (unsigned)(use - slots)) % STATE_SLOTS) *
		sizeof *use;
	if (pwrite_full(fd, use, sizeof *use, off) != (ssize_t)sizeof *use)
		log_warning("route-state-file %s: write: %s", path,
			    strerror(errno));
	if (count < fallback)
		count = fallback;
out:
	close(fd);
	return count;
}

/* ---- the answer ---- */

static void reply(struct buf *out, const char *status, const char *extra)
{
	buf_printf(out, "HTTP/1.0 200 OK\r\nAuth-Status: %s\r\n%s\r\n",
		   status, extra != NULL ? extra : "");
}

static void send_out(int fd, struct buf *out)
{
	if (write_full(fd, out->data, out->len) < 0)
		log_info("write to nginx: %s", strerror(errno));
	explicit_bzero(out->data, out->len);
}

/* numeric address of host (nginx wants an address, not a name) */
static bool resolve(const char *host, char *out, size_t outsz)
{
	struct addrinfo hints, *res;
	int e;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	e = getaddrinfo(host, NULL, &hints, &res);
	if (e != 0) {
		log_error("backend %.255s: %s", host, gai_strerror(e));
		return false;
	}
	e = getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)outsz,
			NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	return e == 0;
}

/*
 * Backends seen up recently, after the failure slots of the same file:
 * a busy proxy then probes each backend about once per BACKEND_UP_TTL
 * instead of once per login (every probe costs the backend a process).
 * A backend seen down is probed again at every login, so it is back in
 * service as soon as it answers.
 */
#define BACKEND_SLOTS	256
#define BACKEND_UP_TTL	2

struct backend_slot {
	char key[80];		/* "addr port" */
	int64_t up_at;
};

static int backend_state_fd(void)
{
	const char *path = config_str("route-state-file");

	if (path[0] == '\0')
		return -1;
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static off_t backend_slot_off(const char *key)
{
	return (off_t)STATE_SLOTS * (off_t)sizeof(struct state_slot) +
		(off_t)(ip_hash(key) % BACKEND_SLOTS) *
		(off_t)sizeof(struct backend_slot);
}

static bool backend_recently_up(const char *key)
{
	struct backend_slot b;
	int fd = backend_state_fd();
	bool up = false;

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH) == 0 &&
	    pread_full(fd, &b, sizeof b, backend_slot_off(key)) ==
	    (ssize_t)sizeof b) {
		b.key[sizeof b.key - 1] = '\0';
		up = strcmp(b.key, key) == 0 &&
			(int64_t)time(NULL) - b.up_at < BACKEND_UP_TTL &&
			(int64_t)time(NULL) >= b.up_at;
	}
	close(fd);
	return up;
}

static void backend_record(const char *key, bool up)
{
	struct backend_slot b;
	int fd = backend_state_fd();

	if (fd < 0)
		return;
	memset(&b, 0, sizeof b);
	snprintf(b.key, sizeof b.key, "%s", key);
	b.up_at = up ? (int64_t)time(NULL) : 0;
	if (flock(fd, LOCK_EX) == 0)
		(void)pwrite_full(fd, &b, sizeof b, backend_slot_off(key));
	close(fd);
}

/* does the backend accept connections? (a down backend gets a clean
 * NO/-ERR from nginx instead of a broken session) */
static bool backend_probe(const char *addr, unsigned port)
{
	struct addrinfo hints, *res;
	char serv[8];
	int fd, ok = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(serv, sizeof serv, "%u", port);
	if (getaddrinfo(addr, serv, &hints, &res) != 0)
		return false;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (connect(fd, res->ai_addr, res->ai_addrlen) == 0)
			ok = 1;
		else if (errno == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int err = 0;
			socklen_t len = sizeof err;
			if (poll(&p, 1, BACKEND_CHECK_MS) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
			    err == 0)
				ok = 1;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return ok;
}

static bool backend_up(const char *addr, unsigned port)
{
	char key[80];
	bool up;

	snprintf(key, sizeof key, "%s %u", addr, port);
	if (backend_recently_up(key))
		return true;
	up = backend_probe(addr, port);
	backend_record(key, up);
	return up;
}

/* nginx takes a header value up to CRLF with the spaces around it
 * trimmed: a secret that would not survive that is refused */
static bool header_safe(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' ||
	    s[n - 1] == '\t')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void answer(const struct auth_http_request *req, struct buf *out)
{
	enum auth_service svc = req->protocol == AUTH_HTTP_POP3 ?
		AUTH_SERVICE_POP : AUTH_SERVICE_IMAP;
	const char *proto = req->protocol == AUTH_HTTP_POP3 ? "pop3" : "imap";
	const char *error = "unknown", *map = config_str("route-map");
	struct auth_user u;
	struct route r;
	char *secret = NULL, addr[64], extra[512];
	unsigned port;
	int ok;

	memset(&u, 0, sizeof u);
	switch (req->method) {
	case AUTH_HTTP_PLAIN:
		ok = auth_password(svc, req->user, req->pass, req->client_ip,
				   &u, &error);
		break;
	case AUTH_HTTP_APOP:
		ok = auth_apop(req->user, req->salt, req->pass, &u, &error);
		if (ok == 0)
			secret = auth_cram_secret(req->user);
		break;
	default:
		ok = auth_cram(req->user, req->salt, req->pass, &u, &secret,
			       &error);
		break;
	}
	if (ok < 0) {
		unsigned n = state_update(req->client_ip, true, req->attempt);
		long long base = config_int("login-failure-delay"), wait;

		/* base, 2 base, 4 base ... at least 1 s, at most WAIT_MAX */
		base = base < 1 ? 1 : base > WAIT_MAX ? WAIT_MAX : base;
		wait = base << (n > 7 ? 6 : n - 1);
		if (wait > WAIT_MAX)
			wait = WAIT_MAX;
		log_info("%s login failed for \"%.64s\" (failure %u from "
			 "this address): %s", proto, req->user, n, error);
		/* past login-failures-max on this connection: no Auth-Wait,
		 * so nginx closes it */
		if (req->attempt >= (unsigned)config_int("login-failures-max"))
			extra[0] = '\0';
		else
			snprintf(extra, sizeof extra, "Auth-Wait: %lld\r\n", wait);
		reply(out, req->protocol == AUTH_HTTP_POP3 ?
		      "[AUTH] Invalid login or password" :
		      "[AUTHENTICATIONFAILED] Invalid login or password", extra);
		goto done;
	}
	(void)state_update(req->client_ip, false, 0);
	if (map[0] == '\0') {
		log_error("route-map is not set: no backend for \"%.64s\"", u.name);
		reply(out, "Temporary server problem, try again later", NULL);
		goto done;
	}
	ok = route_lookup(map, u.name, &r, &error);
	if (ok <= 0) {
		if (ok < 0)
			log_error("%s", error);
		else
			log_error("route map %s: no line for \"%.64s\" and no "
				  "default", map, u.name);
		reply(out, "Temporary server problem, try again later", NULL);
		goto done;
	}
	port = req->protocol == AUTH_HTTP_POP3 ? r.pop3_port : r.imap_port;
	if (!resolve(r.host, addr, sizeof addr)) {
		reply(out, "Temporary server problem, try again later", NULL);
		goto done;
	}
	if (!backend_up(addr, port)) {
		log_warning("backend %s (%s port %u) of \"%.64s\" is down",
			    r.host, addr, port, u.name);
		reply(out, req->protocol == AUTH_HTTP_POP3 ?
		      "[SYS/TEMP] Your mail server is unavailable, try again later" :
		      "[UNAVAILABLE] Your mail server is unavailable, try again later",
		      NULL);
		goto done;
	}
	if (secret != NULL && !header_safe(secret)) {
		log_error("CRAM-MD5 secret of \"%.64s\" cannot be passed to "
			  "nginx (control characters)", u.name);
		reply(out, "Temporary server problem, try again later", NULL);
		goto done;
	}
	log_info("%s login of \"%.64s\" routed to %s (%s port %u)", proto,
		 u.name, r.host, addr, port);
	buf_printf(out, "HTTP/1.0 200 OK\r\nAuth-Status: OK\r\n"
		   "Auth-Server: %s\r\nAuth-Port: %u\r\n", addr, port);
	/* after APOP/CRAM-MD5 nginx has no password to give the backend */
	if (secret != NULL)
		buf_printf(out, "Auth-Pass: %s\r\n", secret);
	buf_puts(out, "\r\n");
done:
	if (secret != NULL) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	auth_user_free(&u);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void route_session(int in_fd, int out_fd)
{
	char data[AUTH_HTTP_MAX_REQUEST];
	long long deadline = now_ms() + REQUEST_TIMEOUT_MS;
	struct auth_http_request req;
	struct buf out;
	const char *error = NULL;
	size_t len = 0;
	int r = 0;

	log_set_host(listener_peer_name(in_fd));
	buf_init(&out, 0);
	while (r == 0) {
		struct pollfd p = { .fd = in_fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			log_info("request timed out after %zu bytes", len);
			goto out;
		}
		n = read(in_fd, data + len, sizeof data - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (len > 0)
				log_info("request cut short after %zu bytes", len);
			goto out;
		}
		len += (size_t)n;
		r = auth_http_parse(data, len, &req, &error);
	}
	if (r < 0) {
		log_notice("bad request: %s", error);
		buf_printf(&out, "HTTP/1.0 400 Bad Request\r\n"
			   "Auth-Status: Invalid request\r\n\r\n");
	} else {
		log_set_host(req.client_ip);
		answer(&req, &out);
		auth_http_request_free(&req);
	}
	send_out(out_fd, &out);
out:
	explicit_bzero(data, sizeof data);
	buf_release(&out);
}

static void route_conn(const struct server_conn *conn)
{
	route_session(conn->in_fd, conn->out_fd);
}

static const struct server_ops route_server = {
	.name = "mail-route",
	.usage = "usage: mail-route [-c config] [-o key=value]... "
		 "[-l address:port]",
	.usage_exit = 2,
	.plain_only = true,
	.session = route_conn,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &route_server);
}

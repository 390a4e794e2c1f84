/*
 * proxy-protocol.c - PROXY protocol v1/v2 headers and the trusted
 * networks they are accepted from (see proxy-protocol.h).
 *
 * SECURITY: runs as root before login on bytes from the network. The
 * parser works on a bounded buffer (PROXY_V2_MAX), checks every length
 * before it reads, and validates addresses with inet_pton/inet_ntop so
 * only a numeric address can reach the logs. The reader takes one byte
 * at a time until the header's length is known, so it never consumes a
 * byte of the session that follows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "proxy-protocol.h"

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* ---- version 1: "PROXY TCP4 src dst sport dport\r\n" ---- */

/* next space-separated field of [*p, end) into out; false if too long */
static bool v1_field(const char **p, const char *end, char *out, size_t outsz)
{
	const char *s = *p, *e = memchr(s, ' ', (size_t)(end - s));
	size_t n;

	if (e == NULL)
		e = end;
	n = (size_t)(e - s);
	if (n == 0 || n >= outsz)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = e < end ? e + 1 : e;
	return true;
}

static bool v1_port(const char *s, uint16_t *port)
{
	uint32_t v;

	/* decimal 0..65535, no sign, no leading zero */
	if (s[0] == '0' && s[1] != '\0')
		return false;
	if (strspn(s, "0123456789") != strlen(s) || !str_to_u32(s, &v) ||
	    v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool v1_addr(int af, const char *s, char *out, size_t outsz)
{
	unsigned char bin[16];

	return inet_pton(af, s, bin) == 1 &&
		inet_ntop(af, bin, out, (socklen_t)outsz) != NULL;
}

static int parse_v1(const unsigned char *data, size_t len,
		    struct proxy_info *pi, const char **error_r)
{
	const char *s = (const char *)data, *end, *p;
	char proto[8], src[48], dst[48], sport[8], dport[8];
	const unsigned char *cr;
	int af;

	cr = memchr(data, '\r', len < PROXY_V1_MAX ? len : PROXY_V1_MAX);
	if (cr == NULL) {
		if (len >= PROXY_V1_MAX) {
			*error_r = "PROXY v1 header longer than 107 bytes";
			return -1;
		}
		if (memchr(data, '\n', len) != NULL || memchr(data, '\0', len)) {
			*error_r = "PROXY v1 header without CRLF";
			return -1;
		}
		return 0;
	}
	if ((size_t)(cr - data) + 1 >= len) {
		/* the CR is the last byte so far: the LF may follow */
		if (len < PROXY_V1_MAX)
			return 0;
		*error_r = "PROXY v1 header longer than 107 bytes";
		return -1;
	}
	if (cr[1] != '\n') {
		*error_r = "PROXY v1 header: CR without LF";
		return -1;
	}
	end = (const char *)cr;
	memset(pi, 0, sizeof *pi);
	p = s + 6;
	if (memchr(s, '\0', (size_t)(end - s)) != NULL ||
	    !v1_field(&p, end, proto, sizeof proto)) {
		*error_r = "PROXY v1 header: bad protocol field";
		return -1;
	}
	if (strcmp(proto, "UNKNOWN") == 0)
		/* the rest of the line is ignored (spec 2.1) */
		return (int)(end - s) + 2;
	if (strcmp(proto, "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(proto, "TCP6") == 0)
		af = AF_INET6;
	else {
		*error_r = "PROXY v1 header: protocol not TCP4, TCP6 or UNKNOWN";
		return -1;
	}
	if (!v1_field(&p, end, src, sizeof src) ||
	    !v1_field(&p, end, dst, sizeof dst) ||
	    !v1_field(&p, end, sport, sizeof sport) ||
	    !v1_field(&p, end, dport, sizeof dport) || p != end ||
	    end[-1] == ' ') {
		*error_r = "PROXY v1 header: expected 4 fields after the protocol";
		return -1;
	}
	if (!v1_addr(af, src, pi->src, sizeof pi->src) ||
	    !v1_addr(af, dst, pi->dst, sizeof pi->dst)) {
		*error_r = "PROXY v1 header: bad address";
		return -1;
	}
	if (!v1_port(sport, &pi->src_port) || !v1_port(dport, &pi->dst_port)) {
		*error_r = "PROXY v1 header: bad port";
		return -1;
	}
	pi->has_addr = true;
	return (int)(end - s) + 2;
}

/* ---- version 2: binary ---- */

static int parse_v2(const unsigned char *data, size_t len,
		    struct proxy_info *pi, const char **error_r)
{
	size_t alen, total;
	unsigned ver, cmd, fam;

	if (len < 16)
		return 0;
	ver = data[12] >> 4;
	cmd = data[12] & 0x0f;
	fam = data[13];
	alen = (size_t)data[14] << 8 | data[15];
	if (ver != 2) {
		*error_r = "PROXY v2 header: version is not 2";
		return -1;
	}
	if (cmd > 1) {
		*error_r = "PROXY v2 header: command neither LOCAL nor PROXY";
		return -1;
	}
	total = 16 + alen;
	if (total > PROXY_V2_MAX) {
		*error_r = "PROXY v2 header too long";
		return -1;
	}
	if (len < total)
		return 0;
	memset(pi, 0, sizeof *pi);
	if (cmd == 0)		/* LOCAL: the proxy's own connection */
		return (int)total;
	switch (fam >> 4) {
	case 1:			/* AF_INET: 4 + 4 + 2 + 2 */
		if (alen < 12) {
			*error_r = "PROXY v2 header: IPv4 address block too short";
			return -1;
		}
		inet_ntop(AF_INET, data + 16, pi->src, sizeof pi->src);
		inet_ntop(AF_INET, data + 20, pi->dst, sizeof pi->dst);
		pi->src_port = (uint16_t)(data[24] << 8 | data[25]);
		pi->dst_port = (uint16_t)(data[26] << 8 | data[27]);
		pi->has_addr = true;
		break;
	case 2:			/* AF_INET6: 16 + 16 + 2 + 2 */
		if (alen < 36) {
			*error_r = "PROXY v2 header: IPv6 address block too short";
			return -1;
		}
		inet_ntop(AF_INET6, data + 16, pi->src, sizeof pi->src);
		inet_ntop(AF_INET6, data + 32, pi->dst, sizeof pi->dst);
		pi->src_port = (uint16_t)(data[48] << 8 | data[49]);
		pi->dst_port = (uint16_t)(data[50] << 8 | data[51]);
		pi->has_addr = true;
		break;
	case 0:			/* UNSPEC */
	case 3:			/* AF_UNIX: no address to log */
		break;
	default:
		*error_r = "PROXY v2 header: unknown address family";
		return -1;
	}
	/* TLVs after the addresses are skipped: we need none of them */
	return (int)total;
}

int proxy_parse(const unsigned char *data, size_t len, struct proxy_info *pi,
		const char **error_r)
{
	size_t n;

	if (len == 0)
		return 0;
	if (data[0] == v2_sig[0]) {
		n = len < sizeof v2_sig ? len : sizeof v2_sig;
		if (memcmp(data, v2_sig, n) != 0)
			goto bad;
		return n < sizeof v2_sig ? 0 : parse_v2(data, len, pi, error_r);
	}
	n = len < 6 ? len : 6;
	if (memcmp(data, "PROXY ", n) != 0)
		goto bad;
	return n < 6 ? 0 : parse_v1(data, len, pi, error_r);
bad:
	*error_r = "no PROXY protocol header from a trusted proxy";
	return -1;
}

/* ---- trusted networks ---- */

/* addr as 16 bytes (IPv4 as ::ffff:a.b.c.d) */
static bool addr_bytes(const char *s, unsigned char out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, s, out) == 1)
		return true;
	if (inet_pton(AF_INET, s, &a4) != 1)
		return false;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a4, 4);
	return true;
}

static bool prefix_match(const unsigned char *a, const unsigned char *net,
			 unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ net[full]) & (0xff00 >> rest) & 0xff) == 0;
}

static bool entry_matches(const unsigned char addr[16], const char *entry)
{
	char net[64];
	const char *slash = strchr(entry, '/');
	size_t n = slash != NULL ? (size_t)(slash - entry) : strlen(entry);
	unsigned char nb[16];
	uint32_t bits;
	bool v4;

	if (n == 0 || n >= sizeof net)
		goto bad;
	memcpy(net, entry, n);
	net[n] = '\0';
	v4 = strchr(net, ':') == NULL;
	if (!addr_bytes(net, nb))
		goto bad;
	if (slash == NULL)
		bits = 128;
	else if (slash[1] == '\0' || strspn(slash + 1, "0123456789") !=
		 strlen(slash + 1) || !str_to_u32(slash + 1, &bits) ||
		 bits > (v4 ? 32u : 128u))
		goto bad;
	else if (v4)
		bits += 96;
	return prefix_match(addr, nb, bits);
bad:
	log_error("trusted-proxies: bad entry \"%.64s\" ignored", entry);
	return false;
}

bool proxy_addr_trusted(const char *addr, const char *list)
{
	unsigned char a[16];
	char *copy, *save = NULL;
	bool found = false;

	if (list == NULL || list[0] == '\0' || !addr_bytes(addr, a))
		return false;
	copy = xstrdup(list);
	for (char *e = strtok_r(copy, " \t,", &save); e != NULL && !found;
	     e = strtok_r(NULL, " \t,", &save))
		found = entry_matches(a, e);
	free(copy);
	return found;
}

bool proxy_peer_trusted(int fd, const char *list)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN];
	const void *bin;

	if (list == NULL || list[0] == '\0' ||
	    getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family == AF_INET)
		bin = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		bin = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	else
		return false;
	if (inet_ntop(ss.ss_family, bin, host, sizeof host) == NULL)
		return false;
	return proxy_addr_trusted(host, list);
}

/* ---- reading a header off the socket ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* read exactly n bytes into p before the deadline */
/* what a health check (connect, close) looks like */
static const char PROXY_CLOSED_EARLY[] = "closed before sending anything";

static int read_before(int fd, unsigned char *p, size_t n, long long deadline,
		       bool first, const char **error_r)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t r;

		if (left <= 0) {
			*error_r = "timeout waiting for the PROXY header";
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*error_r = r == 0 ? "timeout waiting for the PROXY header"
				: "poll failed reading the PROXY header";
			return -1;
		}
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*error_r = r == 0 && first ? PROXY_CLOSED_EARLY :
				"connection closed in the PROXY header";
			return -1;
		}
		first = false;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int proxy_read_header(int fd, int timeout_ms, struct proxy_info *pi,
		      const char **error_r)
{
	unsigned char buf[PROXY_V2_MAX];
	long long deadline = now_ms() + timeout_ms;
	size_t len = 0;
	int r;

	for (;;) {
		size_t want = 1;

		/* v2: once the fixed part is in, the length says the rest */
		if (len == 16 && buf[0] == v2_sig[0]) {
			size_t total = 16 + ((size_t)buf[14] << 8 | buf[15]);
			if (total <= sizeof buf)
				want = total - 16;
		}
		if (len + want > sizeof buf) {
			*error_r = "PROXY header too long";
			return -1;
		}
		if (read_before(fd, buf + len, want, deadline, len == 0,
				error_r) < 0)
			return -1;
		len += want;
		r = proxy_parse(buf, len, pi, error_r);
		if (r < 0)
			return -1;
		if (r > 0 && (size_t)r != len) {
			/* cannot happen: we never read past a header's end */
			*error_r = "PROXY header length mismatch";
			return -1;
		}
		if (r > 0)
			return 0;
	}
}

int proxy_session_start(int fd, char **host)
{
	struct proxy_info pi;
	const char *error;

	if (!proxy_peer_trusted(fd, config_str("trusted-proxies")))
		return 0;
	if (proxy_read_header(fd, 10000, &pi, &error) < 0) {
		if (error == PROXY_CLOSED_EARLY)	/* mail-route's probe */
			log_debug("proxy %s: %s (health check)", *host, error);
		else
			log_notice("connection from proxy %s dropped: %s",
				   *host, error);
		return -1;
	}
	auth_set_via_proxy(true);
	if (pi.has_addr) {
		log_info("client %s port %u via proxy %s", pi.src,
			 (unsigned)pi.src_port, *host);
		free(*host);
		*host = xstrdup(pi.src);
		log_set_host(*host);
	}
	return 0;
}

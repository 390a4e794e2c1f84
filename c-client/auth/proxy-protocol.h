/*
 * proxy-protocol.h - the PROXY protocol (haproxy's proxy-protocol.txt,
 * versions 1 and 2) as sent by nginx's mail proxy (proxy_protocol on)
 * and haproxy in front of imapd/ipop3d: the first bytes of a connection
 * name the real client, so logs and login penalties see it instead of
 * the proxy.
 *
 * SECURITY: a header is believed only from a peer inside the
 * trusted-proxies networks (default: none), and from such a peer it is
 * required (the spec: a receiver never guesses). The header is read with
 * a hard size cap and a timeout, byte-exact, so nothing of the session
 * after it is consumed. A connection from a trusted proxy is allowed
 * plaintext logins (the proxy ended TLS itself); no other connection is.
 */
#ifndef CC_PROXY_PROTOCOL_H
#define CC_PROXY_PROTOCOL_H

#include "util.h"

/* v1: 107 bytes at most including CRLF; v2: 16-byte header + length */
#define PROXY_V1_MAX	107
#define PROXY_V2_MAX	(16 + 1024)

struct proxy_info {
	/* false: LOCAL (v2) or UNKNOWN (v1): keep the real peer address */
	bool has_addr;
	char src[48], dst[48];		/* numeric addresses */
	uint16_t src_port, dst_port;
};

/*
 * Parse a PROXY header at the start of data[0..len). Returns the header's
 * length in bytes (> 0) and fills *pi; 0 when more bytes are needed (and
 * what is there so far is a valid prefix); -1 with *error_r when it is
 * not a valid header.
 */
int proxy_parse(const unsigned char *data, size_t len, struct proxy_info *pi,
		const char **error_r);

/*
 * Is the peer of fd inside the networks of the list "10.0.0.0/8
 * 2001:db8::/32 192.0.2.1" (spaces or commas)? Bad entries are logged
 * and ignored. false when fd is not an IP socket.
 */
bool proxy_peer_trusted(int fd, const char *list);
/* the same for a numeric address (tests, mail-route) */
bool proxy_addr_trusted(const char *addr, const char *list);

/*
 * Read exactly one PROXY header from fd (a socket), waiting at most
 * timeout_ms in all. 0 with *pi, or -1 with *error_r.
 */
int proxy_read_header(int fd, int timeout_ms, struct proxy_info *pi,
		      const char **error_r);

/*
 * Session start for imapd and ipop3d: when the peer of fd is a trusted
 * proxy (setting trusted-proxies), read its header, replace *host (a
 * malloc'd string, freed here) with the real client's address, and mark
 * the session as coming through a proxy (auth_set_via_proxy). Returns
 * -1 when the connection must be dropped (bad or missing header from a
 * trusted proxy); the reason is logged.
 */
int proxy_session_start(int fd, char **host);

#endif

/*
 * auth-http.c - parser for nginx's auth_http request (see auth-http.h).
 *
 * SECURITY: everything here is network input. The whole request must
 * fit in AUTH_HTTP_MAX_REQUEST bytes and AUTH_HTTP_MAX_HEADERS lines;
 * each line is checked byte by byte before a field is copied; an Auth-*
 * header given twice is refused (two readers could disagree on which
 * counts); %-escapes are decoded strictly (two hex digits, never NUL).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "auth-http.h"

void auth_http_request_free(struct auth_http_request *req)
{
	if (req->pass != NULL)
		explicit_bzero(req->pass, strlen(req->pass));
	xfree(&req->user);
	xfree(&req->pass);
	xfree(&req->salt);
	xfree(&req->client_ip);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* nginx %-escapes Auth-User and Auth-Pass; NULL if malformed */
static char *unescape(const char *v, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (v[i] != '%') {
			*o++ = v[i];
			continue;
		}
		if (i + 2 >= n)
			goto bad;
		int hi = hexval(v[i + 1]), lo = hexval(v[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			goto bad;
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
bad:
	explicit_bzero(out, n + 1);
	free(out);
	return NULL;
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* the end of the head: offset just past the empty line, or 0 */
static size_t head_end(const char *data, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] != '\n')
			continue;
		if (data[i + 1] == '\n')
			return i + 2;
		if (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

struct field {
	const char *name;
	const char *value;
	size_t len;
};

static const char *const wanted[] = {
	"Auth-Method", "Auth-User", "Auth-Pass", "Auth-Salt",
	"Auth-Protocol", "Auth-Login-Attempt", "Client-IP",
};
enum { F_METHOD, F_USER, F_PASS, F_SALT, F_PROTO, F_ATTEMPT, F_IP, F_N };

static bool value_is(const struct field *f, const char *s)
{
	return f->len == strlen(s) && ascii_strncasecmp(f->value, s, f->len) == 0;
}

static int parse_request_line(const char *p, size_t n, const char **error_r)
{
	const char *sp;

	if (n < 4 || memcmp(p, "GET ", 4) != 0) {
		*error_r = "request method is not GET";
		return -1;
	}
	p += 4;
	n -= 4;
	sp = memchr(p, ' ', n);
	if (sp == NULL || sp == p || p[0] != '/') {
		*error_r = "malformed request line";
		return -1;
	}
	for (const char *q = p; q < sp; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
			*error_r = "malformed request line";
			return -1;
		}
	n -= (size_t)(sp + 1 - p);
	p = sp + 1;
	if (!(n == 8 && (memcmp(p, "HTTP/1.0", 8) == 0 ||
			 memcmp(p, "HTTP/1.1", 8) == 0))) {
		*error_r = "not HTTP/1.0 or HTTP/1.1";
		return -1;
	}
	return 0;
}

int auth_http_parse(const char *data, size_t len,
		    struct auth_http_request *req, const char **error_r)
{
	struct field f[F_N];
	size_t end, pos, nlines = 0;
	uint32_t attempt = 1;
	unsigned char ipbin[16];

	memset(req, 0, sizeof *req);
	memset(f, 0, sizeof f);
	end = head_end(data, len < AUTH_HTTP_MAX_REQUEST ? len :
		       AUTH_HTTP_MAX_REQUEST);
	if (end == 0) {
		if (len >= AUTH_HTTP_MAX_REQUEST) {
			*error_r = "request too large";
			return -1;
		}
		if (memchr(data, '\0', len) != NULL) {
			*error_r = "NUL byte in request";
			return -1;
		}
		return 0;
	}
	for (pos = 0; pos < end;) {
		const char *line = data + pos, *nl = memchr(line, '\n', end - pos);
		size_t n = (size_t)(nl - line);

		pos += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (++nlines > AUTH_HTTP_MAX_HEADERS + 2) {
			*error_r = "too many header lines";
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
			    line[i] == 0x7f) {
				*error_r = "control character in request";
				return -1;
			}
		if (nlines == 1) {
			if (parse_request_line(line, n, error_r) < 0)
				return -1;
			continue;
		}
		if (n == 0)
			break;		/* the empty line */
		if (line[0] == ' ' || line[0] == '\t') {
			*error_r = "folded header line";
			return -1;
		}
		const char *colon = memchr(line, ':', n);
		if (colon == NULL || colon == line) {
			*error_r = "header line without a name";
			return -1;
		}
		for (const char *q = line; q < colon; q++)
			if (!is_tchar(*q)) {
				*error_r = "bad character in header name";
				return -1;
			}
		size_t nl_len = (size_t)(colon - line);
		const char *v = colon + 1, *ve = line + n;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (unsigned k = 0; k < F_N; k++) {
			if (strlen(wanted[k]) != nl_len ||
			    ascii_strncasecmp(line, wanted[k], nl_len) != 0)
				continue;
			if (f[k].name != NULL) {
				*error_r = "repeated Auth header";
				return -1;
			}
			f[k].name = wanted[k];
			f[k].value = v;
			f[k].len = (size_t)(ve - v);
		}
	}

	if (f[F_METHOD].name == NULL || f[F_USER].name == NULL ||
	    f[F_PROTO].name == NULL || f[F_IP].name == NULL) {
		*error_r = "missing Auth-Method, Auth-User, Auth-Protocol or Client-IP";
		return -1;
	}
	if (value_is(&f[F_METHOD], "plain"))
		req->method = AUTH_HTTP_PLAIN;
	else if (value_is(&f[F_METHOD], "apop"))
		req->method = AUTH_HTTP_APOP;
	else if (value_is(&f[F_METHOD], "cram-md5"))
		req->method = AUTH_HTTP_CRAM_MD5;
	else {
		*error_r = "Auth-Method not plain, apop or cram-md5";
		return -1;
	}
	if (value_is(&f[F_PROTO], "imap"))
		req->protocol = AUTH_HTTP_IMAP;
	else if (value_is(&f[F_PROTO], "pop3"))
		req->protocol = AUTH_HTTP_POP3;
	else {
		*error_r = "Auth-Protocol not imap or pop3";
		return -1;
	}
	if (f[F_PASS].name == NULL) {
		*error_r = "missing Auth-Pass";
		return -1;
	}
	if (req->method != AUTH_HTTP_PLAIN &&
	    (f[F_SALT].name == NULL || f[F_SALT].len == 0)) {
		*error_r = "missing Auth-Salt for apop or cram-md5";
		return -1;
	}
	if (f[F_ATTEMPT].name != NULL) {
		char num[12];
		if (f[F_ATTEMPT].len == 0 || f[F_ATTEMPT].len >= sizeof num ||
		    strspn(f[F_ATTEMPT].value, "0123456789") < f[F_ATTEMPT].len) {
			*error_r = "bad Auth-Login-Attempt";
			return -1;
		}
		memcpy(num, f[F_ATTEMPT].value, f[F_ATTEMPT].len);
		num[f[F_ATTEMPT].len] = '\0';
		if (!str_to_u32(num, &attempt) || attempt == 0 || attempt > 1000) {
			*error_r = "bad Auth-Login-Attempt";
			return -1;
		}
	}
	req->client_ip = xstrndup(f[F_IP].value, f[F_IP].len);
	if (inet_pton(AF_INET, req->client_ip, ipbin) != 1 &&
	    inet_pton(AF_INET6, req->client_ip, ipbin) != 1) {
		*error_r = "Client-IP is not a numeric address";
		goto bad;
	}
	req->attempt = attempt;
	req->user = unescape(f[F_USER].value, f[F_USER].len);
	req->pass = unescape(f[F_PASS].value, f[F_PASS].len);
	if (req->user == NULL || req->pass == NULL || req->user[0] == '\0') {
		*error_r = "bad escape in Auth-User or Auth-Pass, or empty user";
		goto bad;
	}
	if (f[F_SALT].name != NULL && req->method != AUTH_HTTP_PLAIN)
		req->salt = xstrndup(f[F_SALT].value, f[F_SALT].len);
	return (int)end;
bad:
	auth_http_request_free(req);
	return -1;
}

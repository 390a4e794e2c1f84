/*
 * util.c - allocation that cannot fail, panic, checked arithmetic,
 * locale-independent ASCII helpers and full reads/writes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static void ATTR_NORETURN out_of_memory(size_t n)
{
	syslog(LOG_MAIL | LOG_CRIT, "fatal: out of memory allocating %zu bytes", n);
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		out_of_memory(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		out_of_memory(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		out_of_memory(n);
	return q;
}

void *xreallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (!size_mul(nmemb, size, &n))
		panic("array size overflow (%zu * %zu)", nmemb, size);
	return xrealloc(p, n);
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		panic("vsnprintf failed");
	p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void xfree(void *pp)
{
	void **p = pp;
	free(*p);
	*p = NULL;
}

void panic_at(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	syslog(LOG_MAIL | LOG_CRIT, "panic: %s:%d: %s", file, line, msg);
	fprintf(stderr, "panic: %s:%d: %s\n", file, line, msg);
	abort();
}

bool size_add(size_t a, size_t b, size_t *r)
{
	return !__builtin_add_overflow(a, b, r);
}

bool size_mul(size_t a, size_t b, size_t *r)
{
	return !__builtin_mul_overflow(a, b, r);
}

char ascii_toupper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}

char ascii_tolower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

int ascii_strncasecmp(const char *a, const char *b, size_t n)
{
	for (; n > 0; a++, b++, n--) {
		unsigned char ca = (unsigned char)ascii_tolower(*a);
		unsigned char cb = (unsigned char)ascii_tolower(*b);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == '\0')
			return 0;
	}
	return 0;
}

int ascii_strcasecmp(const char *a, const char *b)
{
	return ascii_strncasecmp(a, b, (size_t)-1);
}

const char *ascii_memcasemem(const char *hay, size_t hlen,
			     const char *needle, size_t nlen)
{
	size_t i, j;
	char first;

	if (nlen == 0)
		return hay;
	if (hlen < nlen)
		return NULL;
	first = ascii_tolower(needle[0]);
	for (i = 0; i + nlen <= hlen; i++) {
		if (ascii_tolower(hay[i]) != first)
			continue;
		for (j = 1; j < nlen; j++)
			if (ascii_tolower(hay[i + j]) != ascii_tolower(needle[j]))
				break;
		if (j == nlen)
			return hay + i;
	}
	return NULL;
}

char *path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int mkdir_parents(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			ret = -1;
			break;
		}
		*s = '/';
	}
	free(p);
	return ret;
}

bool str_to_u64(const char *s, uint64_t *r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return false;
	}
	*r = v;
	return true;
}

bool str_to_u32(const char *s, uint32_t *r)
{
	uint64_t v;

	if (!str_to_u64(s, &v) || v > UINT32_MAX)
		return false;
	*r = (uint32_t)v;
	return true;
}

ssize_t write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

ssize_t pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t w = pwrite(fd, p + done, n - done, off + (off_t)done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

ssize_t pread_full(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, p + done, n - done, off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

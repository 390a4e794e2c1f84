/*
 * util.h - allocation that cannot fail, panics, small helpers.
 *
 * Allocators abort the process with a syslog line rather than return NULL
 * (STYLE.md: "allocators that cannot fail abort"). panic() marks an
 * internal contract violation and names file and line.
 */
#ifndef CC_UTIL_H
#define CC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#if defined(__GNUC__)
#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ATTR_NORETURN __attribute__((noreturn))
#define ATTR_UNUSED __attribute__((unused))
#else
#define ATTR_PRINTF(f, a)
#define ATTR_NORETURN
#define ATTR_UNUSED
#endif

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* realloc for arrays with overflow-checked nmemb * size */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);
/* free *pp and set it to NULL */
void xfree(void *pp);

void panic_at(const char *file, int line, const char *fmt, ...)
	ATTR_PRINTF(3, 4) ATTR_NORETURN;
#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* checked size arithmetic: return false on overflow */
bool size_add(size_t a, size_t b, size_t *r);
bool size_mul(size_t a, size_t b, size_t *r);

/* ASCII-only case-insensitive helpers (locale independent) */
int ascii_strcasecmp(const char *a, const char *b);
int ascii_strncasecmp(const char *a, const char *b, size_t n);
char ascii_toupper(char c);
char ascii_tolower(char c);
/* case-insensitive memmem for ASCII */
const char *ascii_memcasemem(const char *hay, size_t hlen,
			     const char *needle, size_t nlen);

/* the directory part of path ("." when none, "/" for "/x"); caller frees */
char *path_dirname(const char *path);
/* create the missing parent directories of path (not path itself) with
 * mode; -1 with errno at the first that cannot be made */
int mkdir_parents(const char *path, mode_t mode);

/* strict decimal parse of a whole string; false on junk or overflow */
bool str_to_u32(const char *s, uint32_t *r);
bool str_to_u64(const char *s, uint64_t *r);

/* write all bytes, retrying on EINTR/short writes; -1 with errno set */
ssize_t write_full(int fd, const void *buf, size_t n);
ssize_t pwrite_full(int fd, const void *buf, size_t n, off_t off);
/* read exactly n bytes unless EOF; returns bytes read or -1 */
ssize_t pread_full(int fd, void *buf, size_t n, off_t off);

#endif

/*
 * imap-arg.c - IMAP argument tokenizer. See imap-arg.h.
 *
 * SECURITY: runs before login on network input. Every index is checked
 * against len; literal sizes are validated against the bytes present;
 * depth and count are bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "imap-arg.h"

struct imap_args {
	struct imap_arg *top;
	/* every list array and quoted copy we allocated */
	void **allocs;
	size_t nallocs, allocs_cap;
	size_t count;
};

struct parser {
	const char *buf;
	size_t len;
	size_t pos;
	struct imap_args *a;
	const char *error;
};

static void track(struct imap_args *a, void *p)
{
	if (a->nallocs == a->allocs_cap) {
		a->allocs_cap = a->allocs_cap ? a->allocs_cap * 2 : 16;
		a->allocs = xreallocarray(a->allocs, a->allocs_cap,
					  sizeof *a->allocs);
	}
	a->allocs[a->nallocs++] = p;
}

static bool is_atom_special(char c)
{
	/* atom-specials (RFC 3501): ( ) { SP CTL % * " \ ] ; we allow % and
	 * * (list-wildcards), ] and a backslash (flags: \Seen) */
	unsigned char u = (unsigned char)c;
	return c == '(' || c == ')' || c == '{' || c == ' ' || c == '"' ||
	       u < 0x20 || u == 0x7f;
}

static bool parse_list(struct parser *p, struct imap_arg **out, unsigned depth,
		       bool top);

/* Two passes: validate and measure, then copy into a string of its real
 * size (one allocation of the whole rest of the command per quoted
 * string let a 64 KB line of "" "" ... take hundreds of MB) */
static bool parse_quoted(struct parser *p, struct imap_arg *arg)
{
	size_t pos = p->pos + 1, n = 0, i;
	char *copy;

	for (;; pos++, n++) {
		if (pos >= p->len) {
			p->error = "Unterminated quoted string";
			return false;
		}
		char c = p->buf[pos];
		if (c == '"')
			break;
		if (c == '\\') {
			if (pos + 1 >= p->len) {
				p->error = "Unterminated quoted string";
				return false;
			}
			c = p->buf[pos + 1];
			if (c != '"' && c != '\\') {
				p->error = "Invalid escape in quoted string";
				return false;
			}
			pos++;
		} else if (c == '\r' || c == '\n' || c == '\0') {
			p->error = "Invalid character in quoted string";
			return false;
		}
	}
	copy = xmalloc(n + 1);
	track(p->a, copy);
	for (pos = p->pos + 1, i = 0; i < n; i++, pos++) {
		if (p->buf[pos] == '\\')
			pos++;
		copy[i] = p->buf[pos];
	}
	copy[n] = '\0';
	p->pos = pos + 1;	/* past the closing quote */
	arg->type = IMAP_ARG_QUOTED;
	arg->str = copy;
	arg->len = n;
	return true;
}

static bool parse_literal(struct parser *p, struct imap_arg *arg, bool lit8)
{
	uint64_t n = 0;
	size_t start;

	p->pos++;		/* '{' */
	start = p->pos;
	while (p->pos < p->len && p->buf[p->pos] >= '0' &&
	       p->buf[p->pos] <= '9') {
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (uint64_t)(p->buf[p->pos] - '0'), &n)) {
			p->error = "Literal size too large";
			return false;
		}
		p->pos++;
	}
	if (p->pos == start) {
		p->error = "Invalid literal size";
		return false;
	}
	if (p->pos < p->len && (p->buf[p->pos] == '+' || p->buf[p->pos] == '-'))
		p->pos++;
	if (p->pos + 3 > p->len || p->buf[p->pos] != '}' ||
	    p->buf[p->pos + 1] != '\r' || p->buf[p->pos + 2] != '\n') {
		p->error = "Invalid literal";
		return false;
	}
	p->pos += 3;
	if (n > p->len - p->pos) {
		p->error = "Literal shorter than announced";
		return false;
	}
	arg->type = IMAP_ARG_LITERAL;
	{
		char *copy = xmalloc((size_t)n + 1);
		memcpy(copy, p->buf + p->pos, (size_t)n);
		copy[n] = '\0';
		track(p->a, copy);
		arg->str = copy;
	}
	arg->len = (size_t)n;
	arg->literal8 = lit8;
	p->pos += (size_t)n;
	return true;
}

/* Does an atom that begins buf[0..len) open a fetch section at its '['?
 * Only BODY[...] and BINARY[...] (and their .PEEK/.SIZE forms) take a
 * section whose spaces and parentheses belong to the atom; anywhere else
 * '[' and ']' are plain ASTRING-CHARs (RFC 3501 9: resp-specials), as in
 * a mailbox named "a[b". */
static bool section_prefix(const char *buf, size_t len)
{
	static const char *const names[] = {
		"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
	};
	size_t i;

	for (i = 0; i < N_ELEMENTS(names); i++)
		if (strlen(names[i]) == len &&
		    ascii_strncasecmp(buf, names[i], len) == 0)
			return true;
	return false;
}

static bool parse_atom(struct parser *p, struct imap_arg *arg)
{
	size_t start = p->pos;
	unsigned brackets = 0;
	bool section = false;
	char *copy;

	while (p->pos < p->len) {
		char c = p->buf[p->pos];
		if (c == '[' && (section || brackets > 0 ||
				 section_prefix(p->buf + start, p->pos - start))) {
			section = true;
			brackets++;
		} else if (c == ']' && brackets > 0) {
			brackets--;
		} else if (brackets > 0) {
			if (c == '\r' || c == '\n' || c == '\0')
				break;
		} else if (is_atom_special(c)) {
			break;
		}
		p->pos++;
	}
	if (brackets > 0) {
		p->error = "Missing ']'";
		return false;
	}
	if (p->pos == start) {
		p->error = "Unexpected character";
		return false;
	}
	copy = xstrndup(p->buf + start, p->pos - start);
	track(p->a, copy);
	arg->type = IMAP_ARG_ATOM;
	arg->str = copy;
	arg->len = p->pos - start;
	return true;
}

static bool parse_one(struct parser *p, struct imap_arg *arg, unsigned depth)
{
	char c = p->buf[p->pos];

	if (++p->a->count > IMAP_ARG_MAX_COUNT) {
		p->error = "Too many arguments";
		return false;
	}
	switch (c) {
	case '"':
		return parse_quoted(p, arg);
	case '{':
		return parse_literal(p, arg, false);
	case '~':
		if (p->pos + 1 < p->len && p->buf[p->pos + 1] == '{') {
			p->pos++;
			return parse_literal(p, arg, true);
		}
		return parse_atom(p, arg);
	case '(':
		if (depth >= IMAP_ARG_MAX_DEPTH) {
			p->error = "Too deeply nested";
			return false;
		}
		p->pos++;
		arg->type = IMAP_ARG_LIST;
		return parse_list(p, &arg->list, depth + 1, false);
	default:
		return parse_atom(p, arg);
	}
}

static bool parse_list(struct parser *p, struct imap_arg **out, unsigned depth,
		       bool top)
{
	struct imap_arg *args = NULL;
	size_t n = 0, cap = 0;
	bool first = true;

	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			args = xreallocarray(args, cap, sizeof *args);
		}
		memset(&args[n], 0, sizeof args[n]);
		if (p->pos >= p->len || p->buf[p->pos] == '\r' ||
		    p->buf[p->pos] == '\n') {
			if (!top) {
				free(args);
				p->error = "Missing ')'";
				return false;
			}
			break;
		}
		if (p->buf[p->pos] == ')') {
			if (top) {
				free(args);
				p->error = "Unexpected ')'";
				return false;
			}
			p->pos++;
			break;
		}
		if (!first) {
			if (p->buf[p->pos] != ' ') {
				free(args);
				p->error = "Missing space between arguments";
				return false;
			}
			p->pos++;
			if (p->pos >= p->len) {
				free(args);
				p->error = "Trailing space";
				return false;
			}
		}
		first = false;
		if (p->buf[p->pos] == ' ' || p->buf[p->pos] == ')' ||
		    p->buf[p->pos] == '\r' || p->buf[p->pos] == '\n') {
			if (p->buf[p->pos] == ')' && !top && n == 0)
				continue;
			free(args);
			p->error = "Unexpected space or end of list";
			return false;
		}
		if (!parse_one(p, &args[n], depth)) {
			/* children were tracked by their parsers */
			track(p->a, args);
			return false;
		}
		n++;
	}
	args[n].type = IMAP_ARG_EOL;
	track(p->a, args);
	*out = args;
	return true;
}

struct imap_args *imap_args_parse(const char *buf, size_t len,
				  const char **error_r)
{
	struct parser p = { buf, len, 0, NULL, NULL };
	struct imap_args *a = xcalloc(1, sizeof *a);

	p.a = a;
	if (!parse_list(&p, &a->top, 0, true)) {
		*error_r = p.error ? p.error : "Invalid arguments";
		imap_args_free(&a);
		return NULL;
	}
	if (p.pos < p.len) {
		size_t rest = p.len - p.pos;
		if (!((rest == 2 && buf[p.pos] == '\r' && buf[p.pos + 1] == '\n') ||
		      (rest == 1 && buf[p.pos] == '\n'))) {
			*error_r = "Unexpected data after arguments";
			imap_args_free(&a);
			return NULL;
		}
	}
	return a;
}

void imap_args_free(struct imap_args **ap)
{
	struct imap_args *a = *ap;

	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nallocs; i++)
		free(a->allocs[i]);
	free(a->allocs);
	xfree(ap);
}

struct imap_arg *imap_args_get(struct imap_args *a)
{
	return a->top;
}

const char *imap_arg_string(const struct imap_arg *arg)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
		return arg->str;
	default:
		return NULL;
	}
}

bool imap_arg_is_atom(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && ascii_strcasecmp(arg->str, word) == 0;
}

bool imap_arg_is_nil(const struct imap_arg *arg)
{
	return imap_arg_is_atom(arg, "NIL");
}

bool imap_arg_is_string(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_QUOTED ||
	       arg->type == IMAP_ARG_LITERAL;
}

unsigned imap_arg_count(const struct imap_arg *arg)
{
	unsigned n = 0;
	while (arg[n].type != IMAP_ARG_EOL)
		n++;
	return n;
}

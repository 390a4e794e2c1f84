/*
 * imap-arg.h - tokenizer for IMAP command arguments (RFC 3501 section 9).
 *
 * The front end reads a whole command (the line plus every literal it
 * announces) into one buffer in which each literal appears as
 * "{N}\r\n" or "{N+}\r\n" / "~{N}\r\n" (BINARY) followed by exactly N bytes.
 * imap_args_parse() turns it into a tree of arguments pointing into that
 * buffer. Nesting is bounded (IMAP_ARG_MAX_DEPTH) and so is the number of
 * arguments (IMAP_ARG_MAX_COUNT): hostile input gets a parse error.
 *
 * An atom BODY, BODY.PEEK, BINARY, BINARY.PEEK or BINARY.SIZE followed by
 * '[' extends to the matching ']' (spaces and parentheses inside are
 * part of it) and may continue after it, so
 * "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>" is one atom. In any other
 * atom '[' and ']' are ordinary characters (mailbox "a[b").
 */
#ifndef CC_IMAP_ARG_H
#define CC_IMAP_ARG_H

#include "util.h"

#define IMAP_ARG_MAX_DEPTH 64
#define IMAP_ARG_MAX_COUNT 100000

enum imap_arg_type {
	IMAP_ARG_EOL = 0,	/* end of a list / of the command */
	IMAP_ARG_ATOM,		/* includes NIL: check with imap_arg_is_nil */
	IMAP_ARG_QUOTED,	/* str is unescaped, NUL-terminated copy */
	IMAP_ARG_LITERAL,	/* str points at the literal bytes */
	IMAP_ARG_LIST,		/* list points at the children */
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;	/* ATOM/QUOTED/LITERAL: a NUL-terminated copy */
	size_t len;
	bool literal8;		/* literal was ~{N} (BINARY) */
	struct imap_arg *list;	/* LIST: children, ending with IMAP_ARG_EOL */
};

struct imap_args;		/* owns everything it returns */

/* Parse buf[0..len). On error returns NULL and sets *error_r to a short
 * reason suitable for a BAD response. */
struct imap_args *imap_args_parse(const char *buf, size_t len,
				  const char **error_r);
void imap_args_free(struct imap_args **a);
/* the top-level argument array, ending with IMAP_ARG_EOL */
struct imap_arg *imap_args_get(struct imap_args *a);

/* ATOM, QUOTED or LITERAL: a string argument (astring); NULL otherwise */
const char *imap_arg_string(const struct imap_arg *arg);
bool imap_arg_is_atom(const struct imap_arg *arg, const char *word);
bool imap_arg_is_nil(const struct imap_arg *arg);
bool imap_arg_is_string(const struct imap_arg *arg);
/* count args before EOL */
unsigned imap_arg_count(const struct imap_arg *arg);

#endif

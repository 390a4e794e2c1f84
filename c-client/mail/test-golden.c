/*
 * test-golden.c - golden files for the parsers: every
 * tests/data/parsers/NAME.eml is parsed (envelope, MIME structure,
 * decoded header text, base subject) and printed in a canonical form
 * that is diffed against NAME.ref. With GOLDEN_UPDATE=1 the .ref files
 * are (re)written instead: review them before committing.
 *
 * The data directory is $CC_SRCDIR/tests/data/parsers, else
 * tests/data/parsers or parsers relative to the current directory.
 */
#include <dirent.h>
#include <stdlib.h>

#include "codec.h"
#include "date.h"
#include "mime.h"
#include "rfc822.h"
#include "test.h"

static void dump_str(struct buf *out, const char *s)
{
	if (s == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_putc(out, (char)c);
	}
	buf_putc(out, '"');
}

static void dump_decoded(struct buf *out, const char *s)
{
	struct buf d;

	if (s == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_init(&d, 0);
	rfc2047_decode(s, strlen(s), &d);
	dump_str(out, d.data);
	buf_release(&d);
}

static void dump_addrs(struct buf *out, const char *label,
		       const struct address *a)
{
	buf_printf(out, "  %s:", label);
	if (a == NULL)
		buf_puts(out, " NIL");
	buf_putc(out, '\n');
	for (; a != NULL; a = a->next) {
		buf_puts(out, "    (");
		dump_str(out, a->personal);
		buf_putc(out, ' ');
		dump_str(out, a->adl);
		buf_putc(out, ' ');
		dump_str(out, a->mailbox);
		buf_putc(out, ' ');
		dump_str(out, a->host);
		buf_putc(out, ')');
		if (a->personal != NULL) {
			buf_puts(out, " personal=");
			dump_decoded(out, a->personal);
		}
		buf_putc(out, '\n');
	}
}

static void dump_envelope(struct buf *out, const struct envelope *e,
			  const char *indent)
{
	struct buf bs;

	buf_printf(out, "%sENVELOPE\n", indent);
	buf_puts(out, "  date: ");
	dump_str(out, e->date);
	if (e->date != NULL) {
		int64_t t;
		int32_t zone;
		buf_puts(out, "\n  date.parsed: ");
		if (date_parse_rfc5322(e->date, strlen(e->date), &t, &zone)) {
			buf_printf(out, "%lld ", (long long)t);
			date_format_imap(t, zone, out);
		} else {
			buf_puts(out, "invalid");
		}
	}
	buf_puts(out, "\n  subject: ");
	dump_str(out, e->subject);
	buf_puts(out, "\n  subject.decoded: ");
	dump_decoded(out, e->subject);
	buf_puts(out, "\n  subject.base: ");
	if (e->subject != NULL) {
		buf_init(&bs, 0);
		rfc822_base_subject(e->subject, strlen(e->subject), &bs);
		dump_str(out, bs.data);
		buf_release(&bs);
	} else {
		buf_puts(out, "NIL");
	}
	buf_putc(out, '\n');
	dump_addrs(out, "from", e->from);
	dump_addrs(out, "sender", e->sender);
	dump_addrs(out, "reply-to", e->reply_to);
	dump_addrs(out, "to", e->to);
	dump_addrs(out, "cc", e->cc);
	dump_addrs(out, "bcc", e->bcc);
	buf_puts(out, "  in-reply-to: ");
	dump_str(out, e->in_reply_to);
	buf_puts(out, "\n  message-id: ");
	dump_str(out, e->message_id);
	buf_putc(out, '\n');
}

static void dump_params(struct buf *out, const struct mime_param *p)
{
	buf_putc(out, '(');
	for (; p != NULL; p = p->next) {
		dump_str(out, p->attr);
		buf_putc(out, '=');
		dump_str(out, p->value);
		if (p->next != NULL)
			buf_putc(out, ' ');
	}
	buf_putc(out, ')');
}

static void dump_body(struct buf *out, const struct mime_body *b,
		      const char *section)
{
	buf_printf(out, "BODY %s %s/%s ", section, b->type, b->subtype);
	dump_params(out, b->params);
	buf_printf(out, " enc=%s", b->encoding);
	buf_printf(out, " hdr=%llu+%llu body=%llu+%llu lines=%llu\n",
		   (unsigned long long)b->hdr_off,
		   (unsigned long long)b->hdr_size,
		   (unsigned long long)b->body_off,
		   (unsigned long long)b->body_size,
		   (unsigned long long)b->lines);
	if (b->id || b->description || b->md5 || b->location || b->language) {
		buf_puts(out, "  id=");
		dump_str(out, b->id);
		buf_puts(out, " description=");
		dump_str(out, b->description);
		buf_puts(out, " md5=");
		dump_str(out, b->md5);
		buf_puts(out, " language=");
		dump_str(out, b->language);
		buf_puts(out, " location=");
		dump_str(out, b->location);
		buf_putc(out, '\n');
	}
	if (b->disposition != NULL) {
		buf_puts(out, "  disposition=");
		dump_str(out, b->disposition);
		buf_putc(out, ' ');
		dump_params(out, b->disp_params);
		buf_putc(out, '\n');
	}
	if (b->msg_env != NULL) {
		dump_envelope(out, b->msg_env, "  ");
		char *sub = xasprintf("%s.MSG", section);
		dump_body(out, b->msg_body, sub);
		free(sub);
	}
	unsigned i = 1;
	for (const struct mime_body *c = b->parts; c != NULL; c = c->next, i++) {
		char *sub = strcmp(section, "0") == 0 ? xasprintf("%u", i) :
			xasprintf("%s.%u", section, i);
		dump_body(out, c, sub);
		free(sub);
	}
}

/* the canonical dump of one message */
static void golden_dump(const char *msg, size_t len, struct buf *out)
{
	size_t hs = rfc822_header_size(msg, len);
	struct envelope *env = rfc822_parse_envelope(msg, hs);
	struct mime_body *body = mime_parse(msg, len);

	buf_printf(out, "SIZE %zu HEADER %zu\n", len, hs);
	dump_envelope(out, env, "");
	dump_body(out, body, "0");
	rfc822_free_envelope(&env);
	mime_free(&body);
}

static char *data_dir(void)
{
	const char *src = getenv("CC_SRCDIR");
	static const char *const cands[] = {
		"tests/data/parsers", "parsers", "../tests/data/parsers",
	};
	DIR *d;

	if (src != NULL && *src != '\0')
		return xasprintf("%s/tests/data/parsers", src);
	for (size_t i = 0; i < N_ELEMENTS(cands); i++) {
		if ((d = opendir(cands[i])) != NULL) {
			closedir(d);
			return xstrdup(cands[i]);
		}
	}
	return xstrdup("tests/data/parsers");
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_golden_files(void)
{
	char *dir = data_dir();
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0;
	bool update = getenv("GOLDEN_UPDATE") != NULL;
	struct dirent *de;

	CHECK(d != NULL);
	if (d == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".eml") == 0) {
			names = xreallocarray(names, n + 1, sizeof *names);
			names[n++] = xstrndup(de->d_name, l - 4);
		}
	}
	closedir(d);
	qsort(names, n, sizeof *names, name_cmp);
	CHECK(n >= 15);
	for (size_t i = 0; i < n; i++) {
		char *eml = xasprintf("%s/%s.eml", dir, names[i]);
		char *ref = xasprintf("%s/%s.ref", dir, names[i]);
		size_t len, rlen;
		char *msg = test_read_file(eml, &len);
		struct buf out;

		buf_init(&out, 0);
		CHECK(msg != NULL);
		if (msg != NULL)
			golden_dump(msg, len, &out);
		if (update) {
			FILE *f = fopen(ref, "wb");
			CHECK(f != NULL);
			if (f != NULL) {
				fwrite(out.data, 1, out.len, f);
				fclose(f);
			}
		} else {
			char *want = test_read_file(ref, &rlen);
			if (want == NULL || rlen != out.len ||
			    memcmp(want, out.data, rlen) != 0) {
				fprintf(stderr, "  golden mismatch: %s\n--- got:\n%s",
					ref, out.data);
				test_failures++;
			}
			free(want);
		}
		buf_release(&out);
		free(msg);
		free(eml);
		free(ref);
		free(names[i]);
	}
	free(names);
	free(dir);
}

/* structural promises of mime.h over a whole tree */
static void check_tree(const struct mime_body *b, size_t len, unsigned depth)
{
	for (; b != NULL; b = b->next) {
		if (b->hdr_off + b->hdr_size != b->body_off ||
		    b->body_off + b->body_size > len ||
		    depth > 2 * MIME_MAX_DEPTH + 2 ||
		    (strcmp(b->type, "MULTIPART") == 0 && b->parts == NULL) ||
		    (strcmp(b->type, "MESSAGE") == 0 &&
		     strcmp(b->subtype, "RFC822") == 0 && b->msg_body == NULL)) {
			test_failures++;
			fprintf(stderr, "  broken tree at depth %u\n", depth);
			return;
		}
		check_tree(b->parts, len, depth + 1);
		check_tree(b->msg_body, len, depth + 1);
	}
}

/* every parser over random mutations of the golden inputs: nothing may
 * crash (run this under SANITIZE=1) and the tree promises must hold;
 * GOLDEN_MUTATIONS=N sets the number of mutations per file */
static void test_mutations(void)
{
	char *dir = data_dir();
	DIR *d = opendir(dir);
	struct dirent *de;
	uint32_t rng = 12345;
	unsigned files = 0, iters = 300;
	const char *env_iters = getenv("GOLDEN_MUTATIONS");

	if (env_iters != NULL)
		iters = (unsigned)strtoul(env_iters, NULL, 10);
#define RND() (rng = rng * 1103515245u + 12345u, rng >> 8)
	CHECK(d != NULL);
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), len;
		if (l <= 4 || strcmp(de->d_name + l - 4, ".eml") != 0)
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		char *orig = test_read_file(path, &len);
		free(path);
		if (orig == NULL)
			continue;
		files++;
		for (unsigned iter = 0; iter < iters; iter++) {
			/* copy with a few random edits: flip, delete, insert
			 * specials, duplicate a span */
			struct buf m;
			buf_init(&m, 0);
			buf_append(&m, orig, len);
			unsigned edits = 1 + RND() % 8;
			for (unsigned e = 0; e < edits; e++) {
				static const char specials[] = "\r\n\t \"()<>@,;:\\[]=?-*'%\0";
				size_t pos = m.len ? RND() % m.len : 0;
				switch (RND() % 4) {
				case 0:
					if (m.len)
						m.data[pos] = specials[RND() % (sizeof specials - 1)];
					break;
				case 1:
					if (m.len) {
						memmove(m.data + pos, m.data + pos + 1, m.len - pos - 1);
						buf_truncate(&m, m.len - 1);
					}
					break;
				case 2:
					if (m.len)
						m.data[pos] = (char)RND();
					break;
				case 3: {
					size_t n = m.len - pos < 64 ? m.len - pos : 64;
					char tmp[64];
					memcpy(tmp, m.data + pos, n);
					buf_append(&m, tmp, n);
					break;
				}
				}
			}
			struct buf out;
			buf_init(&out, 0);
			golden_dump(m.data, m.len, &out);
			struct mime_body *b = mime_parse(m.data, m.len);
			check_tree(b, m.len, 0);
			mime_free(&b);
			buf_release(&out);
			buf_release(&m);
		}
		free(orig);
	}
#undef RND
	if (d != NULL)
		closedir(d);
	CHECK(files >= 15);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_golden_files),
		TEST(test_mutations),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}

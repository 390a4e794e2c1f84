/* test-mime.c - MIME structure, part lookup, transfer decoding */
#include <stdlib.h>

#include "mime.h"
#include "test.h"

/* the structural promises of mime.h, checked over the whole tree */
static unsigned check_tree(const struct mime_body *b, size_t len,
			   unsigned depth)
{
	unsigned n = 0;

	for (; b != NULL; b = b->next) {
		n++;
		CHECK(b->type != NULL && b->subtype != NULL && b->encoding != NULL);
		CHECK(b->hdr_off + b->hdr_size == b->body_off);
		CHECK(b->body_off + b->body_size <= len);
		CHECK(depth <= MIME_MAX_DEPTH + 2);
		if (strcmp(b->type, "MULTIPART") == 0)
			CHECK(b->parts != NULL);
		if (strcmp(b->type, "MESSAGE") == 0 &&
		    strcmp(b->subtype, "RFC822") == 0)
			CHECK(b->msg_env != NULL && b->msg_body != NULL);
		if (b->parts != NULL)
			n += check_tree(b->parts, len, depth + 1);
		if (b->msg_body != NULL)
			n += check_tree(b->msg_body, len, depth + 1);
	}
	return n;
}

static struct mime_body *parse(const char *s, size_t *nparts)
{
	struct mime_body *b = mime_parse(s, strlen(s));
	unsigned n = check_tree(b, strlen(s), 0);

	if (nparts != NULL)
		*nparts = n;
	return b;
}

static const char nested[] =
	"Content-Type: multipart/mixed; boundary=o\r\n"
	"\r\n"
	"--o\r\n"
	"\r\n"
	"part one\r\n"
	"--o\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/alternative; boundary=i\r\n"
	"\r\n"
	"--i\r\n"
	"\r\n"
	"alt one\r\n"
	"--i\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"alt two\r\n"
	"--i--\r\n"
	"--o\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: simple\r\n"
	"\r\n"
	"simple body\r\n"
	"--o--\r\n";

static const char *part_body(const struct mime_body *b, const char *msg)
{
	static char out[200];
	size_t n = b->body_size < sizeof out - 1 ? b->body_size : sizeof out - 1;

	memcpy(out, msg + b->body_off, n);
	out[n] = '\0';
	return out;
}

static const struct mime_body *find(const struct mime_body *root,
				    const char *sect)
{
	uint32_t nums[20];
	unsigned n = 0;

	while (*sect != '\0' && n < N_ELEMENTS(nums)) {
		nums[n++] = (uint32_t)strtoul(sect, (char **)&sect, 10);
		if (*sect == '.')
			sect++;
	}
	return mime_find_part(root, nums, n);
}

static void test_structure_and_find(void)
{
	size_t n;
	struct mime_body *b = parse(nested, &n);
	const struct mime_body *p;

	CHECK_INT(n, 8);
	CHECK_STR(b->type, "MULTIPART");
	CHECK_STR(b->subtype, "MIXED");
	CHECK(find(b, "") == b);
	p = find(b, "1");
	CHECK(p != NULL && strcmp(part_body(p, nested), "part one") == 0);
	CHECK(p != NULL && p->hdr_size == 2);
	CHECK(p != NULL && strcmp(mime_param_get(p->params, "charset"), "US-ASCII") == 0);
	p = find(b, "2");
	CHECK(p != NULL && strcmp(p->type, "MESSAGE") == 0);
	CHECK(p != NULL && strcmp(p->msg_env->subject, "inner") == 0);
	p = find(b, "2.1");
	CHECK(p != NULL && strcmp(part_body(p, nested), "alt one") == 0);
	p = find(b, "2.2");
	CHECK(p != NULL && strcmp(p->subtype, "HTML") == 0);
	CHECK(find(b, "2.3") == NULL);
	CHECK(find(b, "2.1.1") == NULL);
	p = find(b, "3.1");
	CHECK(p != NULL && strcmp(part_body(p, nested), "simple body") == 0);
	CHECK(find(b, "3.2") == NULL);
	CHECK(find(b, "3.1.1") == NULL);
	CHECK(find(b, "4") == NULL);
	CHECK(find(b, "0") == NULL);
	CHECK(find(b, "1.1") == NULL);
	mime_free(&b);
	CHECK(b == NULL);

	/* a single-part message: part 1 is the body */
	b = parse("Subject: x\r\n\r\nbody\r\n", &n);
	CHECK_INT(n, 1);
	CHECK(find(b, "1") == b);
	CHECK(find(b, "2") == NULL);
	CHECK(find(b, "1.1") == NULL);
	CHECK_INT(b->lines, 1);
	mime_free(&b);

	/* a top-level message/rfc822: 1 is it, 1.1 its text */
	static const char top[] = "Content-Type: message/rfc822\r\n\r\n"
		"Subject: in\r\n\r\ntext\r\n";
	b = parse(top, &n);
	CHECK(find(b, "1") == b);
	p = find(b, "1.1");
	CHECK(p != NULL && p == b->msg_body);
	CHECK(p != NULL && strcmp(part_body(p, top), "text\r\n") == 0);
	mime_free(&b);
}

static void test_content_headers(void)
{
	static const char m[] =
		"Content-Type: Text/Plain (a comment) ; Charset = \"UTF-8\" ;\r\n"
		"  format=flowed; name*0=\"a b\"; name*1=\" c\"; junk;;\r\n"
		"Content-Transfer-Encoding: (c) Base64 (more)\r\n"
		"Content-ID: <id@x>\r\n"
		"Content-Description: =?utf-8?q?d?=\r\n"
		"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
		"Content-Disposition: inline; filename*=''%41%4\r\n"
		"Content-Language: en\r\n"
		"Content-Location: http://x/y\r\n"
		"\r\n"
		"aGVsbG8=\r\n";
	struct mime_body *b = parse(m, NULL);

	CHECK_STR(b->type, "TEXT");
	CHECK_STR(b->subtype, "PLAIN");
	CHECK_STR(mime_param_get(b->params, "CHARSET"), "UTF-8");
	CHECK_STR(mime_param_get(b->params, "format"), "flowed");
	CHECK_STR(mime_param_get(b->params, "name"), "a b c");
	CHECK_STR(b->params->attr, "Charset");
	CHECK_STR(b->encoding, "BASE64");
	CHECK_STR(b->id, "<id@x>");
	CHECK_STR(b->description, "=?utf-8?q?d?=");
	CHECK_STR(b->md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
	CHECK_STR(b->disposition, "inline");
	CHECK_STR(mime_param_get(b->disp_params, "filename"), "A%4");
	CHECK_STR(b->language, "en");
	CHECK_STR(b->location, "http://x/y");

	struct buf d;
	buf_init(&d, 0);
	CHECK(mime_decode_cte(b->encoding, m + b->body_off, b->body_size, &d));
	CHECK_STR(d.data, "hello");
	buf_release(&d);
	mime_free(&b);

	/* unquoted values with blanks; comments; a missing ';' */
	b = parse("Content-Type: application/x; name=my file.txt; a=b (c) ;\r\n"
		  " x=y z=w\r\n\r\n", NULL);
	CHECK_STR(mime_param_get(b->params, "name"), "my file.txt");
	CHECK_STR(mime_param_get(b->params, "a"), "b");
	CHECK_STR(mime_param_get(b->params, "x"), "y");
	mime_free(&b);

	/* no subtype, text without parameters, garbage type */
	b = parse("Content-Type: image\r\n\r\n", NULL);
	CHECK_STR(b->type, "IMAGE");
	CHECK_STR(b->subtype, "UNKNOWN");
	CHECK(b->params == NULL);
	mime_free(&b);
	b = parse("Content-Type: text/html\r\n\r\n", NULL);
	CHECK_STR(mime_param_get(b->params, "charset"), "US-ASCII");
	mime_free(&b);
	b = parse("Content-Type: ;;; /\r\nContent-Transfer-Encoding:\r\n\r\n", NULL);
	CHECK_STR(b->type, "TEXT");
	CHECK_STR(b->subtype, "PLAIN");
	CHECK_STR(b->encoding, "7BIT");
	mime_free(&b);
	/* RFC 2231 sections out of order, with a gap, and a charset */
	b = parse("Content-Type: application/x; a*1=\"B\"; a*0=\"A\"; a*3=\"D\";\r\n"
		  " t*0*=iso-8859-1''%E9; t*1=\"!\"\r\n\r\n", NULL);
	CHECK_STR(mime_param_get(b->params, "a"), "AB");
	CHECK_STR(mime_param_get(b->params, "t"), "\xc3\xa9!");
	mime_free(&b);
}

static void test_decode_cte(void)
{
	struct buf d;

	buf_init(&d, 0);
	CHECK(mime_decode_cte("7bit", "a\r\n", 3, &d));
	CHECK(mime_decode_cte(NULL, "b", 1, &d));
	CHECK(mime_decode_cte("binary", "\0", 1, &d));
	CHECK_INT(d.len, 5);
	buf_reset(&d);
	CHECK(mime_decode_cte("Quoted-Printable", "a=3Db=\r\nc", 9, &d));
	CHECK_STR(d.data, "a=bc");
	buf_reset(&d);
	CHECK(mime_decode_cte("BASE64", "YQ==\r\n", 6, &d));
	CHECK_STR(d.data, "a");
	CHECK(!mime_decode_cte("x-uuencode", "x", 1, &d));
	CHECK(!mime_decode_cte("", "x", 1, &d));
	buf_release(&d);
}

static void test_boundaries(void)
{
	size_t n;
	struct mime_body *b;

	/* missing close delimiter, epilogue, boundary prefix of another */
	b = parse("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		  "--bb\r\nnot a delimiter\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny", &n);
	CHECK_INT(n, 3);
	CHECK(b->parts->next != NULL && b->parts->next->body_size == 1);
	mime_free(&b);
	/* no delimiter at all: one text part with the whole body */
	b = parse("Content-Type: multipart/mixed; boundary=zz\r\n\r\nhello\r\n", &n);
	CHECK_INT(n, 2);
	CHECK_INT(b->parts->body_size, 7);
	CHECK_INT(b->parts->hdr_size, 0);
	mime_free(&b);
	/* empty parts, delimiters back to back */
	b = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		  "--b\r\n--b\r\n\r\n--b--\r\n", &n);
	CHECK_INT(n, 3);
	CHECK_INT(b->parts->body_size, 0);
	CHECK_INT(b->parts->next->body_size, 0);
	mime_free(&b);
	/* close delimiter first: nothing usable */
	b = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n", &n);
	CHECK_INT(n, 2);
	mime_free(&b);
	/* delimiter at the very end without a line break */
	b = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b", &n);
	CHECK_INT(n, 3);
	CHECK_INT(b->parts->body_size, 1);
	CHECK_INT(b->parts->next->body_size, 0);
	mime_free(&b);
}

static void test_depth_cap(void)
{
	struct buf m;
	size_t n;
	struct mime_body *b;

	/* 10,000 nested multiparts */
	buf_init(&m, 0);
	for (int i = 0; i < 10000; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n"
			   "--b%d\r\n", i, i);
	buf_puts(&m, "\r\ninnermost\r\n");
	b = parse(m.data, &n);
	CHECK(n <= MIME_MAX_DEPTH + 3);
	mime_free(&b);

	/* 10,000 nested messages */
	buf_reset(&m);
	for (int i = 0; i < 10000; i++)
		buf_puts(&m, "Content-Type: message/rfc822\r\n\r\n");
	buf_puts(&m, "\r\ninnermost\r\n");
	b = parse(m.data, &n);
	CHECK(n <= MIME_MAX_DEPTH + 3);
	mime_free(&b);

	/* the same boundary at every level */
	buf_reset(&m);
	for (int i = 0; i < 10000; i++)
		buf_puts(&m, "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n");
	b = parse(m.data, &n);
	mime_free(&b);

	/* too many parts */
	buf_reset(&m);
	buf_puts(&m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 3 * MIME_MAX_PARTS; i++)
		buf_puts(&m, "--b\r\n\r\nx\r\n");
	b = parse(m.data, &n);
	CHECK(n <= MIME_MAX_PARTS + 1);
	CHECK(n >= MIME_MAX_PARTS - 1);
	mime_free(&b);
	buf_release(&m);
}

static void test_mime_hostile(void)
{
	size_t n = 1024 * 1024;
	char *big = xmalloc(n + 1);
	struct mime_body *b;

	/* a 1 MB Content-Type line */
	memcpy(big, "Content-Type: multipart/mixed; boundary=", 40);
	memset(big + 40, 'b', n - 40);
	big[n] = '\0';
	b = parse(big, NULL);
	mime_free(&b);
	/* a 1 MB parameter list of junk */
	for (size_t i = 40; i < n; i++)
		big[i] = ";a=\"(*0*="[i % 9];
	b = parse(big, NULL);
	mime_free(&b);
	/* NULs and lone CRs */
	memset(big, 0, n);
	b = mime_parse(big, n);
	CHECK_INT(check_tree(b, n, 0), 1);
	mime_free(&b);
	for (size_t i = 0; i < n; i++)
		big[i] = "\r--b\r\n"[i % 6];
	b = mime_parse(big, n);
	mime_free(&b);
	/* empty input */
	b = mime_parse("", 0);
	CHECK_INT(check_tree(b, 0, 0), 1);
	CHECK_INT(b->body_size, 0);
	mime_free(&b);
	free(big);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_structure_and_find),
		TEST(test_content_headers),
		TEST(test_decode_cte),
		TEST(test_boundaries),
		TEST(test_depth_cap),
		TEST(test_mime_hostile),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}

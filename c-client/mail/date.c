/*
 * date.c - dates in the three forms a mail server meets: RFC 5322 Date
 * fields (with the obsolete forms of RFC 822), IMAP date-time/date, and
 * the date of the mbox "From " separator line (FAQ 6.12).
 *
 * Calendar arithmetic is our own (days-from-civil, proleptic Gregorian):
 * no timegm(), no TZ, no locale, so results never depend on the host.
 * The "From " parser is deliberately strict about each field (names,
 * ranges), because a body line it wrongly accepts splits a message.
 */
#include <string.h>

#include "buf.h"
#include "date.h"

/* the range of years we represent: 1..9999 */
#define DATE_MIN_T (-62135596800LL)	/* 0001-01-01 00:00:00 */
#define DATE_MAX_T (253402300799LL)	/* 9999-12-31 23:59:59 */
#define ZONE_MAX (99 * 60 + 59)

static const char month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char wday_names[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};

/* days since 1970-01-01 of y-m-d (m 1..12), after H. Hinnant */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r,
			    unsigned *d_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	*y_r = y + (m <= 2);
	*m_r = m;
	*d_r = d;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
	static const unsigned char mdays[12] =
		{ 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* combine fields into UTC seconds; false when out of range */
static bool date_make(int64_t year, unsigned mon, unsigned day,
		      unsigned hour, unsigned min, unsigned sec,
		      int32_t zone, int64_t *t_r)
{
	if (year < 1 || year > 9999 || mon < 1 || mon > 12 || day < 1 ||
	    day > month_days(year, mon) || hour > 23 || min > 59 || sec > 60 ||
	    zone < -ZONE_MAX || zone > ZONE_MAX)
		return false;
	*t_r = days_from_civil(year, mon, day) * 86400 + hour * 3600 +
		min * 60 + sec - (int64_t)zone * 60;
	return true;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

struct tm_fields {
	int64_t year;
	unsigned mon, day, hour, min, sec, wday;
};

static void date_split(int64_t t, int32_t zone, struct tm_fields *tm)
{
	if (zone < -ZONE_MAX || zone > ZONE_MAX)
		zone = 0;
	if (t < DATE_MIN_T)
		t = DATE_MIN_T;
	if (t > DATE_MAX_T)
		t = DATE_MAX_T;
	int64_t local = t + (int64_t)zone * 60;
	int64_t days = floor_div(local, 86400);
	int64_t secs = local - days * 86400;

	civil_from_days(days, &tm->year, &tm->mon, &tm->day);
	tm->hour = (unsigned)(secs / 3600);
	tm->min = (unsigned)(secs / 60 % 60);
	tm->sec = (unsigned)(secs % 60);
	/* 1970-01-01 was a Thursday */
	tm->wday = (unsigned)(((days % 7) + 11) % 7);
}

static void zone_format(int32_t zone, struct buf *out)
{
	if (zone < -ZONE_MAX || zone > ZONE_MAX)
		zone = 0;
	char sign = zone < 0 ? '-' : '+';
	unsigned z = (unsigned)(zone < 0 ? -zone : zone);
	buf_printf(out, "%c%02u%02u", sign, z / 60, z % 60);
}

void date_format_imap(int64_t t, int32_t zone, struct buf *out)
{
	struct tm_fields tm;

	date_split(t, zone, &tm);
	buf_printf(out, "%2u-%s-%04lld %02u:%02u:%02u ", tm.day,
		   month_names[tm.mon - 1], (long long)tm.year, tm.hour,
		   tm.min, tm.sec);
	zone_format(zone, out);
}

void date_format_from_line(int64_t t, int32_t zone, struct buf *out)
{
	struct tm_fields tm;

	date_split(t, zone, &tm);
	buf_printf(out, "%s %s %2u %02u:%02u:%02u %04lld ",
		   wday_names[tm.wday], month_names[tm.mon - 1], tm.day,
		   tm.hour, tm.min, tm.sec, (long long)tm.year);
	zone_format(zone, out);
}

void date_format_rfc5322(int64_t t, int32_t zone, struct buf *out)
{
	struct tm_fields tm;

	date_split(t, zone, &tm);
	buf_printf(out, "%s, %u %s %04lld %02u:%02u:%02u ",
		   wday_names[tm.wday], tm.day, month_names[tm.mon - 1],
		   (long long)tm.year, tm.hour, tm.min, tm.sec);
	zone_format(zone, out);
}

int64_t date_day_number(int64_t t, int32_t zone)
{
	if (zone < -ZONE_MAX || zone > ZONE_MAX)
		zone = 0;
	if (t < DATE_MIN_T)
		t = DATE_MIN_T;
	if (t > DATE_MAX_T)
		t = DATE_MAX_T;
	return floor_div(t + (int64_t)zone * 60, 86400);
}

/* ---- parsing helpers ---- */

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* 1..12 for a 3-letter month name (case-insensitive), else 0 */
static unsigned month_lookup(const char *s, size_t len)
{
	if (len != 3)
		return 0;
	for (unsigned i = 0; i < 12; i++)
		if (ascii_strncasecmp(s, month_names[i], 3) == 0)
			return i + 1;
	return 0;
}

static bool wday_lookup(const char *s, size_t len)
{
	if (len != 3)
		return false;
	for (unsigned i = 0; i < 7; i++)
		if (ascii_strncasecmp(s, wday_names[i], 3) == 0)
			return true;
	return false;
}

/* full names seen in the wild ("Monday", "March") */
static bool wday_lookup_long(const char *s, size_t len)
{
	static const char *const names[] = { "Sunday", "Monday", "Tuesday",
		"Wednesday", "Thursday", "Friday", "Saturday" };
	if (wday_lookup(s, len))
		return true;
	for (unsigned i = 0; i < N_ELEMENTS(names); i++)
		if (strlen(names[i]) == len &&
		    ascii_strncasecmp(s, names[i], len) == 0)
			return true;
	return false;
}

static unsigned month_lookup_long(const char *s, size_t len)
{
	static const char *const names[] = { "January", "February", "March",
		"April", "May", "June", "July", "August", "September",
		"October", "November", "December" };
	unsigned m = month_lookup(s, len);
	if (m != 0)
		return m;
	for (unsigned i = 0; i < N_ELEMENTS(names); i++)
		if (strlen(names[i]) == len &&
		    ascii_strncasecmp(s, names[i], len) == 0)
			return i + 1;
	if (len == 4 && ascii_strncasecmp(s, "Sept", 4) == 0)
		return 9;
	return 0;
}

/* Named zones: RFC 822 ones plus the common ones old "From " lines and
 * sloppy mailers use. Minutes east of UTC. */
static const struct {
	const char *name;
	int32_t zone;
} zone_names[] = {
	{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
	{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
	{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	{ "AKST", -540 }, { "AKDT", -480 }, { "HST", -600 }, { "AST", -240 },
	{ "ADT", -180 }, { "NST", -210 }, { "NDT", -150 },
	{ "WET", 0 }, { "WEST", 60 }, { "BST", 60 }, { "IST", 60 },
	{ "CET", 60 }, { "CEST", 120 }, { "MET", 60 }, { "MEST", 120 },
	{ "MEZ", 60 }, { "MESZ", 120 }, { "EET", 120 }, { "EEST", 180 },
	{ "MSK", 180 }, { "JST", 540 }, { "KST", 540 }, { "HKT", 480 },
	{ "SGT", 480 }, { "AWST", 480 }, { "ACST", 570 }, { "AEST", 600 },
	{ "AEDT", 660 }, { "NZST", 720 }, { "NZDT", 780 },
};

/* a named zone; military letters and unknown names count as -0000
 * (RFC 5322 4.3: "treated as if they were -0000") */
static bool zone_lookup(const char *s, size_t len, int32_t *zone_r)
{
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alpha(s[i]))
			return false;
	for (unsigned i = 0; i < N_ELEMENTS(zone_names); i++) {
		if (strlen(zone_names[i].name) == len &&
		    ascii_strncasecmp(s, zone_names[i].name, len) == 0) {
			*zone_r = zone_names[i].zone;
			return true;
		}
	}
	*zone_r = 0;
	return true;
}

/* "+hhmm"/"-hhmm" */
static bool zone_numeric(const char *s, size_t len, int32_t *zone_r)
{
	if (len != 5 || (s[0] != '+' && s[0] != '-'))
		return false;
	for (size_t i = 1; i < 5; i++)
		if (!is_digit(s[i]))
			return false;
	int32_t h = (s[1] - '0') * 10 + (s[2] - '0');
	int32_t m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59)
		return false;
	*zone_r = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
	return true;
}

/* all digits, 1..maxd of them */
static bool number(const char *s, size_t len, size_t maxd, unsigned *r)
{
	unsigned v = 0;

	if (len == 0 || len > maxd)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*r = v;
	return true;
}

/* "h:mm" or "hh:mm:ss" (hour 1-2 digits, minutes and seconds 1-2) */
static bool time_parse(const char *s, size_t len, unsigned *h_r,
		       unsigned *m_r, unsigned *s_r)
{
	const char *c1 = memchr(s, ':', len);
	if (c1 == NULL)
		return false;
	size_t hl = (size_t)(c1 - s);
	const char *rest = c1 + 1;
	size_t rl = len - hl - 1;
	const char *c2 = memchr(rest, ':', rl);
	size_t ml = c2 == NULL ? rl : (size_t)(c2 - rest);
	unsigned h, m, sec = 0;

	if (!number(s, hl, 2, &h) || !number(rest, ml, 2, &m))
		return false;
	if (c2 != NULL && !number(c2 + 1, rl - ml - 1, 2, &sec))
		return false;
	if (h > 23 || m > 59 || sec > 60)
		return false;
	*h_r = h;
	*m_r = m;
	*s_r = sec;
	return true;
}

/* RFC 5322 4.3 year rules: 2 digits -> 1950..2049, 3 digits -> +1900 */
static int64_t year_fix(unsigned y, size_t digits)
{
	if (digits <= 2)
		return y < 50 ? 2000 + y : 1900 + y;
	if (digits == 3)
		return 1900 + y;
	return y;
}

/* ---- "From " lines ---- */

struct token {
	const char *s;
	size_t len;
};

/* split [s, s+len) on blanks into at most max tokens; false if more */
static bool tokenize(const char *s, size_t len, struct token *tok,
		     unsigned max, unsigned *n_r)
{
	unsigned n = 0;
	size_t i = 0;

	for (;;) {
		while (i < len && is_wsp(s[i]))
			i++;
		if (i == len)
			break;
		size_t st = i;
		while (i < len && !is_wsp(s[i]))
			i++;
		if (n == max)
			return false;
		tok[n].s = s + st;
		tok[n].len = i - st;
		n++;
	}
	*n_r = n;
	return true;
}

/*
 * Parse "Www Mmm dd hh:mm[:ss] [zone] yyyy [zone] [remote from host]"
 * filling the whole span [s, s+len).
 */
static bool from_date_parse(const char *s, size_t len, int64_t *t_r,
			    int32_t *zone_r)
{
	struct token tok[9];
	unsigned n, mon, day, h, m, sec, year;
	int32_t zone = 0;
	bool have_zone = false, have_year = false;
	size_t ydigits = 0;

	/* the date needs at most 6 tokens, "remote from host" 3 more; a
	 * host with blanks makes the line invalid */
	if (!tokenize(s, len, tok, N_ELEMENTS(tok), &n) || n < 5)
		return false;
	if (n >= 8 && tok[n - 3].len == 6 && tok[n - 2].len == 4 &&
	    memcmp(tok[n - 3].s, "remote", 6) == 0 &&
	    memcmp(tok[n - 2].s, "from", 4) == 0)
		n -= 3;
	if (n < 5 || n > 6)
		return false;
	if (!wday_lookup(tok[0].s, tok[0].len) ||
	    (mon = month_lookup(tok[1].s, tok[1].len)) == 0 ||
	    !number(tok[2].s, tok[2].len, 2, &day) ||
	    !time_parse(tok[3].s, tok[3].len, &h, &m, &sec))
		return false;
	/* seconds, when present, have two digits; minutes always do */
	if (tok[3].len != 5 && tok[3].len != 8 &&
	    !(tok[3].len == 4 && tok[3].s[1] == ':') &&
	    !(tok[3].len == 7 && tok[3].s[1] == ':'))
		return false;
	for (unsigned i = 4; i < n; i++) {
		const struct token *t = &tok[i];
		if (!have_year && (t->len == 4 || t->len == 2) &&
		    number(t->s, t->len, 4, &year)) {
			have_year = true;
			ydigits = t->len;
		} else if (!have_zone && (zone_numeric(t->s, t->len, &zone) ||
			   (t->len >= 3 && zone_lookup(t->s, t->len, &zone)))) {
			have_zone = true;
		} else {
			return false;
		}
	}
	if (!have_year)
		return false;
	return date_make(year_fix(year, ydigits), mon, day, h, m, sec, zone,
			 t_r) && (*zone_r = zone, true);
}

bool date_parse_from_line(const char *line, size_t len, int64_t *t_r,
			  int32_t *zone_r, const char **sender_r,
			  size_t *sender_len_r)
{
	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return false;
	/* ignore a CR of a CRLF file and trailing blanks */
	while (len > 5 && (line[len - 1] == '\r' || is_wsp(line[len - 1])))
		len--;
	/* The sender is one word normally, but may be quoted or contain
	 * blanks, and may be missing: try each word start as the start of
	 * the date, leftmost first. A date is at least "Www Mmm d h:mm yy",
	 * so only candidates with a plausible weekday are tried. */
	for (size_t i = 5; i + 16 <= len; i++) {
		if (i > 5 && !(is_wsp(line[i - 1]) && !is_wsp(line[i])))
			continue;
		if (i == 5 && is_wsp(line[i]))
			continue;
		if (!is_wsp(line[i + 3]) || !wday_lookup(line + i, 3))
			continue;
		if (!from_date_parse(line + i, len - i, t_r, zone_r))
			continue;
		size_t se = i;
		while (se > 5 && is_wsp(line[se - 1]))
			se--;
		*sender_r = line + 5;
		*sender_len_r = se - 5;
		return true;
	}
	return false;
}

/* ---- IMAP ---- */

/* "d-Mon-yyyy" at s (day 1-2 digits or space-padded), returns length */
static size_t imap_date_part(const char *s, size_t len, int64_t *year_r,
			     unsigned *mon_r, unsigned *day_r)
{
	size_t i = 0;
	unsigned day, year;

	if (len > 0 && s[0] == ' ')
		i++;
	size_t ds = i;
	while (i < len && is_digit(s[i]) && i - ds < 3)
		i++;
	if (!number(s + ds, i - ds, 2, &day) || (ds == 1 && i - ds != 1))
		return 0;
	if (i + 9 > len || s[i] != '-' || s[i + 4] != '-')
		return 0;
	unsigned mon = month_lookup(s + i + 1, 3);
	if (mon == 0 || !number(s + i + 5, 4, 4, &year))
		return 0;
	*year_r = year;
	*mon_r = mon;
	*day_r = day;
	return i + 9;
}

bool date_parse_imap_datetime(const char *s, int64_t *t_r, int32_t *zone_r)
{
	size_t len = strlen(s);
	int64_t year;
	unsigned mon, day, h, m, sec;
	int32_t zone;
	size_t i = imap_date_part(s, len, &year, &mon, &day);

	/* " hh:mm:ss +zzzz" */
	if (i == 0 || len - i != 15 || s[i] != ' ' || s[i + 9] != ' ')
		return false;
	if (s[i + 3] != ':' || s[i + 6] != ':' ||
	    !time_parse(s + i + 1, 8, &h, &m, &sec) ||
	    !zone_numeric(s + i + 10, 5, &zone))
		return false;
	if (!date_make(year, mon, day, h, m, sec, zone, t_r))
		return false;
	*zone_r = zone;
	return true;
}

bool date_parse_imap_date(const char *s, int64_t *t_r)
{
	size_t len = strlen(s);
	int64_t year;
	unsigned mon, day;
	size_t i = imap_date_part(s, len, &year, &mon, &day);

	if (i == 0 || i != len || s[0] == ' ')
		return false;
	return date_make(year, mon, day, 0, 0, 0, 0, t_r);
}

/* ---- RFC 5322 ---- */

#define RFC5322_MAX_TOKENS 16

bool date_parse_rfc5322(const char *s, size_t len, int64_t *t_r,
			int32_t *zone_r)
{
	struct token tok[RFC5322_MAX_TOKENS];
	unsigned n = 0;
	size_t i = 0;

	/* Tokens: runs of letters, runs of digits (with ':' inside for the
	 * time), and signed zones; comments, commas, dots, dashes between
	 * words, and whitespace separate them. */
	while (i < len) {
		char c = s[i];
		if (c == '(') {
			unsigned depth = 0;
			for (; i < len; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0)
					break;
			}
			i++;
			continue;
		}
		size_t st = i;
		if (is_alpha(c)) {
			while (i < len && is_alpha(s[i]))
				i++;
		} else if (is_digit(c)) {
			while (i < len && (is_digit(s[i]) || s[i] == ':'))
				i++;
		} else if ((c == '+' || c == '-') && i + 1 < len &&
			   is_digit(s[i + 1]) &&
			   (n > 0 && memchr(tok[n - 1].s, ':', tok[n - 1].len))) {
			/* a zone follows the time */
			i++;
			while (i < len && is_digit(s[i]))
				i++;
		} else {
			i++;
			continue;
		}
		if (n == RFC5322_MAX_TOKENS)
			return false;
		tok[n].s = s + st;
		tok[n].len = i - st;
		n++;
	}

	unsigned mon = 0, day = 0, h = 0, m = 0, sec = 0, year = 0;
	bool have_day = false, have_year = false, have_time = false;
	bool have_zone = false;
	size_t ydigits = 0;
	int32_t zone = 0;

	for (unsigned k = 0; k < n; k++) {
		const struct token *t = &tok[k];
		unsigned v, mm;
		if (is_alpha(t->s[0])) {
			if (mon == 0 && (mm = month_lookup_long(t->s, t->len)) != 0)
				mon = mm;
			else if (wday_lookup_long(t->s, t->len))
				;
			else if (t->len == 2 && have_time &&
				 (ascii_strncasecmp(t->s, "PM", 2) == 0 ||
				  ascii_strncasecmp(t->s, "AM", 2) == 0)) {
				if (ascii_toupper(t->s[0]) == 'P' && h < 12)
					h += 12;
				else if (ascii_toupper(t->s[0]) == 'A' && h == 12)
					h = 0;
			} else if (have_time && !have_zone &&
				 zone_lookup(t->s, t->len, &zone))
				have_zone = true;
			/* "at", unknown words: ignored */
		} else if (t->s[0] == '+' || t->s[0] == '-') {
			if (have_zone || !zone_numeric(t->s, t->len, &zone))
				return false;
			have_zone = true;
		} else if (memchr(t->s, ':', t->len) != NULL) {
			if (have_time || !time_parse(t->s, t->len, &h, &m, &sec))
				return false;
			have_time = true;
		} else if (!number(t->s, t->len, 4, &v)) {
			return false;
		} else if (!have_day && t->len <= 2 && v >= 1 && v <= 31 &&
			   !(have_year && mon == 0)) {
			day = v;
			have_day = true;
		} else if (!have_year) {
			year = v;
			ydigits = t->len;
			have_year = true;
		} else if (have_time && !have_zone && t->len == 4) {
			/* "0100" without a sign, as some broken mailers do */
			if (!zone_numeric((char[5]){ '+', t->s[0], t->s[1],
					  t->s[2], t->s[3] }, 5, &zone))
				return false;
			have_zone = true;
		} else {
			return false;
		}
	}
	if (mon == 0 || !have_day || !have_year)
		return false;
	if (!date_make(year_fix(year, ydigits), mon, day, h, m, sec, zone, t_r))
		return false;
	*zone_r = zone;
	return true;
}

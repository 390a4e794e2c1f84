/*
 * date.h - dates: RFC 5322 Date fields, IMAP date-time and dates, and the
 * mbox "From " line (FAQ 6.12: ctime form, optional seconds, numeric or
 * 3-letter zones before or after the year, "remote from ...").
 */
#ifndef CC_DATE_H
#define CC_DATE_H

#include "buf.h"

/* parse an RFC 5322 date (with obsolete forms); t_r is UTC seconds,
 * zone_r minutes east of UTC */
bool date_parse_rfc5322(const char *s, size_t len, int64_t *t_r,
			int32_t *zone_r);
/* IMAP date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded) */
bool date_parse_imap_datetime(const char *s, int64_t *t_r, int32_t *zone_r);
/* IMAP date "d-Mon-yyyy" (SEARCH): midnight UTC of that day */
bool date_parse_imap_date(const char *s, int64_t *t_r);
/* Is line (without its LF) a valid mbox "From " line? If so return the
 * date (t_r, zone_r; zone 0 when absent = local time is NOT assumed: the
 * date is taken as UTC) and the sender span. */
bool date_parse_from_line(const char *line, size_t len, int64_t *t_r,
			  int32_t *zone_r, const char **sender_r,
			  size_t *sender_len_r);
/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day space-padded as IMAP INTERNALDATE) */
void date_format_imap(int64_t t, int32_t zone, struct buf *out);
/* "Www Mmm dd hh:mm:ss yyyy +zzzz" for "From " lines (UW's form) */
void date_format_from_line(int64_t t, int32_t zone, struct buf *out);
/* "Sun, 22 Nov 2026 02:14:16 +0000" */
void date_format_rfc5322(int64_t t, int32_t zone, struct buf *out);
/* days since the epoch of the calendar date in the given zone (SEARCH
 * BEFORE/ON/SINCE compare dates, not times) */
int64_t date_day_number(int64_t t, int32_t zone);

#endif

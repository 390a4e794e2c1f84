/*
 * memdriver.h - an in-memory mail driver for unit tests and fuzz
 * harnesses of code that reads messages through the driver interface
 * (SEARCH, SORT, THREAD): no file, no format, just texts in memory.
 */
#ifndef CC_MEMDRIVER_H
#define CC_MEMDRIVER_H

#include "mail.h"

struct mailbox *memdriver_new(void);
/* add a message (len bytes of text; with lf_to_crlf every LF becomes
 * CRLF); returns its slot for the caller to set dates and keywords */
struct mail_message *memdriver_add(struct mailbox *mb, const char *text,
				   size_t len, bool lf_to_crlf, uint32_t uid,
				   uint32_t flags);
/* add text given with LF line ends (served as CRLF) and an optional
 * IMAP internal date ("dd-Mon-yyyy hh:mm:ss +zzzz"); NULL if idate does
 * not parse */
struct mail_message *memdriver_add_lf(struct mailbox *mb, const char *text,
				      uint32_t uid, uint32_t flags,
				      const char *idate);
/* frees the texts, the keywords and the mailbox; sets *mb = NULL */
void memdriver_free(struct mailbox **mb);

#endif

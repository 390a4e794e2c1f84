/* mbx-private.h - what mbx.c shares with mbx-repair.c */
#ifndef CC_MBX_PRIVATE_H
#define CC_MBX_PRIVATE_H

#include <sys/stat.h>

#include "mail.h"

#define MBX_HDRSIZE	2048
#define MBX_NSLOTS	30	/* keyword slots in the header (UW NUSERFLAGS) */
#define MBX_KW_MAX	64	/* UW MAXUSERFLAG: longer names UW would drop */
#define MBX_KW_END	2007	/* keyword lines must end before this offset */
#define MBX_MARK_OFF	2008	/* our append-in-progress marker */
#define MBX_MARK_LEN	27	/* "CCAPPEND %016llx\r\n" */
#define MBX_PID_OFF	(MBX_HDRSIZE - 10)
#define MBX_LINE_MAX	96	/* longest internal header line we read */
#define MBX_TAIL	23	/* "UUUUUUUUSSSS-IIIIIIII\r\n" */

/* the parsed 2048-byte header */
struct mbx_hdr {
	uint32_t uidvalidity;
	uint32_t lastuid;
	unsigned nslots;
	char slot[MBX_NSLOTS][MBX_KW_MAX + 1];
	bool marker;		/* an append was in progress */
	uint64_t marker_size;	/* file size before that append */
};

bool mbx_hex(const char *p, size_t n, uint32_t *r);
/* UW's parse/append permission (see mbx.c) */
int mbx_parse_lock(int fd, const char **error_r);
void mbx_parse_unlock(int *ld);
int mbx_hdr_parse(const char *h, size_t len, struct mbx_hdr *r,
		  char *err, size_t errsize);

/* mbx-repair.c */
int mbx_repair_claim(const char *path, const struct stat *st);
int mbx_repair(struct mail_repair *r, const char **error_r);

#endif

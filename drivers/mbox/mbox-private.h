/* mbox-private.h - what mbox.c shares with mbox-repair.c */
#ifndef CC_MBOX_PRIVATE_H
#define CC_MBOX_PRIVATE_H

#include <sys/stat.h>

#include "mail.h"

/* a valid separator line (p has n bytes, ending in LF unless at EOF) */
bool mbox_is_from_line(const char *p, size_t n, int64_t *t_r, int32_t *z_r);

/* mbox-repair.c */
int mbox_repair_claim(const char *path, const struct stat *st);
int mbox_repair(struct mail_repair *r, const char **error_r);

#endif

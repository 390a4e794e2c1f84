/* maildir.h - the maildir driver, for drivers/linkage.c (and tests) */
#ifndef CC_MAILDIR_H
#define CC_MAILDIR_H

#include "mail.h"

extern const struct mail_driver maildir_driver;

#endif

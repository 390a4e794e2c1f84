/* mbox.h - the mbox driver, for drivers/linkage.c (and tests) */
#ifndef CC_MBOX_H
#define CC_MBOX_H

#include "mail.h"

extern const struct mail_driver mbox_driver;

#endif

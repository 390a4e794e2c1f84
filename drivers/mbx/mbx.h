/* mbx.h - the mbx driver, for drivers/linkage.c (and tests) */
#ifndef CC_MBX_H
#define CC_MBX_H

#include "mail.h"

extern const struct mail_driver mbx_driver;

#endif

/*
 * linkage.h - drivers_link(): register every mailbox format of this build
 * with the core (drivers/linkage.c). Called once from each program's main,
 * before any mailbox is opened; calling it again does nothing.
 */
#ifndef CC_LINKAGE_H
#define CC_LINKAGE_H

void drivers_link(void);

#endif

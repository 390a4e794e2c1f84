/*
 * linkage.c - the mailbox formats this build knows, in probe order (UW's
 * linkage.c). Every program's main calls drivers_link() once before it
 * opens a mailbox; the core (c-client/storage/registry.c) never names a
 * driver. A new format is a folder drivers/NAME/ and one line here.
 */
#include "linkage.h"
#include "maildir.h"
#include "mbox.h"
#include "mbx.h"

void drivers_link(void)
{
	mail_driver_register(&mbox_driver);
	mail_driver_register(&mbx_driver);
	mail_driver_register(&maildir_driver);
}

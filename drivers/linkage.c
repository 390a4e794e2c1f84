/*
 * registry.c - the table of mailbox formats. One line per driver; the
 * order is the probe order of driver_detect(). The default format for
 * new mailboxes comes from the "default-driver" setting, not from the
 * position here.
 */
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "mail.h"

extern const struct mail_driver mbox_driver;
extern const struct mail_driver mbx_driver;
extern const struct mail_driver maildir_driver;

const struct mail_driver *const mail_drivers[] = {
	&mbox_driver,
	&mbx_driver,
	&maildir_driver,
	NULL
};

const struct mail_driver *driver_lookup(const char *name)
{
	for (unsigned i = 0; mail_drivers[i] != NULL; i++)
		if (ascii_strcasecmp(mail_drivers[i]->name, name) == 0)
			return mail_drivers[i];
	return NULL;
}

const struct mail_driver *driver_detect(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return NULL;
	for (unsigned i = 0; mail_drivers[i] != NULL; i++) {
		const struct mail_driver *d = mail_drivers[i];
		if (d->probe != NULL && d->probe(path, &st))
			return d;
	}
	return NULL;
}

const struct mail_driver *driver_default(void)
{
	const struct mail_driver *d = driver_lookup(config_str("default-driver"));

	return d != NULL ? d : mail_drivers[0];
}

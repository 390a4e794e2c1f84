/*
 * registry.c - the mailbox formats a program knows. The core names no
 * format: each program's main calls drivers_link() (drivers/linkage.c),
 * which registers every driver with mail_driver_register(). The order of
 * registration is the probe order of driver_detect(); the default format
 * for new mailboxes comes from the "default-driver" setting, else the
 * first registered.
 */
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "mail.h"

#define MAIL_DRIVERS_MAX 16

static const struct mail_driver *mail_drivers[MAIL_DRIVERS_MAX];
static unsigned mail_drivers_count;

void mail_driver_register(const struct mail_driver *d)
{
	for (unsigned i = 0; i < mail_drivers_count; i++)
		if (mail_drivers[i] == d)
			return;
	if (mail_drivers_count == MAIL_DRIVERS_MAX)
		log_fatal("too many mailbox drivers (%u)", MAIL_DRIVERS_MAX);
	mail_drivers[mail_drivers_count++] = d;
}

const struct mail_driver *driver_lookup(const char *name)
{
	for (unsigned i = 0; i < mail_drivers_count; i++)
		if (ascii_strcasecmp(mail_drivers[i]->name, name) == 0)
			return mail_drivers[i];
	return NULL;
}

const struct mail_driver *driver_detect(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return NULL;
	for (unsigned i = 0; i < mail_drivers_count; i++) {
		const struct mail_driver *d = mail_drivers[i];
		if (d->probe != NULL && d->probe(path, &st))
			return d;
	}
	return NULL;
}

const struct mail_driver *driver_default(void)
{
	const struct mail_driver *d = driver_lookup(config_str("default-driver"));

	if (d != NULL)
		return d;
	if (mail_drivers_count == 0)
		log_fatal("no mailbox driver registered (drivers_link() not called)");
	return mail_drivers[0];
}

const struct mail_driver *driver_spool(void)
{
	for (unsigned i = 0; i < mail_drivers_count; i++)
		if (mail_drivers[i]->spool_format)
			return mail_drivers[i];
	return NULL;
}

const struct mail_driver *driver_detect_damaged(const char *path)
{
	const struct mail_driver *d = driver_detect(path), *best = NULL;
	struct stat st;
	int score = 0;

	if (d != NULL || stat(path, &st) < 0)
		return d;
	for (unsigned i = 0; i < mail_drivers_count; i++) {
		const struct mail_driver *e = mail_drivers[i];
		int s = e->repair_claim != NULL ? e->repair_claim(path, &st) : 0;
		if (s > score) {
			score = s;
			best = e;
		}
	}
	return best;
}

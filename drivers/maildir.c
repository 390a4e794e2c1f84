/*
 * maildir.c - the maildir format driver (skeleton; being implemented).
 */
#include "mail.h"

const struct mail_driver maildir_driver = {
	.name = "maildir",
	.is_directory = true,
};

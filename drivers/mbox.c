/*
 * mbox.c - traditional UNIX mbox driver (skeleton; being implemented).
 */
#include "mail.h"

const struct mail_driver mbox_driver = {
	.name = "mbox",
	.is_directory = false,
};

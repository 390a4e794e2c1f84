/*
 * mbx.c - the UW mbx format driver (skeleton; being implemented).
 */
#include "mail.h"

const struct mail_driver mbx_driver = {
	.name = "mbx",
	.is_directory = false,
};

/* fuzz-drivers.c - libFuzzer harness: each driver's file reader on a
 * hostile mailbox. The first byte picks the driver (mbox, mbx); the rest
 * is the file. Every message is opened, fetched in all parts, and closed
 * read-only, so nothing is ever written back. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mail.h"
#include "linkage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

/* the temporary mailbox file goes when the fuzzer exits normally */
static void cleanup(void)
{
	if (path[0] != '\0')
		(void)unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "mbox", "mbx" };
	const struct mail_driver *d;
	const char *err = NULL;
	struct mailbox *mb;
	struct buf out;
	int fd;

	drivers_link();

	if (size < 1)
		return 0;
	d = driver_lookup(names[data[0] % N_ELEMENTS(names)]);
	if (d == NULL)
		return 0;
	if (path[0] == '\0') {
		snprintf(path, sizeof path, "/tmp/fuzz-drivers.%ld", (long)getpid());
		atexit(cleanup);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 0;
	if (write_full(fd, data + 1, size - 1) < 0) {
		close(fd);
		return 0;
	}
	close(fd);
	mb = d->open(path, MAIL_OPEN_READONLY | MAIL_OPEN_NOINBOXMOVE, &err);
	if (mb == NULL)
		return 0;
	buf_init(&out, 0);
	for (uint32_t i = 0; i < mb->count && i < 1000; i++) {
		buf_reset(&out);
		(void)d->fetch(mb, i, MAIL_PART_ALL, &out, &err);
		buf_reset(&out);
		(void)d->fetch(mb, i, MAIL_PART_HEADER, &out, &err);
		buf_reset(&out);
		(void)d->fetch(mb, i, MAIL_PART_TEXT, &out, &err);
	}
	buf_release(&out);
	d->close(&mb);
	return 0;
}

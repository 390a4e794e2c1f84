/*
 * cmd-idle.c - IDLE (RFC 2177). While idling the mailbox is polled every
 * few seconds and changes are reported at once. After
 * imap-idle-fake-new-mail seconds a fake "* n+1 EXISTS" is sent to wake
 * clients (Outlook Express) that would otherwise idle past the
 * autologout timer, and revoked with "* n+1 EXPUNGE" as soon as the
 * client ends the IDLE (FAQ 7.37).
 */
#include <string.h>
#include <time.h>

#include "config.h"
#include "imapd.h"

#define IDLE_POLL_MS 2000

void cmd_idle(struct client *c, struct imap_arg *args)
{
	long long autologout = config_int("imap-autologout");
	long long fake = config_int("imap-idle-fake-new-mail");
	time_t start = time(NULL);
	uint32_t fake_seq = 0;
	struct buf line;
	long long elapsed;
	int r;

	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "IDLE takes no arguments");
		return;
	}
	ios_puts(c->ios, "+ idling\r\n");
	(void)ios_flush(c->ios);
	buf_init(&line, 0);
	for (;;) {
		r = ios_wait_input(c->ios, IDLE_POLL_MS);
		if (r < 0) {
			client_disconnect(c, NULL, "Command stream error in IDLE");
			c->tagged_done = true;
			break;
		}
		if (r > 0) {
			if (!client_read_line(c, &line)) {
				c->tagged_done = true;
				break;
			}
			if (fake_seq != 0)
				client_untagged(c, "%u EXPUNGE", fake_seq);
			if (ascii_strcasecmp(line.data, "DONE") == 0)
				client_ok(c, "IDLE completed");
			else
				client_bad(c, "Expected DONE");
			break;
		}
		elapsed = (long long)(time(NULL) - start);
		if (autologout > 0 && elapsed >= autologout) {
			client_disconnect(c, "Autologout; idle for too long",
					  "Autologout");
			c->tagged_done = true;
			break;
		}
		if (c->mb != NULL && fake_seq == 0) {
			client_sync(c, true);
			if (c->lost) {
				client_ok(c, "IDLE ended");
				break;
			}
			if (fake > 0 && elapsed >= fake) {
				fake_seq = c->exists + 1;
				client_untagged(c, "%u EXISTS", fake_seq);
			}
		}
		if (ios_flush(c->ios) != IOS_OK) {
			client_state_change(c, STATE_LOGOUT);
			c->tagged_done = true;
			break;
		}
	}
	buf_release(&line);
}

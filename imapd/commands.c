/*
 * commands.c - the IMAP command table: each command's handler (cmd-*.c)
 * and the states it is allowed in. client.c looks commands up here, so
 * the command loop and the handlers do not call each other.
 */
#include "imapd.h"

static const struct command commands[] = {
	{ "CAPABILITY",	cmd_capability,	CMD_ANY },
	{ "NOOP",	cmd_noop,	CMD_ANY },
	{ "LOGOUT",	cmd_logout,	CMD_ANY },
	{ "ID",		cmd_id,		CMD_ANY },
	{ "STARTTLS",	cmd_starttls,	CMD_NOTAUTH },
	{ "AUTHENTICATE", cmd_authenticate, CMD_NOTAUTH },
	{ "LOGIN",	cmd_login,	CMD_NOTAUTH },
	{ "ENABLE",	cmd_enable,	CMD_AUTHED },
	{ "NAMESPACE",	cmd_namespace,	CMD_AUTHED },
	{ "SELECT",	cmd_select,	CMD_AUTHED },
	{ "EXAMINE",	cmd_examine,	CMD_AUTHED },
	{ "CREATE",	cmd_create,	CMD_AUTHED },
	{ "DELETE",	cmd_delete,	CMD_AUTHED },
	{ "RENAME",	cmd_rename,	CMD_AUTHED },
	{ "SUBSCRIBE",	cmd_subscribe,	CMD_AUTHED },
	{ "UNSUBSCRIBE", cmd_unsubscribe, CMD_AUTHED },
	{ "LIST",	cmd_list,	CMD_AUTHED },
	{ "LSUB",	cmd_lsub,	CMD_AUTHED },
	{ "RLIST",	cmd_rlist,	CMD_AUTHED },	/* RFC 2193 */
	{ "RLSUB",	cmd_rlsub,	CMD_AUTHED },
	{ "STATUS",	cmd_status,	CMD_AUTHED },
	{ "APPEND",	cmd_append,	CMD_AUTHED },
	{ "IDLE",	cmd_idle,	CMD_AUTHED },
	{ "COMPRESS",	cmd_compress,	CMD_AUTHED },	/* RFC 4978 */
	{ "CHECK",	cmd_check,	CMD_SELECTED },
	{ "CLOSE",	cmd_close,	CMD_SELECTED },
	{ "UNSELECT",	cmd_unselect,	CMD_SELECTED },
	{ "EXPUNGE",	cmd_expunge,	CMD_SELECTED | CMD_UID_OK },
	{ "SEARCH",	cmd_search,	CMD_SELECTED | CMD_UID_OK | CMD_NO_EXPUNGE },
	{ "SORT",	cmd_sort,	CMD_SELECTED | CMD_UID_OK | CMD_NO_EXPUNGE },
	{ "THREAD",	cmd_thread,	CMD_SELECTED | CMD_UID_OK | CMD_NO_EXPUNGE },
	{ "FETCH",	cmd_fetch,	CMD_SELECTED | CMD_UID_OK | CMD_NO_EXPUNGE },
	{ "STORE",	cmd_store,	CMD_SELECTED | CMD_UID_OK | CMD_NO_EXPUNGE },
	{ "COPY",	cmd_copy,	CMD_SELECTED | CMD_UID_OK | CMD_NO_EXPUNGE },
	{ "MOVE",	cmd_move,	CMD_SELECTED | CMD_UID_OK },
};

const struct command *command_find(const char *name)
{
	size_t i;

	for (i = 0; i < N_ELEMENTS(commands); i++)
		if (ascii_strcasecmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

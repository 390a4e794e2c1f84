/*
 * commands.c - the POP3 command table: each command's handler (cmd-*.c,
 * session.c) and the states it is allowed in. session.c looks commands
 * up here, so the command loop and the handlers do not call each other.
 */
#include "pop3.h"

static const struct pop3_cmd pop3_cmds[] = {
	{ "CAPA", cmd_capa, POP3_IN_AUTH | POP3_IN_TRANS },
	{ "QUIT", cmd_quit, POP3_IN_AUTH | POP3_IN_TRANS },
	{ "USER", cmd_user, POP3_IN_AUTH },
	{ "PASS", cmd_pass, POP3_IN_AUTH },
	{ "APOP", cmd_apop, POP3_IN_AUTH },
	{ "AUTH", cmd_auth, POP3_IN_AUTH },
	{ "STLS", cmd_stls, POP3_IN_AUTH },
	{ "STAT", cmd_stat, POP3_IN_TRANS },
	{ "LIST", cmd_list, POP3_IN_TRANS },
	{ "UIDL", cmd_uidl, POP3_IN_TRANS },
	{ "RETR", cmd_retr, POP3_IN_TRANS },
	{ "TOP", cmd_top, POP3_IN_TRANS },
	{ "DELE", cmd_dele, POP3_IN_TRANS },
	{ "NOOP", cmd_noop, POP3_IN_TRANS },
	{ "RSET", cmd_rset, POP3_IN_TRANS },
};

const struct pop3_cmd *pop3_command_find(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(pop3_cmds); i++)
		if (ascii_strcasecmp(pop3_cmds[i].name, name) == 0)
			return &pop3_cmds[i];
	return NULL;
}

#!/bin/bash
# imaptest-dovecot.sh - the figures of bench/imaptest-run.sh for Debian's
# Dovecot on the same machine: a private Dovecot (the dovecot-imapd
# package) on 127.0.0.1 with one passwd-file user, imaptest's scripted
# groups in sequence and its stress mode with the same mailbox source and
# parameters as bench/imaptest-run.sh uses for imapd. Not part of the test
# suite; the results go into docs/conformance.md and docs/performance.md.
#
#   bench/imaptest-dovecot.sh /path/to/imaptest [TESTS_DIR]
#
# Run as root (Dovecot switches to the user). Environment [defaults]:
#   FORMATS ["mbox maildir"]  mail_location: mbox:~/mail:INBOX=~/inbox,
#                         maildir:~/Maildir:LAYOUT=fs
#   GROUP_FORMATS [$FORMATS]  formats on which the scripted groups run
#                         ("" for none: stress only)
#   PORT [10144]          Dovecot's IMAP port on 127.0.0.1
#   CLIENTS ["10 50"]     stress runs, one per client count
#   SECS [60]             seconds per stress run
#   STRESS_MBOX           [tests/data/imapd/corpus.mbox]
#   DUID [64011]          uid and gid of the passwd-file user (unused ones:
#                         the user exists only in Dovecot's passwd-file)
#   OUT [bench/imaptest-out]  logs: dovecot-groups-FORMAT.log,
#                         dovecot-stress-FORMAT-N.log, dovecot-FORMAT.log
# Prints one summary line per run, in the format of imaptest-run.sh.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
IMAPTEST=${1:?usage: $0 IMAPTEST [TESTS_DIR]}
TESTS=${2:-$(dirname "$(readlink -f "$IMAPTEST")")/tests}
[ -d "$TESTS" ] || TESTS=$(dirname "$IMAPTEST")/imaptest/src/tests
[ -d "$TESTS" ] || { echo "no scripted tests in $TESTS" >&2; exit 2; }
FORMATS=${FORMATS:-mbox maildir}
GROUP_FORMATS=${GROUP_FORMATS-$FORMATS}
PORT=${PORT:-10144}
CLIENTS=${CLIENTS:-10 50}
SECS=${SECS:-60}
STRESS_MBOX=${STRESS_MBOX:-$TOP/tests/data/imapd/corpus.mbox}
DUID=${DUID:-64011}
DUSER=ccdovetest
PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')	# new every run
OUT=${OUT:-$TOP/bench/imaptest-out}
[ -d /usr/lib/dovecot ] && export LD_LIBRARY_PATH=/usr/lib/dovecot${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

[ "$(id -u)" = 0 ] || { echo "run as root (Dovecot switches to the user)" >&2; exit 2; }
[ -x /usr/sbin/dovecot ] || { echo "dovecot-imapd is not installed" >&2; exit 2; }
getent passwd "$DUID" >/dev/null &&
	{ echo "uid $DUID belongs to a system user: set DUID" >&2; exit 2; }
internal=nobody
for u in dovecot dovenull; do
	getent passwd "$u" >/dev/null && { internal=$u; break; }
done

RUN=$(mktemp -d /tmp/imaptest-dovecot.XXXXXX)
chmod 755 "$RUN"	# the user reaches its home inside
mkdir -p "$OUT"
HOME_DIR=$RUN/home
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$RUN"
}
trap cleanup EXIT

fresh_home() {	# an empty home: one run starts clean
	rm -rf "$HOME_DIR"
	install -d -m 700 -o "$DUID" -g "$DUID" "$HOME_DIR"
}

start_dovecot() {	# start_dovecot FORMAT
	local loc
	case $1 in
	mbox) loc='mbox:~/mail:INBOX=~/inbox' ;;
	maildir) loc='maildir:~/Maildir:LAYOUT=fs' ;;
	*) echo "format $1: mbox or maildir" >&2; return 1 ;;
	esac
	rm -rf "$RUN/base"
	mkdir -p "$RUN/base"
	echo "$DUSER:{PLAIN}$PASS:$DUID:$DUID::$HOME_DIR" >"$RUN/passwd"
	# read by Dovecot's auth process, which runs as the internal user
	chgrp "$(id -g "$internal")" "$RUN/passwd"
	chmod 640 "$RUN/passwd"
	cat >"$RUN/dovecot.conf" <<-EOF
	base_dir = $RUN/base
	state_dir = $RUN/base
	log_path = $RUN/dovecot.log
	protocols = imap
	listen = 127.0.0.1
	ssl = no
	disable_plaintext_auth = no
	auth_mechanisms = plain login
	first_valid_uid = 1
	mail_location = $loc
	mbox_write_locks = dotlock fcntl
	# the default of 10 sessions per user and address would refuse
	# most of the concurrent clients, all one user from 127.0.0.1
	mail_max_userip_connections = 1000
	default_internal_user = $internal
	default_login_user = $internal
	passdb {
	  driver = passwd-file
	  args = $RUN/passwd
	}
	userdb {
	  driver = passwd-file
	  args = $RUN/passwd
	}
	service imap-login {
	  chroot =
	  inet_listener imap {
	    address = 127.0.0.1
	    port = $PORT
	  }
	  inet_listener imaps {
	    port = 0
	  }
	}
	service anvil {
	  chroot =
	}
	EOF
	/usr/sbin/dovecot -F -c "$RUN/dovecot.conf" &
	dpid=$!
	for _ in $(seq 50); do
		python3 - "$PORT" <<-'EOF' 2>/dev/null && return 0
		import socket, sys
		socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()
		EOF
		sleep 0.1
	done
	echo "dovecot did not listen on $PORT" >&2
	return 1
}

stop_dovecot() {
	kill "$dpid" 2>/dev/null || true
	wait "$dpid" 2>/dev/null || true
	dpid=
	cp "$RUN/dovecot.log" "$OUT/dovecot-$1.log" 2>/dev/null || true
	rm -f "$RUN/dovecot.log"
}

create_box() {	# imaptest stress needs its mailbox to exist
	python3 - "$PORT" "$DUSER" "$PASS" "$1" <<-'EOF'
	import imaplib, sys
	m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
	m.login(sys.argv[2], sys.argv[3])
	m.create(sys.argv[4])
	m.logout()
	EOF
}

skipped_groups() {	# groups whose "capabilities:" Dovecot does not advertise
	python3 bench/imaptest-skipped.py "$PORT" "$DUSER" "$PASS" "$TESTS"
}

echo "imaptest-dovecot: $(uname -n) $(date -u '+%Y-%m-%d %H:%M UTC'), $(/usr/sbin/dovecot --version), tests $TESTS"
for fmt in $FORMATS; do
	fresh_home
	start_dovecot "$fmt"
	case " $GROUP_FORMATS " in
	*" $fmt "*)
		log=$OUT/dovecot-groups-$fmt.log
		"$IMAPTEST" host=127.0.0.1 port="$PORT" user="$DUSER" \
			pass="$PASS" test="$TESTS" >"$log" 2>&1 || true
		failed=$(sed -n 's/^\*\*\* Test \([^ ]*\) .*/\1/p' "$log" |
			 sort -u | tr '\n' ' ')
		echo "groups $fmt: $(grep 'test groups:' "$log" || echo 'did not finish')"
		echo "  failing: ${failed:-none}"
		echo "  not run (capability not advertised): $(skipped_groups)"
		;;
	esac
	for n in $CLIENTS; do
		create_box stress
		slog=$OUT/dovecot-stress-$fmt-$n.log
		timeout $((SECS + 120)) "$IMAPTEST" host=127.0.0.1 port="$PORT" \
			user="$DUSER" pass="$PASS" mbox="$STRESS_MBOX" \
			box=stress clients="$n" secs="$SECS" >"$slog" 2>&1 || true
		errors=$(grep -c 'Error' "$slog" || true)
		totals=$(grep -A4 '^Totals:' "$slog" | tail -1 | tr -s ' ')
		sum=0 logins=
		for v in $totals; do
			sum=$((sum + v))
			logins=${logins:-$v}	# the first column is Logi
		done
		echo "stress $fmt clients=$n secs=$SECS: errors=$errors" \
			"commands=$sum ($((sum / SECS))/s) logins=$logins"
	done
	stop_dovecot "$fmt"
done

#!/bin/bash
# imaptest-run.sh - measure imapd with Dovecot's imaptest the way an
# administrator runs it: `make install`, a system user with a password and
# an mbox in its home, imapd served by a private xinetd on 127.0.0.1, then
# imaptest's scripted groups in sequence (one user, one after another)
# and its stress mode, for each mailbox format. Not part of the test
# suite; the results go into docs/conformance.md.
#
#   bench/imaptest-run.sh /path/to/imaptest [TESTS_DIR]
#
# IMAPTEST is the imaptest binary (or a wrapper that runs it); TESTS_DIR
# its scripted groups (default: src/tests beside the binary). Run as
# root. Environment (defaults in brackets):
#   PREFIX [/usr/local]   install prefix (make install PREFIX=...)
#   FORMATS ["mbox mbx maildir"]   default-driver of new mailboxes
#   PORT [10143]          private xinetd port on 127.0.0.1
#   CLIENTS ["10 50"]     stress runs, one per client count
#   SECS [60]             seconds per stress run
#   STRESS_MBOX           mbox whose messages stress appends
#                         [tests/data/imapd/corpus.mbox]
#   IMAPUSER [ccimaptest] the system user created (and reused)
#   OUT [bench/imaptest-out]  logs: groups-FORMAT.log, stress-FORMAT-N.log
# Prints one summary line per run; exits non-zero if a step failed to run.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
IMAPTEST=${1:?usage: $0 IMAPTEST [TESTS_DIR]}
TESTS=${2:-$(dirname "$(readlink -f "$IMAPTEST")")/tests}
[ -d "$TESTS" ] || TESTS=$(dirname "$IMAPTEST")/imaptest/src/tests
[ -d "$TESTS" ] || { echo "no scripted tests in $TESTS" >&2; exit 2; }
PREFIX=${PREFIX:-/usr/local}
FORMATS=${FORMATS:-mbox mbx maildir}
PORT=${PORT:-10143}
CLIENTS=${CLIENTS:-10 50}
SECS=${SECS:-60}
STRESS_MBOX=${STRESS_MBOX:-$TOP/tests/data/imapd/corpus.mbox}
IMAPUSER=${IMAPUSER:-ccimaptest}
PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')	# new every run
OUT=${OUT:-$TOP/bench/imaptest-out}
RUN=$(mktemp -d /tmp/imaptest-run.XXXXXX)
chmod 755 "$RUN"	# the user's sessions reach the lock directory inside
mkdir -p "$OUT"
# Debian's dovecot-dev imaptest links Dovecot's private libraries
[ -d /usr/lib/dovecot ] && export LD_LIBRARY_PATH=/usr/lib/dovecot${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

[ "$(id -u)" = 0 ] || { echo "run as root (make install, useradd, xinetd)" >&2; exit 2; }
command -v xinetd >/dev/null || { echo "xinetd is not installed" >&2; exit 2; }

# 1. install as an administrator would
make -s -j2 all
make -s install PREFIX="$PREFIX" >/dev/null
IMAPD=$PREFIX/sbin/imapd

# 2. a system user with a password; INBOX is ~/mbox (FAQ 4.5)
if ! id "$IMAPUSER" >/dev/null 2>&1; then
	useradd -m -s /usr/sbin/nologin "$IMAPUSER"
	touch "$(getent passwd "$IMAPUSER" | cut -d: -f6)/.imaptest-run"
fi
HOME_DIR=$(getent passwd "$IMAPUSER" | cut -d: -f6)
# every run empties the home: never that of a user we did not create
[ -f "$HOME_DIR/.imaptest-run" ] ||
	{ echo "$IMAPUSER exists and was not made by $0" >&2; exit 2; }
echo "$IMAPUSER:$PASS" | chpasswd

xpid=
cleanup() {
	[ -n "$xpid" ] && kill "$xpid" 2>/dev/null || true
	rm -rf "$RUN"
}
trap cleanup EXIT

fresh_home() {	# empty home with an empty ~/mbox: one run starts clean
	find "$HOME_DIR" -mindepth 1 -maxdepth 1 ! -name '.imaptest-run' \
		! -name '.profile' ! -name '.bashrc' ! -name '.bash_logout' \
		-exec rm -rf {} +
	install -m 600 -o "$IMAPUSER" -g "$(id -gn "$IMAPUSER")" /dev/null \
		"$HOME_DIR/mbox"
	rm -f "/var/spool/mail/$IMAPUSER" "/var/mail/$IMAPUSER"
}

start_xinetd() {	# start_xinetd FORMAT
	cat >"$RUN/c-client.cf" <<-EOF
	default-driver $1
	auth-backends shadow
	lock-directory $RUN/locks
	EOF
	mkdir -p "$RUN/locks"
	chmod 1777 "$RUN/locks"
	cat >"$RUN/xinetd.conf" <<-EOF
	defaults
	{
		log_type = FILE $RUN/xinetd.log
	}
	service cc-imaptest
	{
		type		= UNLISTED
		port		= $PORT
		bind		= 127.0.0.1
		socket_type	= stream
		protocol	= tcp
		wait		= no
		user		= root
		server		= $IMAPD
		server_args	= -c $RUN/c-client.cf
		instances	= UNLIMITED
		per_source	= UNLIMITED
		cps		= 10000 1
	}
	EOF
	xinetd -f "$RUN/xinetd.conf" -pidfile "$RUN/xinetd.pid" -dontfork &
	xpid=$!
	for _ in $(seq 50); do
		python3 - "$PORT" <<-'EOF' 2>/dev/null && return 0
		import socket, sys
		socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()
		EOF
		sleep 0.1
	done
	echo "xinetd did not listen on $PORT" >&2
	return 1
}

stop_xinetd() {
	kill "$xpid" 2>/dev/null || true
	wait "$xpid" 2>/dev/null || true
	xpid=
}

create_box() {	# imaptest stress needs its mailbox to exist
	python3 - "$PORT" "$IMAPUSER" "$PASS" "$1" <<-'EOF'
	import imaplib, sys
	m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
	m.login(sys.argv[2], sys.argv[3])
	m.create(sys.argv[4])
	m.logout()
	EOF
}

skipped_groups() {	# groups whose "capabilities:" we do not advertise
	python3 bench/imaptest-skipped.py "$PORT" "$IMAPUSER" "$PASS" "$TESTS"
}

echo "imaptest-run: $(uname -n) $(date -u '+%Y-%m-%d %H:%M UTC'), imapd $IMAPD, tests $TESTS"
for fmt in $FORMATS; do
	fresh_home
	start_xinetd "$fmt"
	log=$OUT/groups-$fmt.log
	"$IMAPTEST" host=127.0.0.1 port="$PORT" user="$IMAPUSER" pass="$PASS" \
		test="$TESTS" >"$log" 2>&1 || true
	failed=$(sed -n 's/^\*\*\* Test \([^ ]*\) .*/\1/p' "$log" | sort -u |
		 tr '\n' ' ')
	echo "groups $fmt: $(grep 'test groups:' "$log" || echo 'did not finish')"
	echo "  failing: ${failed:-none}"
	# imaptest runs no command of a group that needs a capability we
	# do not advertise, but does not count it as skipped in this mode
	echo "  not run (capability not advertised): $(skipped_groups)"
	for n in $CLIENTS; do
		create_box stress
		slog=$OUT/stress-$fmt-$n.log
		timeout $((SECS + 120)) "$IMAPTEST" host=127.0.0.1 port="$PORT" \
			user="$IMAPUSER" pass="$PASS" mbox="$STRESS_MBOX" \
			box=stress clients="$n" secs="$SECS" >"$slog" 2>&1 || true
		errors=$(grep -c 'Error' "$slog" || true)
		# Totals: a header of command names, two lines of percentages,
		# then the count of each command in the whole run
		totals=$(grep -A4 '^Totals:' "$slog" | tail -1 | tr -s ' ')
		sum=0 logins=
		for v in $totals; do
			sum=$((sum + v))
			logins=${logins:-$v}	# the first column is Logi
		done
		echo "stress $fmt clients=$n secs=$SECS: errors=$errors" \
			"commands=$sum ($((sum / SECS))/s) logins=$logins"
	done
	stop_xinetd
done

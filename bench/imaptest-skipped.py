#!/usr/bin/env python3
"""imaptest-skipped.py PORT USER PASS TESTS_DIR: the scripted imaptest
groups in TESTS_DIR whose "capabilities:" header names a capability the
server on 127.0.0.1:PORT does not advertise after login. imaptest sends
no command of such a group but, run on a directory, counts it neither as
failed nor as skipped; bench/imaptest-run.sh and imaptest-dovecot.sh list
them with this. Prints the names on one line, or "none"."""
import glob
import imaplib
import os
import sys


def main(port, user, password, tests):
    m = imaplib.IMAP4('127.0.0.1', int(port))
    m.login(user, password)
    typ, data = m.capability()
    have = {c.upper() for c in data[0].decode().split()}
    m.logout()
    out = []
    for path in sorted(glob.glob(os.path.join(tests, '*'))):
        if path.endswith('.mbox') or not os.path.isfile(path):
            continue
        with open(path, 'rb') as f:
            for line in f.read().split(b'\n\n', 1)[0].split(b'\n'):
                if line.lower().startswith(b'capabilities:'):
                    need = line.split(b':', 1)[1].decode().upper().split()
                    if any(c not in have for c in need):
                        out.append(os.path.basename(path))
    print(' '.join(out) if out else 'none')


if __name__ == '__main__':
    if len(sys.argv) != 5:
        sys.exit('usage: imaptest-skipped.py PORT USER PASS TESTS_DIR')
    main(*sys.argv[1:])

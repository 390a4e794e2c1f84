#!/usr/bin/env python3
"""load.py - many concurrent sessions on shared mailboxes (issue 7).

    tests/load.py [--sessions 200] [--seconds 60]

Runs IMAP readers and writers (FETCH, STORE, APPEND, EXPUNGE), POP3
readers and tmail deliveries at once against imapd/ipop3d listeners on
127.0.0.1, on an mbox INBOX, an mbx and a maildir mailbox. Afterwards every
mailbox is checked: every acknowledged APPEND or delivery is present
exactly once unless a session expunged it; no protocol errors beyond the
expected NO [IN-USE] of POP3; no server process is left behind.
Prints a summary and exits non-zero on any violation. test_load.py runs
a short version in CI; docs/reliability.md records a long run."""

import argparse
import imaplib
import os
import poplib
import random
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, sample_message  # noqa: E402

BOXES = ['INBOX', 'loadmbx', 'loadmaildir']


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.appended = {}        # marker -> mailbox
        self.expunged = set()     # markers some session expunged (allowed to vanish)
        self.errors = []
        self.ops = 0
        self.in_use = 0

    def err(self, what):
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(what)


def marker_of(data):
    m = re.search(rb'X-Load-Marker: (\S+)', data)
    return m.group(1).decode() if m else None


def message(marker, size):
    body = b''.join(b'z' * 72 + b'\r\n' for _ in range(size // 74 + 1))
    return (b'From: load@example.org\r\nTo: alice@example.org\r\nSubject: load ' + marker.encode() +
            b'\r\nX-Load-Marker: ' + marker.encode() + b'\r\n\r\n' + body)


def imap_worker(env, port, k, stop, st, rng):
    m = None
    try:
        m = imaplib.IMAP4('127.0.0.1', port)
        m.login(env.user, env.password)
        n = 0
        while time.monotonic() < stop and n < 100000:
            n += 1
            box = rng.choice(BOXES)
            r = rng.random()
            if r < 0.35:
                marker = 'i%d-%d' % (k, n)
                typ, data = m.append(box, '(\\Seen)', None, message(marker, rng.randint(10, 4000)))
                if typ != 'OK':
                    st.err('APPEND %s: %r' % (box, data))
                else:
                    with st.lock:
                        st.appended[marker] = box
            else:
                typ, data = m.select(box)
                if typ != 'OK':
                    st.err('SELECT %s: %r' % (box, data))
                    continue
                # address messages by UID: sequence numbers may shift under
                # us when another session's EXPUNGE is reported (even
                # inside the SELECT response), UIDs never do
                typ, data = m.uid('SEARCH', None, 'ALL')
                uids = [int(x) for x in data[0].split()] if typ == 'OK' and data[0] else []
                if uids:
                    j = rng.randrange(len(uids))
                    lo, hi = uids[j], uids[min(len(uids) - 1, j + 5)]
                    typ, data = m.uid('FETCH', '%d:%d' % (lo, hi), '(FLAGS BODY.PEEK[HEADER])')
                    # RFC 5530: a message another session expunged may be
                    # refused with [EXPUNGEISSUED]; anything else is an error
                    if typ != 'OK' and b'EXPUNGEISSUED' not in b' '.join(x for x in data if isinstance(x, bytes)):
                        st.err('FETCH: %r' % (data,))
                    typ, data = m.uid('STORE', str(lo), '+FLAGS', '(\\Flagged)')
                    if typ != 'OK':
                        st.err('STORE: %r' % (data,))
                    if r > 0.9:
                        typ, data = m.uid('FETCH', str(lo), '(BODY.PEEK[HEADER.FIELDS (X-LOAD-MARKER)])')
                        mk = None
                        if typ == 'OK':
                            for part in data:
                                if isinstance(part, tuple):
                                    mk = marker_of(part[1])
                        if mk:
                            with st.lock:
                                st.expunged.add(mk)
                            m.uid('STORE', str(lo), '+FLAGS.SILENT', '(\\Deleted)')
                            typ, data = m.expunge()
                            if typ != 'OK':
                                st.err('EXPUNGE: %r' % (data,))
                m.close()
            with st.lock:
                st.ops += 1
        m.logout()
    except Exception as e:
        st.err('imap worker %d: %r' % (k, e))


def pop_worker(env, port, k, stop, st, rng):
    n = 0
    while time.monotonic() < stop and n < 10000:
        n += 1
        try:
            p = poplib.POP3('127.0.0.1', port, timeout=60)
            p.user(env.user)
            try:
                p.pass_(env.password)
            except poplib.error_proto as e:
                if b'IN-USE' in e.args[0]:
                    with st.lock:
                        st.in_use += 1
                    p.close()
                    time.sleep(rng.uniform(0.05, 0.3))
                    continue
                raise
            count, _ = p.stat()
            p.uidl()
            if count:
                try:
                    p.retr(rng.randint(1, count))
                except poplib.error_proto as e:
                    # an IMAP session may expunge a message under a POP3
                    # session; the answer must say so (RFC 3206 SYS/TEMP,
                    # ipop3d/cmd-trans.c), nothing else
                    if not e.args[0].startswith(b'-ERR [SYS/TEMP] Message ') or \
                            b'removed by another client' not in e.args[0]:
                        raise
            p.quit()
            with st.lock:
                st.ops += 1
        except Exception as e:
            st.err('pop worker %d: %r' % (k, e))
        time.sleep(rng.uniform(0.05, 0.2))


def deliver_worker(env, k, stop, st, rng):
    n = 0
    while time.monotonic() < stop and n < 10000:
        n += 1
        marker = 'd%d-%d' % (k, n)
        r = env.run('tmail', [env.user], input=message(marker, rng.randint(10, 2000)), as_user=False)
        if r.returncode == 0:
            with st.lock:
                st.appended[marker] = 'INBOX'
                st.ops += 1
        elif r.returncode != 75:        # EX_TEMPFAIL is allowed: the MTA retries
            st.err('tmail exit %d: %s' % (r.returncode, r.stderr[-300:]))
        time.sleep(rng.uniform(0.01, 0.1))


def check(env, st):
    s = env.imap()
    problems = []
    for box in BOXES:
        untagged, tagged = s.cmd('SELECT %s' % box)
        if not tagged.startswith(b'OK'):
            problems.append('cannot open %s: %r' % (box, tagged))
            continue
        untagged, tagged = s.cmd('FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-LOAD-MARKER)])')
        seen = {}
        for u in untagged:
            mk = marker_of(u)
            if mk:
                seen[mk] = seen.get(mk, 0) + 1
        for mk, c in seen.items():
            if c > 1:
                problems.append('%s: %s present %d times' % (box, mk, c))
            if mk not in st.appended:
                problems.append('%s: %s was never acknowledged' % (box, mk))
        for mk, b in st.appended.items():
            if b == box and mk not in seen and mk not in st.expunged:
                problems.append('%s: acknowledged %s lost' % (box, mk))
    s.cmd('LOGOUT')
    s.close()
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--sessions', type=int, default=200)
    ap.add_argument('--seconds', type=float, default=60)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args(argv)
    env = MailEnv(config={'lock-timeout': '60'})
    st = Stats()
    try:
        s = env.imap()
        for name in ('#driver.mbx/loadmbx', '#driver.maildir/loadmaildir'):
            _, tagged = s.cmd('CREATE "%s"' % name)
            if not tagged.startswith(b'OK'):
                print('CREATE %s failed: %r' % (name, tagged))
                return 1
        s.cmd('LOGOUT')
        s.close()
        iport, _ = env.listen('imapd')
        pport, _ = env.listen('ipop3d')
        stop = time.monotonic() + a.seconds
        threads = []
        n_pop = max(1, a.sessions // 10)
        n_del = max(1, a.sessions // 20)
        n_imap = max(1, a.sessions - n_pop - n_del)
        for k in range(n_imap):
            threads.append(threading.Thread(target=imap_worker, args=(env, iport, k, stop, st, random.Random(a.seed * 1000 + k))))
        for k in range(n_pop):
            threads.append(threading.Thread(target=pop_worker, args=(env, pport, k, stop, st, random.Random(a.seed * 2000 + k))))
        for k in range(n_del):
            threads.append(threading.Thread(target=deliver_worker, args=(env, k, stop, st, random.Random(a.seed * 3000 + k))))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(a.seconds + 120)
        elapsed = time.monotonic() - t0
        problems = check(env, st)
        errs = env.stderr_of_listeners()
        if 'ERROR: AddressSanitizer' in errs or 'runtime error' in errs or 'panic' in errs:
            problems.append('server stderr:\n' + errs[-6000:])
        env.close()
        time.sleep(0.5)
        leftovers = subprocess.run(['pgrep', '-f', env.dir], stdout=subprocess.PIPE).stdout.split()
        print('sessions %d (imap %d, pop3 %d, delivery %d), %.0f s, %d operations, %d appended/delivered, '
              '%d expunged, %d POP3 IN-USE' % (a.sessions, n_imap, n_pop, n_del, elapsed, st.ops,
                                               len(st.appended), len(st.expunged), st.in_use))
        for e in st.errors[:20]:
            print('protocol error:', e)
        for p in problems[:20]:
            print('mailbox problem:', p)
        if leftovers:
            print('processes left behind:', leftovers)
        ok = not st.errors and not problems and not leftovers
        print('load test', 'PASSED' if ok else 'FAILED')
        return 0 if ok else 1
    finally:
        env.close()


if __name__ == '__main__':
    sys.exit(main())

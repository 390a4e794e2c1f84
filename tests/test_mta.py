"""An MTA that knows nothing of us (issue 7, reliability).

A separate Python process plays procmail: to deliver it takes
<spool>/<user>.lock with O_CREAT|O_EXCL (retrying; it breaks the lock
by its own rule when the PID inside is dead or the file is older than
60 s), then an fcntl write lock on the spool file, appends one message
with a unique marker at the end, fsyncs and lets go. It runs in a loop
while imapd sessions on that INBOX append, set flags and expunge (which
rewrites the file) and POP3 sessions RETR, DELE and QUIT.

At the end every delivered marker (the deliverer reports a marker only
after its write and fsync succeeded) and every acknowledged APPEND is
present exactly once, byte-identical, unless a session that saw it
expunged it (then it is gone or still there once); nothing is
duplicated and no foreign message appears.

The deliverer closes a second descriptor of the spool while it holds
its fcntl lock, which drops that lock (POSIX semantics): it behaves, as
mail.local and old procmail setups do, like a writer that honours only
the dotlock. Until 2026-11-22 this test lost a delivered message in about
3 runs of 5: a reader parsed the spool under kernel locks only while the
append was half written, remembered the file's stat taken after the
parse (same mtime, full size) and so later believed the short copy was
the whole message, and a rewrite overwrote its tail. Readers now take the
dotlock to parse new data, and a remembered stat is the one taken before
reading (drivers/mbox/mbox.c, remember_state()).

CC_MTA_SECONDS bounds the run (default 12)."""

import os
import random
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, TIMEOUT  # noqa: E402

SECONDS = float(os.environ.get('CC_MTA_SECONDS', '12'))
SEED = int(os.environ.get('CC_MTA_SEED', '7'))

DELIVERER = r'''
import errno, fcntl, os, sys, time, random
spool, user, seconds, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
inbox = os.path.join(spool, user)
lock = inbox + '.lock'
rng = random.Random(seed)
end = time.monotonic() + seconds
n = 0

def message(n):
    body = ''.join('mta line %d of %d\n' % (i, n) for i in range(rng.randint(1, 200)))
    return ('From: Some MTA <mta@example.net>\nTo: alice@example.org\n'
            'Subject: delivered %d\nX-Marker: mta-%d\n\n%s' % (n, n, body)).encode()

def take_dotlock():
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b'%d\n' % os.getpid())
            os.close(fd)
            return True
        except FileExistsError:
            pass
        # our own staleness rule: dead owner, or older than 60 s
        try:
            with open(lock, 'rb') as f:
                pid = int(f.read(20).split()[0] or b'0')
            st = os.stat(lock)
            dead = False
            if pid > 0:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    dead = True
                except PermissionError:
                    pass
            if dead or time.time() - st.st_mtime > 60:
                os.unlink(lock)
                sys.stderr.write('broke stale lock of %d\n' % pid)
                continue
        except (FileNotFoundError, ValueError, IndexError):
            continue
        time.sleep(0.005)
    return False

while time.monotonic() < end:
    n += 1
    m = message(n)
    if not take_dotlock():
        print('DEFERRED %d' % n, flush=True)
        continue
    try:
        fd = os.open(inbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        sep = b''
        if size > 0:
            # a message must follow a blank line
            rfd = os.open(inbox, os.O_RDONLY)
            tail = os.pread(rfd, 2, size - 2 if size >= 2 else 0)
            os.close(rfd)
            sep = b'' if tail.endswith(b'\n\n') else (b'\n' if tail.endswith(b'\n') else b'\n\n')
        data = sep + b'From mta@example.net ' + time.strftime('%a %b %e %H:%M:%S %Y').encode() + b'\n' + m + b'\n'
        os.write(fd, data)
        os.fsync(fd)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)
    finally:
        os.unlink(lock)
    print('DELIVERED %d' % n, flush=True)
    time.sleep(rng.uniform(0, 0.03))
'''


def marker(data):
    m = re.search(rb'X-Marker: (\S+)', data)
    return m.group(1).decode() if m else None


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.appended = {}       # marker -> CRLF bytes, APPEND acknowledged
        self.seen = {}           # marker -> CRLF bytes, as some session read it
        self.expunged = set()    # markers a session marked deleted / DELE'd
        self.retr_gone = []      # POP3 RETR answers for messages expunged by IMAP
        self.errors = []
        self.ops = {'imap-append': 0, 'imap-store': 0, 'imap-expunge': 0,
                    'pop-sessions': 0, 'pop-retr': 0, 'pop-dele': 0, 'pop-in-use': 0}

    def count(self, k):
        with self.lock:
            self.ops[k] += 1


def imap_worker(env, k, stop, st, rng):
    n = 0
    while not stop.is_set():
        s = env.imap()
        try:
            _, t = s.cmd('SELECT INBOX')
            if not t.startswith(b'OK'):
                st.errors.append('SELECT: %r' % t)
                return
            for _ in range(rng.randint(3, 10)):
                if stop.is_set():
                    break
                r = rng.random()
                if r < 0.4:
                    n += 1
                    mk = 'imap-%d-%d' % (k, n)
                    body = ''.join('imap line %d\r\n' % i for i in range(rng.randint(1, 300)))
                    m = ('From: alice@example.org\r\nSubject: appended %s\r\nX-Marker: %s\r\n\r\n%s'
                         % (mk, mk, body)).encode()
                    _, t = s.append('INBOX', m, flags='\\Seen' if n % 2 else '')
                    if t.startswith(b'OK'):
                        with st.lock:
                            st.appended[mk] = m
                        st.count('imap-append')
                    else:
                        st.errors.append('APPEND %s: %r' % (mk, t))
                elif r < 0.7:
                    _, t = s.cmd('STORE 1:* +FLAGS.SILENT ($Seen%d)' % (k % 3))
                    if not t.startswith(b'OK') and t != b'BAD No messages in the mailbox':
                        st.errors.append('STORE: %r' % t)
                    st.count('imap-store')
                else:
                    # look at a few messages, delete one we saw, expunge
                    untagged, t = s.cmd('UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-MARKER)])')
                    uids = {}
                    for u in untagged:
                        mm = re.match(rb'\* \d+ FETCH \(UID (\d+) .*X-Marker: (\S+)', u, re.S)
                        if mm:
                            uids[int(mm.group(1))] = mm.group(2).decode()
                    if uids:
                        uid = rng.choice(sorted(uids))
                        with st.lock:
                            st.expunged.add(uids[uid])
                        _, t = s.cmd('UID STORE %d +FLAGS.SILENT (\\Deleted)' % uid)
                        if not t.startswith(b'OK'):
                            st.errors.append('STORE Deleted: %r' % t)
                        _, t = s.cmd('EXPUNGE')
                        if not t.startswith(b'OK'):
                            st.errors.append('EXPUNGE: %r' % t)
                        st.count('imap-expunge')
            s.cmd('LOGOUT')
        except (TimeoutError, EOFError, OSError) as e:
            st.errors.append('imap session %d: %r' % (k, e))
        finally:
            s.close()


def pop_worker(env, stop, st, rng):
    while not stop.is_set():
        p = env.pop()
        try:
            p.cmd('USER alice')
            r = p.cmd('PASS secret')
            if r.startswith(b'-ERR [IN-USE]'):
                st.count('pop-in-use')
                p.cmd('QUIT')
                time.sleep(0.05)
                continue
            if not r.startswith(b'+OK'):
                st.errors.append('POP PASS: %r' % r)
                return
            st.count('pop-sessions')
            stat = p.cmd('STAT').split()
            count = int(stat[1])
            for i in rng.sample(range(1, count + 1), min(count, rng.randint(0, 3))):
                r = p.cmd('RETR %d' % i)
                if not r.startswith(b'+OK'):
                    # an IMAP session may have expunged it meanwhile
                    with st.lock:
                        st.retr_gone.append(r)
                    continue
                lines = p.multiline()
                data = b'\r\n'.join(lines) + b'\r\n'
                mk = marker(data)
                st.count('pop-retr')
                if mk is not None:
                    with st.lock:
                        st.seen.setdefault(mk, data)
                    if rng.random() < 0.5:
                        with st.lock:
                            st.expunged.add(mk)
                        if p.cmd('DELE %d' % i).startswith(b'+OK'):
                            st.count('pop-dele')
            r = p.cmd('QUIT')
            if not r.startswith(b'+OK'):
                st.errors.append('POP QUIT: %r' % r)
        except (TimeoutError, EOFError, OSError) as e:
            st.errors.append('pop session: %r' % e)
        finally:
            p.close()
        time.sleep(rng.uniform(0, 0.1))


class MtaTest(unittest.TestCase):
    def test_foreign_mta_alongside_sessions(self):
        env = MailEnv(config={'lock-timeout': '20'})
        self.addCleanup(env.close)
        env.write_inbox(b'')
        rng = random.Random(SEED)
        st = State()
        stop = threading.Event()
        mta = subprocess.Popen([sys.executable, '-c', DELIVERER, env.spool, 'alice', str(SECONDS), str(SEED)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threads = [threading.Thread(target=imap_worker, args=(env, k, stop, st, random.Random(SEED * 100 + k)))
                   for k in range(3)]
        threads.append(threading.Thread(target=pop_worker, args=(env, stop, st, random.Random(SEED + 1))))
        for t in threads:
            t.start()
        try:
            out, err = mta.communicate(timeout=SECONDS + 60)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=TIMEOUT * 3)
        self.assertFalse(any(t.is_alive() for t in threads), 'a session hung')
        self.assertEqual(mta.returncode, 0, err)
        delivered = {int(x) for x in re.findall(rb'^DELIVERED (\d+)$', out, re.M)}
        deferred = re.findall(rb'^DEFERRED (\d+)$', out, re.M)
        self.assertEqual(deferred, [], 'the MTA could not get the lock for 30 s')
        self.assertGreater(len(delivered), 20)
        self.assertEqual(st.errors, [])

        # the final state, through a fresh session
        s = env.imap()
        _, t = s.cmd('SELECT INBOX')
        self.assertTrue(t.startswith(b'OK'), t)
        untagged, t = s.cmd('FETCH 1:* (BODY.PEEK[])')
        self.assertTrue(t.startswith(b'OK'), t)
        s.cmd('LOGOUT')
        s.close()
        bodies = []
        for u in untagged:
            m = re.match(rb'\* \d+ FETCH \(.*?BODY\[\] \{(\d+)\}\r\n', u, re.S)
            if m:
                bodies.append(u[m.end():m.end() + int(m.group(1))])
        have = {}
        for b in bodies:
            mk = marker(b)
            self.assertIsNotNone(mk, 'a message without a marker: %r' % b[:200])
            self.assertNotIn(mk, have, 'message %s duplicated' % mk)
            have[mk] = b
        # regenerate the MTA's messages: same RNG sequence as the deliverer
        mrng = random.Random(SEED)
        expect_mta = {}
        n_max = max(delivered) if delivered else 0
        for n in range(1, n_max + 1):
            body = ''.join('mta line %d of %d\n' % (i, n) for i in range(mrng.randint(1, 200)))
            text = ('From: Some MTA <mta@example.net>\nTo: alice@example.org\n'
                    'Subject: delivered %d\nX-Marker: mta-%d\n\n%s' % (n, n, body)).encode()
            mrng.uniform(0, 0.03)       # the deliverer's sleep
            expect_mta['mta-%d' % n] = text.replace(b'\n', b'\r\n')
        lost = []
        for n in delivered:
            mk = 'mta-%d' % n
            if mk in have:
                self.assertEqual(have[mk], expect_mta[mk], '%s not byte-identical' % mk)
            elif mk not in st.expunged:
                lost.append(mk)
        for mk, m in st.appended.items():
            if mk in have:
                self.assertEqual(have[mk], m, '%s not byte-identical' % mk)
            elif mk not in st.expunged:
                lost.append(mk)
        self.assertEqual(lost, [], 'messages lost')
        for mk in have:
            self.assertTrue(mk in st.appended or (mk.startswith('mta-') and int(mk[4:]) in delivered),
                            'foreign message %s' % mk)
        # what POP3 showed was the same bytes
        for mk, data in st.seen.items():
            exp = expect_mta.get(mk) or st.appended.get(mk)
            self.assertEqual(data, exp, 'POP3 RETR of %s differs' % mk)
        for r in st.retr_gone:
            self.assertIn(b'removed by another client', r)
        self.assertGreater(st.ops['imap-expunge'], 0)
        self.assertGreater(st.ops['pop-sessions'], 0)
        if os.environ.get('CC_RELIAB_VERBOSE'):
            print('STAT mta delivered=%d appended=%d expunged-or-deleted=%d final=%d ops=%r retr-of-expunged=%d stale-breaks=%d'
                  % (len(delivered), len(st.appended), len(st.expunged), len(have), st.ops, len(st.retr_gone),
                     err.count(b'broke stale')), file=sys.stderr)


if __name__ == '__main__':
    unittest.main()

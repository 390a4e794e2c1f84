"""ipop3d on every mailbox format (issue 4): an INBOX in mbx (created as
#driver.mbx/INBOX in the home directory, which then takes over from the
spool, FAQ 4.5) and in maildir (inbox-path %h/Maildir). POP3 sees what
IMAP sees, UIDLs are hex(UIDVALIDITY)+hex(UID), deletions happen only at
QUIT, and spool mail moves into an mbx INBOX."""

import re
import unittest

from cctest import MailEnv, sample_message, mbox_of


class Pop3Drivers(unittest.TestCase):
    def check_inbox(self, env):
        msgs = [sample_message(i, body='From a line\r\n.dot line\r\nend %d\r\n' % i) for i in range(1, 5)]
        s = env.imap()
        for m in msgs:
            _, t = s.append('INBOX', m)
            self.assertTrue(t.startswith(b'OK'), t)
        u, t = s.cmd('SELECT INBOX')
        uv = int(re.search(rb'UIDVALIDITY (\d+)', b' '.join(u)).group(1))
        u, t = s.cmd('UID FETCH 1:* (UID)')
        uids = [int(x) for x in re.findall(rb'UID (\d+)', b' '.join(u))]
        s.cmd('LOGOUT')
        s.close()
        self.assertEqual(len(uids), 4)

        p = env.pop()
        self.assertTrue(p.cmd('USER %s' % env.user).startswith(b'+OK'))
        self.assertTrue(p.cmd('PASS %s' % env.password).startswith(b'+OK'))
        self.assertTrue(p.cmd('STAT').startswith(b'+OK 4 '))
        self.assertTrue(p.cmd('UIDL').startswith(b'+OK'))
        uidl = [l.split()[1].decode() for l in p.multiline()]
        self.assertEqual(uidl, ['%08x%08x' % (uv, u) for u in uids])
        for i, m in enumerate(msgs, 1):
            self.assertTrue(p.cmd('RETR %d' % i).startswith(b'+OK'))
            self.assertEqual(b'\r\n'.join(p.multiline()) + b'\r\n', m)
        self.assertTrue(p.cmd('DELE 2').startswith(b'+OK'))
        p.send('QUIT\r\n')
        self.assertTrue(p.readline().startswith(b'+OK'))
        p.close()

        s = env.imap()
        u, t = s.cmd('SELECT INBOX')
        self.assertIn(b'* 3 EXISTS', u)
        u, t = s.cmd('UID FETCH 1:* (FLAGS BODY.PEEK[])')
        joined = b' '.join(u)
        self.assertNotIn(msgs[1], joined)          # DELE'd at QUIT
        for m in (msgs[0], msgs[2], msgs[3]):
            self.assertIn(m, joined)
        self.assertEqual(joined.count(b'\\Seen'), 3)   # RETR marks \Seen
        s.cmd('LOGOUT')
        s.close()

    def test_mbx_inbox(self):
        with MailEnv() as env:
            s = env.imap()
            _, t = s.cmd('CREATE "#driver.mbx/INBOX"')
            self.assertTrue(t.startswith(b'OK'), t)
            s.cmd('LOGOUT')
            s.close()
            with open(env.path('INBOX'), 'rb') as f:
                self.assertTrue(f.read(7) == b'*mbx*\r\n')
            self.check_inbox(env)

    def test_mbx_inbox_takes_spool_mail(self):
        with MailEnv() as env:
            s = env.imap()
            s.cmd('CREATE "#driver.mbx/INBOX"')
            s.cmd('LOGOUT')
            s.close()
            spooled = [sample_message(10 + i) for i in range(3)]
            env.write_inbox(mbox_of(spooled))       # an MTA delivered these
            p = env.pop()
            p.cmd('USER %s' % env.user)
            self.assertTrue(p.cmd('PASS %s' % env.password).startswith(b'+OK'))
            self.assertTrue(p.cmd('STAT').startswith(b'+OK 3 '))
            self.assertTrue(p.cmd('RETR 1').startswith(b'+OK'))
            self.assertEqual(b'\r\n'.join(p.multiline()) + b'\r\n', spooled[0])
            p.send('QUIT\r\n')
            p.readline()
            p.close()
            self.assertEqual(env.read_inbox(), b'')   # moved out of the spool

    def test_mbx_inbox_pop3_exclusive(self):
        """RFC 1939: one POP3 session per mailbox on mbx too (whose own
        parse lock is the /tmp session file), while IMAP shares it"""
        with MailEnv(config={'lock-timeout': '2'}) as env:
            s = env.imap()
            s.cmd('CREATE "#driver.mbx/INBOX"')
            s.append('INBOX', sample_message(1))
            p1 = env.pop()
            p1.cmd('USER %s' % env.user)
            self.assertTrue(p1.cmd('PASS %s' % env.password).startswith(b'+OK'))
            p2 = env.pop()
            p2.cmd('USER %s' % env.user)
            r = p2.cmd('PASS %s' % env.password)
            self.assertTrue(r.startswith(b'-ERR [IN-USE]'), r)
            p2.close()
            u, t = s.cmd('SELECT INBOX')              # IMAP still shares it
            self.assertTrue(t.startswith(b'OK [READ-WRITE]'), t)
            s.cmd('LOGOUT')
            s.close()
            p1.send('QUIT\r\n')
            self.assertTrue(p1.readline().startswith(b'+OK'))
            p1.close()
            p3 = env.pop()                            # free again
            p3.cmd('USER %s' % env.user)
            self.assertTrue(p3.cmd('PASS %s' % env.password).startswith(b'+OK'))
            p3.send('QUIT\r\n')
            p3.readline()
            p3.close()

    def test_maildir_inbox(self):
        with MailEnv(config={'inbox-path': '%h/Maildir', 'default-driver': 'maildir'}) as env:
            self.check_inbox(env)


if __name__ == '__main__':
    unittest.main()

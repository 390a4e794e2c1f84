"""Typed storage errors (issue 19): imapd and ipop3d choose their response
codes from the code the storage layer records (mail-error.h), not from
the text or a second look at the name. IMAP: RFC 5530 codes, TRYCREATE
for APPEND/COPY/MOVE targets (RFC 3501); POP3: [IN-USE] (RFC 2449) and
[SYS/TEMP]/[SYS/PERM] (RFC 3206)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, sample_message, have_binary, mbox_of  # noqa: E402

DRIVER = os.environ.get('CC_IMAPD_DRIVER')


def make_env(**config):
    if DRIVER:
        config.setdefault('default-driver', DRIVER)
    return MailEnv(config=config or None)


@unittest.skipUnless(have_binary('imapd'), 'imapd not built')
class ImapCodes(unittest.TestCase):
    def setUp(self):
        self.env = make_env()
        self.s = self.env.imap()

    def tearDown(self):
        self.s.close()
        self.env.close()

    def no(self, cmd, code, literal=None):
        if literal is None:
            u, t = self.s.cmd(cmd)
        else:
            u, t = self.s.append(cmd, literal)
        self.assertTrue(t.startswith(b'NO ' + code), (cmd, t))
        return t

    def ok(self, cmd):
        u, t = self.s.cmd(cmd)
        self.assertTrue(t.startswith(b'OK'), (cmd, t))

    def test_nonexistent(self):
        for cmd in ('SELECT nosuch', 'EXAMINE nosuch', 'STATUS nosuch (MESSAGES)',
                    'DELETE nosuch', 'RENAME nosuch other', 'SELECT a/b/c'):
            self.no(cmd, b'[NONEXISTENT] ')

    def test_trycreate_for_targets(self):
        t = self.no('nosuch', b'[TRYCREATE] ', literal=sample_message(1))
        self.assertIn(b'does not exist', t)
        self.ok('CREATE src')
        _, t = self.s.append('src', sample_message(2))
        self.assertTrue(t.startswith(b'OK'), t)
        self.ok('SELECT src')
        self.no('COPY 1 nosuch', b'[TRYCREATE] ')
        self.no('UID COPY 1:* nosuch', b'[TRYCREATE] ')
        self.no('MOVE 1 nosuch', b'[TRYCREATE] ')
        u, t = self.s.cmd('FETCH 1 (FLAGS)')
        self.assertIn(b'* 1 FETCH', b' '.join(u))     # a failed MOVE moves nothing

    def test_alreadyexists(self):
        self.ok('CREATE a')
        self.ok('CREATE b')
        self.no('CREATE a', b'[ALREADYEXISTS] ')
        self.no('RENAME a b', b'[ALREADYEXISTS] ')
        self.no('RENAME a INBOX', b'[ALREADYEXISTS] ')
        # a plain directory: before, a NO without a code
        os.mkdir(self.env.path('dir'))
        self.no('CREATE dir', b'[ALREADYEXISTS] ')

    def test_corruption(self):
        with open(self.env.path('bad'), 'wb') as f:
            f.write(b'*mbx*\r\nzzzzzzzzzzzzzzzzzzzz\r\n' + b' ' * 2048)
        t = self.no('SELECT bad', b'[CORRUPTION] ')
        self.assertIn(b'mbx', t.lower())
        # the session goes on
        self.ok('NOOP')

    def test_delete_directory_keeps_its_code(self):
        self.ok('CREATE top/sub')
        self.no('DELETE top', b'[CANNOT] ')


@unittest.skipUnless(have_binary('ipop3d'), 'ipop3d not built')
class Pop3Codes(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()

    def tearDown(self):
        self.env.close()

    def login(self):
        s = self.env.pop()
        self.assertTrue(s.cmd('USER %s' % self.env.user).startswith(b'+OK'))
        return s, s.cmd('PASS %s' % self.env.password)

    def test_in_use(self):
        self.env.write_config(lock_timeout='2')
        self.env.write_inbox(mbox_of([sample_message(1)]))
        s1, r = self.login()
        self.assertTrue(r.startswith(b'+OK'), r)
        s2, r = self.login()
        self.assertEqual(r, b'-ERR [IN-USE] Mailbox is locked by another session')
        self.assertTrue(s2.expect_eof())
        s2.close()
        s1.cmd('QUIT')
        s1.close()

    def test_corrupt_inbox_is_sys_perm(self):
        # an INBOX the administrator must repair: not worth retrying
        os.makedirs(self.env.home, exist_ok=True)
        with open(os.path.join(self.env.home, 'INBOX'), 'wb') as f:
            f.write(b'*mbx*\r\nzzzzzzzzzzzzzzzzzzzz\r\n' + b' ' * 2048)
        s, r = self.login()
        self.assertTrue(r.startswith(b'-ERR [SYS/PERM] Unable to open mailbox'), r)
        self.assertTrue(s.expect_eof())
        s.close()


if __name__ == '__main__':
    unittest.main()

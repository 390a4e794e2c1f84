"""End-to-end tests of the IMAP extensions of issue 17 that need no
persistent MODSEQ: one class per capability, storage-touching ones on
every mailbox format (mbox, mbx, maildir as the default driver).

imapd runs through tests/lib/cctest.py like tests/test_imapd.py does
(PREAUTH when started as the test user, LOGIN when started as fake
root)."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from cctest import MailEnv, sample_message, have_binary  # noqa: E402

DRIVERS = ('mbox', 'mbx', 'maildir')


def caps_of(line):
    """the capability names of a CAPABILITY response or response code"""
    m = re.search(rb'CAPABILITY ([^\]\r\n]*)', line)
    return m.group(1).split() if m else []


@unittest.skipUnless(have_binary('imapd'), 'imapd not built')
class Case(unittest.TestCase):
    def setUp(self):
        self.envs = []

    def tearDown(self):
        for env in self.envs:
            env.close()

    def env(self, driver=None, **config):
        if driver:
            config['default-driver'] = driver
        env = MailEnv(config=config or None)
        self.envs.append(env)
        return env

    def ok(self, s, cmd):
        u, t = s.cmd(cmd)
        self.assertTrue(t.startswith(b'OK'), (cmd, t, u))
        return u, t


class TestLiteralMinus(Case):
    """RFC 7888: LITERAL- before login (non-synchronizing literals up to
    4096 bytes, larger ones BAD), LITERAL+ after it; never both."""

    def test_advertised_before_and_after_login(self):
        env = self.env()
        s = env.imap(login=True)
        caps = caps_of(s.greeting_line)
        self.assertIn(b'LITERAL-', caps)
        self.assertNotIn(b'LITERAL+', caps)
        u, t = self.ok(s, 'CAPABILITY')
        caps = caps_of(u[0])
        self.assertIn(b'LITERAL-', caps)
        self.assertNotIn(b'LITERAL+', caps)
        u, t = self.ok(s, 'LOGIN alice secret')
        caps = caps_of(t)
        self.assertIn(b'LITERAL+', caps)
        self.assertNotIn(b'LITERAL-', caps)
        u, t = self.ok(s, 'CAPABILITY')
        caps = caps_of(u[0])
        self.assertIn(b'LITERAL+', caps)
        self.assertNotIn(b'LITERAL-', caps)

    def test_small_nonsync_literal_before_login(self):
        env = self.env()
        s = env.imap(login=True)
        # a 4096-byte non-synchronizing literal is the most LITERAL- allows
        s.send(b'a1 ID ("x" {4096+}\r\n' + b'y' * 4096 + b')\r\n')
        u, t = s.collect('a1')
        self.assertTrue(t.startswith(b'OK'), t)
        s.send(b'a2 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n')
        u, t = s.collect('a2')
        self.assertTrue(t.startswith(b'OK'), t)

    def test_large_nonsync_literal_before_login_is_bad(self):
        env = self.env()
        s = env.imap(login=True)
        s.send(b'a1 LOGIN alice {4097+}\r\n' + b'z' * 4097 + b'\r\n')
        u, t = s.collect('a1')
        self.assertTrue(t.startswith(b'BAD [TOOBIG]'), t)
        # the literal was skipped, not read as commands; the session lives
        self.ok(s, 'NOOP')
        # a synchronizing literal of that size is still fine before login
        s.send(b'a3 LOGIN alice {4097}\r\n')
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(b'w' * 4097 + b'\r\n')
        u, t = s.collect('a3')
        self.assertTrue(t.startswith(b'NO'), t)
        self.ok(s, 'LOGIN alice secret')

    def test_large_nonsync_literal_after_login(self):
        env = self.env()
        s = env.imap()          # PREAUTH: LITERAL+
        self.assertIn(b'LITERAL+', caps_of(s.greeting_line))
        msg = sample_message(1, body='x' * 20000)
        s.send(b'a1 APPEND INBOX {%d+}\r\n' % len(msg) + msg + b'\r\n')
        u, t = s.collect('a1')
        self.assertTrue(t.startswith(b'OK'), t)


class TestAppendLimit(Case):
    """RFC 7889: APPENDLIMIT=N from max-literal-size, STATUS APPENDLIMIT,
    a larger APPEND refused with NO [TOOBIG] before the message is sent;
    on every format."""

    LIMIT = 3000

    def test_appendlimit(self):
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                env = self.env(driver, **{'max-literal-size': str(self.LIMIT)})
                s = env.imap()
                self.assertIn(b'APPENDLIMIT=%d' % self.LIMIT,
                              caps_of(s.greeting_line))
                u, t = self.ok(s, 'CAPABILITY')
                self.assertIn(b'APPENDLIMIT=%d' % self.LIMIT, caps_of(u[0]))
                self.ok(s, 'CREATE box')
                u, t = self.ok(s, 'STATUS box (MESSAGES APPENDLIMIT)')
                self.assertIn(b'* STATUS box (MESSAGES 0 APPENDLIMIT %d)'
                              % self.LIMIT, u)
                base = sample_message(1, body='')
                exact = base + b'b' * (self.LIMIT - len(base))
                self.assertEqual(len(exact), self.LIMIT)
                u, t = s.append('box', exact)
                self.assertTrue(t.startswith(b'OK'), t)
                # one byte more: refused before the client sends it
                u, t = s.append('box', exact + b'c')
                self.assertTrue(t.startswith(b'NO [TOOBIG]'), t)
                u, t = self.ok(s, 'STATUS box (MESSAGES)')
                self.assertIn(b'* STATUS box (MESSAGES 1)', u)
                self.ok(s, 'SELECT box')
                u, t = self.ok(s, 'FETCH 1 RFC822.SIZE')
                self.assertIn(b'* 1 FETCH (RFC822.SIZE %d)' % self.LIMIT, u)
                self.ok(s, 'LOGOUT')

    def test_default_limit_advertised(self):
        env = self.env()
        s = env.imap()
        self.assertIn(b'APPENDLIMIT=67108864', caps_of(s.greeting_line))
        u, t = self.ok(s, 'STATUS INBOX (APPENDLIMIT)')
        self.assertIn(b'* STATUS INBOX (APPENDLIMIT 67108864)', u)


class TestUnauthenticate(Case):
    """RFC 8437 is not offered: privileges are dropped for good at login
    (docs/conformance.md says why). Not advertised, and the command is
    refused without ending or changing the session."""

    def test_not_offered(self):
        env = self.env()
        s = env.imap(login=True)
        self.assertNotIn(b'UNAUTHENTICATE', caps_of(s.greeting_line))
        u, t = self.ok(s, 'LOGIN alice secret')
        self.assertNotIn(b'UNAUTHENTICATE', caps_of(t))
        u, t = self.ok(s, 'CAPABILITY')
        self.assertNotIn(b'UNAUTHENTICATE', caps_of(u[0]))
        u, t = s.cmd('UNAUTHENTICATE')
        self.assertTrue(t.startswith(b'BAD'), t)
        # still alice, still authenticated
        u, t = s.cmd('LOGIN bob bobpass')
        self.assertTrue(t.startswith(b'BAD'), t)
        self.ok(s, 'CREATE stillalice')
        self.ok(s, 'LOGOUT')
        self.assertTrue(os.path.exists(os.path.join(env.home, 'stillalice')))


if __name__ == '__main__':
    unittest.main()

"""MAILBOX-REFERRALS (RFC 2193) and LOGIN-REFERRALS (RFC 2221) from the
route map (docs/scaling.md, imapd/referral.c), without network
namespaces: imapd runs over a pipe with a route map that puts alice on
this server (server-name 127.0.0.1) and bob on 127.0.0.2:1143. A
referral is only an answer; nothing connects to the other host.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, sample_message  # noqa: E402

HERE = '127.0.0.1'
BOB = 'imap://alice;AUTH=*@127.0.0.2:1143/'


class ReferralTest(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)
        self.map = os.path.join(self.env.dir, 'route.map')
        with open(self.map, 'w') as f:
            f.write('alice %s\nbob 127.0.0.2:1143:1110\n* 127.0.0.3\n' % HERE)
        self.env.write_config(**{'route-map': self.map, 'server-name': HERE,
                                 'shared-namespace-user': 'bob',
                                 'public-namespace-user': 'alice'})
        # what a stale copy of bob's mail on this host would look like
        self.bobhome = os.path.join(self.env.dir, 'home', 'bob')
        with open(os.path.join(self.bobhome, 'box'), 'wb') as f:
            f.write(b'')

    def login(self, user='alice', password='secret'):
        s = self.env.imap(login=True)
        u, t = s.cmd('LOGIN %s %s' % (user, password))
        self.assertTrue(t.startswith(b'OK'), t)
        return s, u, t

    def referral(self, s, command, urls):
        u, t = s.cmd(command)
        want = b'NO [REFERRAL ' + ' '.join(urls).encode() + b']'
        self.assertTrue(t.startswith(want), (command, t))
        return u

    def test_capability_only_when_configured(self):
        s = self.env.imap(login=True)
        self.assertIn(b'LOGIN-REFERRALS', s.greeting_line)
        self.assertIn(b'MAILBOX-REFERRALS', s.greeting_line)
        u, t = s.cmd('LOGIN alice secret')
        self.assertIn(b'MAILBOX-REFERRALS', t)
        s.cmd('LOGOUT')
        s.close()
        self.env.write_config(**{'server-name': ''})
        s = self.env.imap(login=True)
        self.assertNotIn(b'REFERRALS', s.greeting_line)
        u, t = s.cmd('LOGIN alice secret')
        self.assertNotIn(b'REFERRALS', t)
        # without referrals another user's names are plain local names
        u, t = s.cmd('STATUS ~bob/box (MESSAGES)')
        self.assertTrue(t.startswith(b'OK'), t)
        u, t = s.cmd('LIST "" "~bob/*"')
        self.assertIn(b' ~bob/box', b'\n'.join(u))
        u, t = s.cmd('RLIST "" "~bob/*"')
        self.assertIn(b' ~bob/box', b'\n'.join(u))
        s.cmd('LOGOUT')
        s.close()

    def test_remote_owner_gets_referrals(self):
        s, _, _ = self.login()
        for cmd in ('SELECT ~bob/box', 'EXAMINE ~bob/box',
                    'STATUS ~bob/box (MESSAGES UIDNEXT)', 'DELETE ~bob/box',
                    'CREATE ~bob/new'):
            mbox = cmd.split()[1]
            self.referral(s, cmd, [BOB + mbox])
        self.referral(s, 'CREATE #driver.mbx/~bob/x', [BOB + '%23driver.mbx/~bob/x'])
        # the shared namespace belongs to bob, the public one to alice
        self.referral(s, 'SELECT #shared/Team', [BOB + '%23shared/Team'])
        u, t = s.cmd('STATUS #public/nothing (MESSAGES)')
        self.assertNotIn(b'REFERRAL', t)
        # APPEND: refused before the message is taken anywhere
        msg = sample_message(1, subject='not-here')
        u, t = s.append('~bob/box', msg)
        self.assertTrue(t.startswith(('NO [REFERRAL %s~bob/box]' % BOB).encode()), t)
        # nothing was made or removed in the stale local copy
        self.assertEqual(sorted(os.listdir(self.bobhome)), ['box'])
        self.assertEqual(os.path.getsize(os.path.join(self.bobhome, 'box')), 0)
        # owners the map sends to the default line's host
        self.referral(s, 'SELECT ~carol/x', ['imap://alice;AUTH=*@127.0.0.3/~carol/x'])
        # names of alice's own, and /absolute names, are served here
        for cmd in ('CREATE mine', 'SELECT mine', 'STATUS ~alice/mine (MESSAGES)',
                    'STATUS ~/mine (MESSAGES)', 'SELECT INBOX'):
            u, t = s.cmd(cmd)
            self.assertTrue(t.startswith(b'OK'), (cmd, t))
        u, t = s.cmd('STATUS %s (MESSAGES)' % os.path.join(self.bobhome, 'box'))
        self.assertNotIn(b'REFERRAL', t)
        s.cmd('LOGOUT')
        s.close()

    def test_names_are_url_encoded(self):
        s, _, _ = self.login()
        # modified UTF-7 becomes %-encoded UTF-8 (RFC 5092 section 8)
        self.referral(s, 'SELECT "~bob/&ZeVnLIqe-/x y"',
                      [BOB + '~bob/%E6%97%A5%E6%9C%AC%E8%AA%9E/x%20y'])
        # nothing in a name can end the response code or the URL early
        self.referral(s, 'SELECT "~bob/a]b [c;d?e#f%g"',
                      [BOB + '~bob/a%5Db%20%5Bc%3Bd%3Fe%23f%25g'])
        self.referral(s, 'SELECT "~bob/../x"', [BOB + '~bob/%2E%2E/x'])
        # an owner name with URL characters is only compared with the map
        self.referral(s, 'SELECT "~b o@b/x"', ['imap://alice;AUTH=*@127.0.0.3/~b%20o@b/x'])
        s.cmd('LOGOUT')
        s.close()

    def test_rename_copy_move(self):
        s, _, _ = self.login()
        self.assertTrue(s.cmd('CREATE mine')[1].startswith(b'OK'))
        self.assertTrue(s.append('mine', sample_message(1, subject='keep-me'))[1].startswith(b'OK'))
        # both names on bob's server: the client re-issues RENAME there
        u, t = s.cmd('RENAME ~bob/a ~bob/b')
        self.assertTrue(t.startswith(('NO [REFERRAL %s~bob/a %s~bob/b] Remote mailbox'
                                      % (BOB, BOB)).encode()), t)
        # across servers (RFC 2193 4.3): a pair, the local one named here
        u, t = s.cmd('RENAME mine ~bob/mine')
        self.assertTrue(t.startswith(('NO [REFERRAL imap://alice;AUTH=*@%s/mine %s~bob/mine]'
                                      ' Cannot rename across servers' % (HERE, BOB)).encode()), t)
        self.assertTrue(os.path.exists(self.env.path('mine')))
        u, t = s.cmd('SELECT mine')
        self.assertIn(b'* 1 EXISTS', u)
        self.referral(s, 'COPY 1 ~bob/box', [BOB + '~bob/box'])
        self.referral(s, 'UID MOVE 1:* ~bob/box', [BOB + '~bob/box'])
        u, t = s.cmd('NOOP')
        self.assertNotIn(b'EXPUNGE', b' '.join(u))
        u, t = s.cmd('FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]')
        self.assertIn(b'keep-me', b' '.join(u))
        s.cmd('LOGOUT')
        s.close()

    def test_list_lsub_rlist_rlsub(self):
        s, _, _ = self.login()
        self.assertTrue(s.cmd('CREATE mine')[1].startswith(b'OK'))
        # subscriptions stay on the user's home server, remote ones too
        for name in ('mine', '~bob/box', '~bob/deep/er'):
            u, t = s.cmd('SUBSCRIBE %s' % name)
            self.assertTrue(t.startswith(b'OK'), (name, t))

        def names(cmd):
            u, t = s.cmd(cmd)
            self.assertTrue(t.startswith(b'OK'), (cmd, t))
            return {re.sub(rb'^\* [A-Z]+ ', b'', l): l for l in u}

        def listed(cmd):
            return sorted(n.split(b' "/" ')[1].strip(b'"').decode() for n in names(cmd))

        # LIST and LSUB: local names only (the stale local ~bob/box too
        # is left out: it is not bob's mail)
        self.assertEqual(listed('LIST "" "~bob/*"'), [])
        self.assertNotIn('~bob/box', listed('LIST "" "*"'))
        self.assertIn('mine', listed('LIST "" "*"'))
        self.assertEqual(listed('LSUB "" "*"'), ['mine'])
        # RLIST and RLSUB add the remote mailboxes this server knows of
        self.assertEqual(listed('RLSUB "" "*"'), ['mine', '~bob/box', '~bob/deep/er'])
        self.assertEqual(listed('RLSUB "" "~bob/%"'), ['~bob/box', '~bob/deep'])
        self.assertEqual(listed('RLIST "" "~bob/*"'), ['~bob/box', '~bob/deep/er'])
        rl = listed('RLIST "" "*"')
        for n in ('INBOX', 'mine', '~bob/box', '~bob/deep/er'):
            self.assertIn(n, rl)
        self.assertEqual(listed('RLIST "~bob/" "%"'), ['~bob/box', '~bob/deep'])
        # the response names: RLIST answers LIST, RLSUB answers LSUB;
        # a subscribed remote name is selectable, its parent is not
        u, _ = s.cmd('RLIST "" "~bob/box"')
        self.assertEqual(u, [b'* LIST () "/" ~bob/box'])
        u, _ = s.cmd('RLSUB "" "~bob/%"')
        self.assertIn(b'* LSUB () "/" ~bob/box', u)
        self.assertIn(b'* LSUB (\\Noselect) "/" ~bob/deep', u)
        u, t = s.cmd('RLIST "" ""')
        self.assertEqual(u, [b'* LIST (\\Noselect) "/" ""'])
        self.assertTrue(t.startswith(b'OK RLIST'), t)
        u, t = s.cmd('RLIST ""')
        self.assertTrue(t.startswith(b'BAD'), t)
        self.assertTrue(s.cmd('UNSUBSCRIBE ~bob/box')[1].startswith(b'OK'))
        self.assertEqual(listed('RLSUB "" "~bob/*"'), ['~bob/deep/er'])
        s.cmd('LOGOUT')
        s.close()

    def test_login_on_a_foreign_server(self):
        """bob's mail is on 127.0.0.2: here he is logged in (a client that
        followed a referral to alice's mailbox must be able to open it),
        told where his own mail is, and every personal name is referred
        there, so nothing of his is read or written here."""
        s = self.env.imap(login=True)
        with open(os.path.join(self.env.dir, 'home', 'alice', 'shared'), 'wb') as f:
            f.write(b'')
        u, t = s.cmd('LOGIN bob bobpass')
        self.assertTrue(t.startswith(b'OK [REFERRAL imap://bob@127.0.0.2:1143/]'), t)
        self.assertTrue(any(l.startswith(b'* CAPABILITY IMAP4rev1') for l in u), u)
        home = 'imap://bob;AUTH=*@127.0.0.2:1143/'
        for cmd in ('SELECT INBOX', 'STATUS inbox (MESSAGES)', 'CREATE Drafts',
                    'SELECT ~/x', 'SELECT ~bob/x', 'DELETE old'):
            self.referral(s, cmd, [home + cmd.split()[1]])
        u, t = s.append('INBOX', sample_message(1, subject='lost'))
        self.assertTrue(t.startswith(('NO [REFERRAL %sINBOX]' % home).encode()), t)
        self.assertFalse(os.path.exists(os.path.join(self.env.spool, 'bob')))
        self.referral(s, 'SUBSCRIBE ~alice/shared', [home + '~alice/shared'])
        self.assertFalse(os.path.exists(os.path.join(self.bobhome, '.mailboxlist')))
        # alice's mailbox is here: served
        u, t = s.cmd('SELECT ~alice/shared')
        self.assertTrue(t.startswith(b'OK'), t)
        u, t = s.cmd('LIST "" "*"')
        self.assertEqual([l for l in u if b'INBOX' in l or b'"box"' in l], [])
        u, t = s.cmd('LIST "" "~alice/%"')
        self.assertIn(b' ~alice/shared', b' '.join(u))
        s.cmd('LOGOUT')
        s.close()
        self.assertIn('login referred to 127.0.0.2', self.env.log())

    def test_unreadable_map_refers_nobody(self):
        os.unlink(self.map)
        s, _, t = self.login('bob', 'bobpass')
        self.assertNotIn(b'[REFERRAL', t)
        u, t = s.cmd('STATUS ~bob/box (MESSAGES)')
        self.assertTrue(t.startswith(b'OK'), t)
        u, t = s.cmd('SELECT INBOX')
        self.assertTrue(t.startswith(b'OK'), t)
        s.cmd('LOGOUT')
        s.close()
        self.assertIn('route map %s' % self.map, self.env.log())


if __name__ == '__main__':
    unittest.main()

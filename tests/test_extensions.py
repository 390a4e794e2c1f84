"""End-to-end tests of the IMAP extensions of issue 17 that need no
persistent MODSEQ: one class per capability, storage-touching ones on
every mailbox format (mbox, mbx, maildir as the default driver).

imapd runs through tests/lib/cctest.py like tests/test_imapd.py does
(PREAUTH when started as the test user, LOGIN when started as fake
root)."""

import os
import re
import select
import ssl
import sys
import time
import unittest
import zlib

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


def list_map(untagged):
    """{name: (set of attributes, extended data)} of LIST responses"""
    out = {}
    for line in untagged:
        m = re.match(rb'\* LIST \(([^)]*)\) "/" ("(?:[^"\\]|\\.)*"|\S+)(?: (.*))?$', line)
        if m:
            name = m.group(2).strip(b'"')
            out[name.decode()] = (set(a.lower() for a in m.group(1).split()),
                                  m.group(3) or b'')
    return out


class TestListExtended(Case):
    """RFC 5258 on every format, after imaptest's listext script:
    multiple patterns, SUBSCRIBED / REMOTE / RECURSIVEMATCH selection,
    CHILDREN / SUBSCRIBED return options, \\NonExistent, CHILDINFO, and
    the errors."""

    def setup_tree(self, s):
        for name in ('m/', 'm/test1', 'm/test2/', 'm/test2/test1', 'm/test3',
                     'm/test4/test5', 'm/test4/test52', 'm/test6',
                     'm/test7/test7', 'm/test8/test8', 'm/test8/test9'):
            self.ok(s, 'CREATE %s' % name)
        for name in ('m/test1', 'm/test2/test1', 'm/test6', 'm/test7/test7',
                     'm/test8/test8', 'm/test8/test9'):
            self.ok(s, 'SUBSCRIBE %s' % name)
        self.ok(s, 'DELETE m/test6')

    def test_list_extended(self):
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                self.check_driver(driver)

    def check_driver(self, driver):
        env = self.env(driver)
        s = env.imap()
        self.assertIn(b'LIST-EXTENDED', caps_of(s.greeting_line))
        self.setup_tree(s)

        # several patterns, each name once
        u, t = self.ok(s, 'LIST "" (m/*2 m/test3 m/test3)')
        self.assertEqual(sorted(list_map(u)), ['m/test2', 'm/test3', 'm/test4/test52'])
        self.assertEqual(len(u), 3)

        for bad in ('LIST (imaptest) "" ""', 'LIST (recursivematch) "" ""',
                    'LIST (recursivematch remote) "" ""',
                    'LIST "" "" return (imaptest)', 'LIST "" () ',
                    'LIST "" % return', 'LIST "" % return (status)',
                    'LIST "" % return (status (bogus))', 'LIST "" % extra'):
            u, t = s.cmd(bad)
            self.assertTrue(t.startswith(b'BAD'), (bad, t))
        self.ok(s, 'LIST (remote) "" %')

        u, t = self.ok(s, 'LIST (subscribed) "" m/*')
        got = list_map(u)
        self.assertEqual(sorted(got), ['m/test1', 'm/test2/test1', 'm/test6',
                                       'm/test7/test7', 'm/test8/test8',
                                       'm/test8/test9'])
        for name, (attrs, ext) in got.items():
            self.assertIn(b'\\subscribed', attrs, name)
        self.assertIn(b'\\nonexistent', got['m/test6'][0])
        self.assertNotIn(b'\\noselect', got['m/test6'][0])
        self.assertNotIn(b'\\nonexistent', got['m/test1'][0])

        u, t = self.ok(s, 'LIST (subscribed recursivematch) "" m/test2% return (children)')
        got = list_map(u)
        self.assertEqual(list(got), ['m/test2'])
        self.assertIn(b'\\haschildren', got['m/test2'][0])
        self.assertNotIn(b'\\subscribed', got['m/test2'][0])
        self.assertEqual(got['m/test2'][1], b'("CHILDINFO" ("SUBSCRIBED"))')

        u, t = self.ok(s, 'LIST "" m/% return (children subscribed)')
        got = list_map(u)
        self.assertIn(b'\\subscribed', got['m/test1'][0])
        self.assertNotIn(b'\\haschildren', got['m/test1'][0])
        for name in ('m/test2', 'm/test4', 'm/test7', 'm/test8'):
            self.assertIn(b'\\haschildren', got[name][0], name)
            self.assertNotIn(b'\\subscribed', got[name][0], name)
        self.assertNotIn(b'\\subscribed', got['m/test3'][0])
        self.assertNotIn('m/test6', got)

        # the only subscribed child is returned itself: no parent
        u, t = self.ok(s, 'LIST (subscribed recursivematch) "" m*test7')
        self.assertEqual(sorted(list_map(u)), ['m/test7/test7'])

        u, t = self.ok(s, 'LIST (subscribed recursivematch) "" m*test8')
        got = list_map(u)
        self.assertEqual(sorted(got), ['m/test8', 'm/test8/test8'])
        self.assertEqual(got['m/test8'][1], b'("CHILDINFO" ("SUBSCRIBED"))')
        self.assertNotIn(b'\\subscribed', got['m/test8'][0])
        self.assertEqual(got['m/test8/test8'][1], b'')

        u, t = self.ok(s, 'LIST (subscribed recursivematch) "" (m/test2)')
        got = list_map(u)
        self.assertEqual(list(got), ['m/test2'])
        self.assertEqual(got['m/test2'][1], b'("CHILDINFO" ("SUBSCRIBED"))')

        u, t = self.ok(s, 'LIST (subscribed recursivematch) "" (m/test2 m/test2/test1)')
        got = list_map(u)
        self.assertEqual(list(got), ['m/test2/test1'])

        # without selection options SUBSCRIBED is only an attribute
        u, t = self.ok(s, 'LIST "" (m/test1 m/test3) return (subscribed)')
        got = list_map(u)
        self.assertIn(b'\\subscribed', got['m/test1'][0])
        self.assertNotIn(b'\\subscribed', got['m/test3'][0])
        # plain LIST is unchanged: no \\Subscribed
        u, t = self.ok(s, 'LIST "" m/test1')
        self.assertNotIn(b'\\subscribed', list_map(u)['m/test1'][0])
        self.ok(s, 'LOGOUT')


class TestListStatus(Case):
    """RFC 5819 on every format: RETURN (STATUS (...)) sends a STATUS
    after the LIST of each selectable mailbox, none for \\Noselect."""

    def test_list_status(self):
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                env = self.env(driver)
                s = env.imap()
                self.assertIn(b'LIST-STATUS', caps_of(s.greeting_line))
                self.ok(s, 'CREATE ls/a')
                self.ok(s, 'CREATE ls/b')
                self.ok(s, 'CREATE ls/dir/')
                for i in range(3):
                    u, t = s.append('ls/a', sample_message(i + 1))
                    self.assertTrue(t.startswith(b'OK'), t)
                self.ok(s, 'SELECT ls/b')
                u, t = s.append('ls/b', sample_message(9))
                self.assertTrue(t.startswith(b'OK'), t)
                u, t = self.ok(s, 'LIST "" ls/% RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
                self.assertIn(b'* STATUS ls/a (MESSAGES 3 UNSEEN 3 UIDNEXT 4)', u)
                # the selected mailbox answered from the open session
                self.assertIn(b'* STATUS ls/b (MESSAGES 1 UNSEEN 1 UIDNEXT 2)', u)
                i = u.index(b'* STATUS ls/a (MESSAGES 3 UNSEEN 3 UIDNEXT 4)')
                self.assertTrue(u[i - 1].startswith(b'* LIST') and
                                u[i - 1].endswith(b' ls/a'), u)
                got = list_map(u)
                if 'ls/dir' in got and b'\\noselect' in got['ls/dir'][0]:
                    self.assertFalse([x for x in u if x.startswith(b'* STATUS ls/dir')], u)
                self.assertEqual(len([x for x in u if x.startswith(b'* STATUS')]),
                                 len([n for n, (a, e) in got.items()
                                      if b'\\noselect' not in a]))
                self.ok(s, 'LOGOUT')


class TestSpecialUse(Case):
    """RFC 6154 SPECIAL-USE and CREATE-SPECIAL-USE on every format: uses
    set at CREATE, shown by LIST, the SPECIAL-USE selection and return
    options, kept across sessions and RENAME, dropped by DELETE; \\All and
    unknown attributes refused with [USEATTR] and no mailbox made; the
    file in the home refused when it is a symbolic link."""

    def test_special_use(self):
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                self.check_driver(driver)

    def check_driver(self, driver):
        env = self.env(driver)
        s = env.imap()
        caps = caps_of(s.greeting_line)
        self.assertIn(b'SPECIAL-USE', caps)
        self.assertIn(b'CREATE-SPECIAL-USE', caps)
        self.ok(s, 'CREATE Sent (USE (\\Sent))')
        self.ok(s, 'CREATE Bin (USE (\\Trash \\Junk))')
        self.ok(s, 'CREATE plain')
        self.ok(s, 'CREATE folder/Drafts (USE (\\Drafts))')
        for cmd in ('CREATE allmail (USE (\\All))', 'CREATE flagged (USE (\\Flagged))',
                    'CREATE odd (USE (\\Bogus))'):
            u, t = s.cmd(cmd)
            self.assertTrue(t.startswith(b'NO [USEATTR]'), (cmd, t))
        for cmd in ('CREATE odd (FOO)', 'CREATE odd (USE \\Sent)',
                    'CREATE odd (USE ("\\Sent"))', 'CREATE odd x'):
            u, t = s.cmd(cmd)
            self.assertTrue(t.startswith(b'BAD'), (cmd, t))
        u, t = self.ok(s, 'LIST "" *')
        got = list_map(u)
        for name in ('allmail', 'flagged', 'odd'):
            self.assertNotIn(name, got)
        self.assertIn(b'\\sent', got['Sent'][0])
        self.assertEqual({b'\\trash', b'\\junk'} & got['Bin'][0],
                         {b'\\trash', b'\\junk'})
        self.assertIn(b'\\drafts', got['folder/Drafts'][0])
        self.assertFalse({b'\\sent', b'\\trash', b'\\drafts'} & got['plain'][0])
        u, t = self.ok(s, 'LIST (SPECIAL-USE) "" *')
        self.assertEqual(sorted(list_map(u)), ['Bin', 'Sent', 'folder/Drafts'])
        u, t = self.ok(s, 'LIST "" % RETURN (SPECIAL-USE)')
        got = list_map(u)
        self.assertIn(b'\\sent', got['Sent'][0])
        self.ok(s, 'LOGOUT')
        path = os.path.join(env.home, '.mailboxuse')
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)

        # a new session sees them; RENAME keeps them
        s = env.imap()
        self.ok(s, 'RENAME Sent Outbox')
        self.ok(s, 'RENAME folder/Drafts box/Drafts')
        u, t = self.ok(s, 'LIST "" *')
        got = list_map(u)
        self.assertIn(b'\\sent', got['Outbox'][0])
        self.assertNotIn('Sent', got)
        self.assertIn(b'\\drafts', got['box/Drafts'][0])
        # DELETE drops the use: a new mailbox of that name has none
        self.ok(s, 'DELETE Outbox')
        self.ok(s, 'CREATE Outbox')
        u, t = self.ok(s, 'LIST "" Outbox')
        self.assertNotIn(b'\\sent', list_map(u)['Outbox'][0])
        u, t = self.ok(s, 'LIST (SPECIAL-USE) "" *')
        self.assertEqual(sorted(list_map(u)), ['Bin', 'box/Drafts'])
        self.ok(s, 'LOGOUT')

        # a symbolic link in the file's place is not followed
        other = os.path.join(env.dir, 'elsewhere')
        with open(other, 'w') as f:
            f.write('plain\t\\Sent\n')
        os.unlink(path)
        os.symlink(other, path)
        s = env.imap()
        u, t = self.ok(s, 'LIST "" plain')
        self.assertNotIn(b'\\sent', list_map(u)['plain'][0])
        self.ok(s, 'CREATE Sent (USE (\\Sent))')
        self.ok(s, 'LOGOUT')
        # the rewrite replaced the link, never wrote through it
        self.assertFalse(os.path.islink(path))
        with open(other) as f:
            self.assertEqual(f.read(), 'plain\t\\Sent\n')


class TestStatusSize(Case):
    """RFC 8438 STATUS=SIZE on every format: the sum of RFC822.SIZE, from
    a mailbox not open, from the selected one, for INBOX with new mail in
    the spool, and in LIST-STATUS."""

    def test_status_size(self):
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                env = self.env(driver)
                # mail waiting in the spool counts as STATUS MESSAGES does
                env.write_inbox(b'From a@b Sun Mar 15 12:00:00 2020\n'
                                b'Subject: spool\n\nline one\nline two\n\n')
                s = env.imap()
                self.assertIn(b'STATUS=SIZE', caps_of(s.greeting_line))
                u, t = self.ok(s, 'STATUS INBOX (MESSAGES SIZE)')
                # "Subject: spool\r\n\r\nline one\r\nline two\r\n"
                self.assertIn(b'* STATUS INBOX (MESSAGES 1 SIZE 38)', u)
                # the same once it is moved in and selected
                self.ok(s, 'SELECT INBOX')
                u, t = self.ok(s, 'FETCH 1 RFC822.SIZE')
                self.assertIn(b'* 1 FETCH (RFC822.SIZE 38)', u)
                u, t = self.ok(s, 'STATUS INBOX (SIZE)')
                self.assertIn(b'* STATUS INBOX (SIZE 38)', u)
                self.ok(s, 'CLOSE')
                self.ok(s, 'CREATE sz')
                u, t = self.ok(s, 'STATUS sz (SIZE)')
                self.assertIn(b'* STATUS sz (SIZE 0)', u)
                msgs = [sample_message(i, body='x' * (100 * i) + '\r\n')
                        for i in range(1, 4)]
                for m in msgs:
                    u, t = s.append('sz', m)
                    self.assertTrue(t.startswith(b'OK'), t)
                total = sum(len(m) for m in msgs)
                u, t = self.ok(s, 'STATUS sz (SIZE MESSAGES)')
                self.assertIn(b'* STATUS sz (SIZE %d MESSAGES 3)' % total, u)
                u, t = self.ok(s, 'LIST "" sz RETURN (STATUS (SIZE))')
                self.assertIn(b'* STATUS sz (SIZE %d)' % total, u)
                self.ok(s, 'SELECT sz')
                u, t = self.ok(s, 'FETCH 1:* RFC822.SIZE')
                sizes = [int(x) for x in re.findall(rb'RFC822.SIZE (\d+)', b' '.join(u))]
                self.assertEqual(sum(sizes), total)
                self.ok(s, 'STORE 2 +FLAGS.SILENT (\\Deleted)')
                self.ok(s, 'EXPUNGE')
                u, t = self.ok(s, 'STATUS sz (SIZE)')
                self.assertIn(b'* STATUS sz (SIZE %d)' % (total - len(msgs[1])), u)
                self.ok(s, 'LOGOUT')


def load(s, mailbox, subjects):
    """append one message per subject, dates ascending"""
    for i, subj in enumerate(subjects):
        u, t = s.append(mailbox, sample_message(i + 1, subject=subj,
                                                body='x' * (10 * (5 - i)) + '\r\n'),
                        date='%02d-Mar-2020 12:00:00 +0000' % (i + 1))
        assert t.startswith(b'OK'), t


class TestEsort(Case):
    """RFC 5267 ESORT: SORT RETURN (MIN MAX COUNT ALL), MIN and MAX the
    first and last in the sort order, ALL in that order; UID form too."""

    def test_esort(self):
        env = self.env()
        s = env.imap()
        self.assertIn(b'ESORT', caps_of(s.greeting_line))
        self.ok(s, 'CREATE es')
        load(s, 'es', ['delta', 'alpha', 'echo', 'charlie', 'bravo'])
        self.ok(s, 'SELECT es')
        tag = s.next_tag()
        u, t = s.cmd('SORT RETURN (MIN) (ARRIVAL) US-ASCII 1:5', tag=tag)
        self.assertEqual(u, [b'* ESEARCH (TAG "%s") MIN 1' % tag.encode()])
        u, t = self.ok(s, 'SORT RETURN (MAX) (ARRIVAL) US-ASCII 1:5')
        self.assertTrue(u[0].endswith(b') MAX 5'), u)
        u, t = self.ok(s, 'SORT RETURN (ALL) (ARRIVAL) US-ASCII 1:5')
        self.assertTrue(u[0].endswith(b') ALL 1:5'), u)
        u, t = self.ok(s, 'SORT RETURN (COUNT) (ARRIVAL) US-ASCII 1:5')
        self.assertTrue(u[0].endswith(b') COUNT 5'), u)
        # subject order: alpha(2) bravo(5) charlie(4) delta(1) echo(3)
        u, t = self.ok(s, 'SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) US-ASCII ALL')
        self.assertTrue(u[0].endswith(b') MIN 2 MAX 3 ALL 2,5,4,1,3 COUNT 5'), u)
        u, t = self.ok(s, 'SORT RETURN () (REVERSE SUBJECT) US-ASCII ALL')
        # an ascending run in the order is a range, as imaptest's esort expects
        self.assertTrue(u[0].endswith(b') ALL 3,1,4:5,2'), u)
        # size order (the bodies shrink): 5,4,3,2,1 reversed is 1:5
        u, t = self.ok(s, 'SORT RETURN (ALL) (REVERSE SIZE) US-ASCII ALL')
        self.assertTrue(u[0].endswith(b') ALL 1:5'), u)
        u, t = self.ok(s, 'UID SORT RETURN (MIN COUNT) (SUBJECT) US-ASCII 1:4')
        self.assertRegex(u[0], rb'^\* ESEARCH \(TAG "[^"]+"\) UID MIN 2 COUNT 4$')
        # nothing found: only COUNT 0
        u, t = self.ok(s, 'SORT RETURN (MIN MAX ALL COUNT) (SUBJECT) US-ASCII SUBJECT nosuch')
        self.assertTrue(u[0].endswith(b') COUNT 0'), u)
        for bad in ('SORT RETURN (BOGUS) (SUBJECT) US-ASCII ALL',
                    'SORT RETURN (SAVE) (SUBJECT) US-ASCII ALL',
                    'SORT RETURN MIN (SUBJECT) US-ASCII ALL'):
            u, t = s.cmd(bad)
            self.assertTrue(t.startswith(b'BAD'), (bad, t))
        # plain SORT unchanged
        u, t = self.ok(s, 'SORT (SUBJECT) US-ASCII ALL')
        self.assertEqual(u, [b'* SORT 2 5 4 1 3'])


class TestSearchres(Case):
    """RFC 5182 SEARCHRES on every format: SEARCH RETURN (SAVE) and "$" in
    FETCH, STORE, COPY, MOVE, SEARCH (also "UID $", "NOT $", and "$" as
    an argument left alone), UID EXPUNGE; MIN/MAX-only saves; a failed
    SAVE empties it; expunged messages drop out; reset by SELECT."""

    def test_searchres(self):
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                self.check_driver(driver)

    def check_driver(self, driver):
        env = self.env(driver)
        s = env.imap()
        self.assertIn(b'SEARCHRES', caps_of(s.greeting_line))
        self.ok(s, 'CREATE sr')
        self.ok(s, 'CREATE dest')
        load(s, 'sr', ['one', 'two $', 'three', 'four', 'five', 'six'])
        self.ok(s, 'SELECT sr')
        # nothing saved yet: "$" is empty, not an error
        u, t = self.ok(s, 'SEARCH $')
        self.assertEqual(u, [b'* SEARCH'])
        u, t = self.ok(s, 'FETCH $ UID')
        self.assertEqual(u, [])
        # SAVE alone: no ESEARCH response
        u, t = self.ok(s, 'SEARCH RETURN (SAVE) 2:4')
        self.assertEqual(u, [])
        u, t = self.ok(s, 'FETCH $ (UID)')
        self.assertEqual(sorted(re.findall(rb'^\* (\d+) FETCH', x)[0] for x in u),
                         [b'2', b'3', b'4'])
        u, t = self.ok(s, 'SEARCH $ SUBJECT t')
        self.assertEqual(u, [b'* SEARCH 2 3'])
        u, t = self.ok(s, 'SEARCH NOT $')
        self.assertEqual(u, [b'* SEARCH 1 5 6'])
        u, t = self.ok(s, 'SEARCH OR $ 6')
        self.assertEqual(u, [b'* SEARCH 2 3 4 6'])
        u, t = self.ok(s, 'UID SEARCH UID $')
        uids = u[0].split()[2:]
        self.assertEqual(len(uids), 3)
        # "$" as the value of a key is just text
        u, t = self.ok(s, 'SEARCH SUBJECT $')
        self.assertEqual(u, [b'* SEARCH 2'])
        # SAVE with other options: the ESEARCH answer and the save
        u, t = self.ok(s, 'SEARCH RETURN (SAVE COUNT) SUBJECT f')
        self.assertTrue(u[0].endswith(b') COUNT 2'), u)
        self.ok(s, 'STORE $ +FLAGS.SILENT (\\Flagged)')
        u, t = self.ok(s, 'SEARCH FLAGGED')
        self.assertEqual(u, [b'* SEARCH 4 5'])
        u, t = self.ok(s, 'COPY $ dest')
        self.assertIn(b'COPYUID', t)
        u, t = self.ok(s, 'STATUS dest (MESSAGES)')
        self.assertIn(b'* STATUS dest (MESSAGES 2)', u)
        # MIN and MAX only: just those two are saved
        u, t = self.ok(s, 'SEARCH RETURN (SAVE MIN MAX) 2:5')
        self.assertTrue(u[0].endswith(b') MIN 2 MAX 5'), u)
        u, t = self.ok(s, 'SEARCH $')
        self.assertEqual(u, [b'* SEARCH 2 5'])
        u, t = self.ok(s, 'SEARCH RETURN (SAVE MIN) 3:5')
        u, t = self.ok(s, 'SEARCH $')
        self.assertEqual(u, [b'* SEARCH 3'])
        # an expunged saved message drops out; numbers follow the rest
        self.ok(s, 'SEARCH RETURN (SAVE) 3,5')
        self.ok(s, 'STORE 1 +FLAGS.SILENT (\\Deleted)')
        self.ok(s, 'EXPUNGE')
        u, t = self.ok(s, 'SEARCH $')
        self.assertEqual(u, [b'* SEARCH 2 4'])
        # UID EXPUNGE $ and MOVE $
        self.ok(s, 'SEARCH RETURN (SAVE) 2')
        self.ok(s, 'STORE $ +FLAGS.SILENT (\\Deleted)')
        self.ok(s, 'STORE 1 +FLAGS.SILENT (\\Deleted)')
        u, t = self.ok(s, 'UID EXPUNGE $')
        self.assertEqual([x for x in u if b'EXPUNGE' in x], [b'* 2 EXPUNGE'])
        u, t = self.ok(s, 'SEARCH ALL')
        self.assertEqual(u, [b'* SEARCH 1 2 3 4'])
        self.ok(s, 'STORE 1 -FLAGS.SILENT (\\Deleted)')
        self.ok(s, 'SEARCH RETURN (SAVE) 4')
        u, t = self.ok(s, 'MOVE $ dest')
        self.assertIn(b'* 4 EXPUNGE', u)
        u, t = self.ok(s, 'STATUS dest (MESSAGES)')
        self.assertIn(b'* STATUS dest (MESSAGES 3)', u)
        # a SAVE that fails empties the result
        self.ok(s, 'SEARCH RETURN (SAVE) 1:2')
        u, t = s.cmd('SEARCH RETURN (SAVE) BOGUSKEY')
        self.assertTrue(t.startswith(b'BAD'), t)
        u, t = self.ok(s, 'SEARCH $')
        self.assertEqual(u, [b'* SEARCH'])
        # SELECT starts empty
        self.ok(s, 'SEARCH RETURN (SAVE) 1:2')
        self.ok(s, 'SELECT sr')
        u, t = self.ok(s, 'SEARCH $')
        self.assertEqual(u, [b'* SEARCH'])
        u, t = s.cmd('SEARCH RETURN (SAVE NOPE) ALL')
        self.assertTrue(t.startswith(b'BAD'), t)
        self.ok(s, 'LOGOUT')


class TestSortDisplay(Case):
    """RFC 5957 SORT=DISPLAY: DISPLAYFROM / DISPLAYTO sort by the decoded
    display name of the first address, else its addr-spec, case-folded;
    a missing field sorts as the empty string."""

    def test_sort_display(self):
        env = self.env()
        s = env.imap()
        self.assertIn(b'SORT=DISPLAY', caps_of(s.greeting_line))
        self.ok(s, 'CREATE sd')
        msgs = [
            (b'From: "zed" <aaa@example.org>\r\nTo: bob@example.org\r\n'),
            (b'From: =?UTF-8?Q?Norbert?= <zzz@example.org>\r\nTo: "Alice" <zz@example.org>\r\n'),
            (b'From: mike@example.org\r\nTo: "carol" <a@example.org>\r\n'),
            (b'To: "Dave" <b@example.org>\r\n'),
            (b'From: "Bert" <yyy@example.org>, "Aaron" <x@example.org>\r\nTo: ZOE@example.org\r\n'),
        ]
        for i, h in enumerate(msgs):
            u, t = s.append('sd', h + b'Subject: m%d\r\n\r\nbody\r\n' % (i + 1))
            self.assertTrue(t.startswith(b'OK'), t)
        self.ok(s, 'SELECT sd')
        # "" (none) < bert < mike@example.org < norbert (RFC 2047) < zed
        u, t = self.ok(s, 'SORT (DISPLAYFROM) UTF-8 ALL')
        self.assertEqual(u, [b'* SORT 4 5 3 2 1'])
        u, t = self.ok(s, 'SORT (REVERSE DISPLAYFROM) UTF-8 ALL')
        self.assertEqual(u, [b'* SORT 1 2 3 5 4'])
        # alice < bob@example.org < carol < dave < zoe@example.org
        u, t = self.ok(s, 'SORT (DISPLAYTO) UTF-8 ALL')
        self.assertEqual(u, [b'* SORT 2 1 3 4 5'])
        # FROM (RFC 5256) still sorts by addr-mailbox: "" aaa mike yyy zzz
        u, t = self.ok(s, 'SORT (FROM) UTF-8 ALL')
        self.assertEqual(u, [b'* SORT 4 1 3 5 2'])
        u, t = self.ok(s, 'SORT RETURN (MIN MAX) (DISPLAYTO) UTF-8 ALL')
        self.assertTrue(u[0].endswith(b') MIN 2 MAX 5'), u)

    def test_groups_sort_by_name(self):
        env = self.env()
        s = env.imap()
        self.ok(s, 'CREATE gr')
        for to in (b'"Mona" <zz@example.org>',      # mona
                   b'team: aa@example.org, "Ann" <b@example.org>;',  # team
                   b'nobody:;',                      # nobody
                   b'kim@example.org'):              # kim@example.org
            u, t = s.append('gr', b'To: ' + to + b'\r\nSubject: g\r\n\r\nb\r\n')
            self.assertTrue(t.startswith(b'OK'), t)
        self.ok(s, 'SELECT gr')
        u, t = self.ok(s, 'SORT (DISPLAYTO) UTF-8 ALL')
        self.assertEqual(u, [b'* SORT 4 1 3 2'])


class PipeSock:
    """a child's pipes as the socket-like object TLS and DEFLATE need"""

    def __init__(self, proc, pending=b''):
        self.proc = proc
        self.pending = pending

    def fileno(self):
        return self.proc.stdout.fileno()

    def sendall(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv(self, n):
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
            return data
        return os.read(self.fileno(), n)

    def readable(self, timeout):
        if self.pending:
            return True
        r, _, _ = select.select([self.fileno()], [], [], timeout)
        return bool(r)


class TlsPipe:
    """TLS over a PipeSock through memory BIOs"""

    def __init__(self, sock):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=False)
        self.plain = b''
        while True:
            try:
                self.obj.do_handshake()
                self._flush()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._feed(20)

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _feed(self, timeout):
        if not self.sock.readable(timeout):
            raise TimeoutError('no TLS data')
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('closed')
        self.inc.write(data)

    def sendall(self, data):
        self.obj.write(data)
        self._flush()

    def readable(self, timeout):
        if self.obj.pending():
            return True
        return self.sock.readable(timeout)

    def recv(self, n):
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self._flush()
                self._feed(20)
            except ssl.SSLZeroReturnError:
                return b''


class Deflate:
    """an IMAP client speaking raw DEFLATE (wbits -15) over a transport"""

    def __init__(self, t):
        self.t = t
        self.c = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.d = zlib.decompressobj(-15)
        self.buf = b''
        self.n = 0

    def send(self, data):
        self.t.sendall(self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH))

    def _more(self, deadline):
        if not self.t.readable(max(0.1, deadline - time.monotonic())):
            raise TimeoutError('no answer; have %r' % self.buf[-200:])
        data = self.t.recv(65536)
        if not data:
            raise EOFError('closed')
        self.buf += self.d.decompress(data)

    def cmd(self, text):
        self.n += 1
        tag = b'z%d' % self.n
        self.send(tag + b' ' + text + b'\r\n')
        deadline = time.monotonic() + 20
        while True:
            m = re.search(rb'(?m)^' + tag + rb' (.*)\r\n', self.buf)
            if m:
                out, self.buf = self.buf[:m.start()], self.buf[m.end():]
                return out, m.group(1)
            if time.monotonic() > deadline:
                raise TimeoutError('no tagged answer; have %r' % self.buf[-200:])
            self._more(deadline)


def raw_compress_ok(s, tag=b'c1'):
    """send COMPRESS DEFLATE in the clear, read its OK without reading
    past it; returns the status line and any bytes already read after"""
    s.send(tag + b' COMPRESS DEFLATE\r\n')
    line = s.readline()
    rest, s.buf = s.buf, b''
    return line, rest


class TestCompress(Case):
    """RFC 4978 COMPRESS=DEFLATE: raw DEFLATE both ways after the OK,
    offered after login only and not twice, above TLS after STARTTLS,
    corrupt input ends the session, and a decompression bomb does not
    make the server hold its inflated size."""

    def compressed_session(self, s):
        line, rest = raw_compress_ok(s)
        self.assertEqual(line, b'c1 OK DEFLATE active\r\n')
        return Deflate(PipeSock(s.proc, rest))

    def test_offered_after_login_only(self):
        env = self.env()
        s = env.imap(login=True)
        self.assertNotIn(b'COMPRESS=DEFLATE', caps_of(s.greeting_line))
        u, t = s.cmd('COMPRESS DEFLATE')
        self.assertTrue(t.startswith(b'BAD'), t)
        u, t = self.ok(s, 'LOGIN alice secret')
        self.assertIn(b'COMPRESS=DEFLATE', caps_of(t))
        for bad in ('COMPRESS', 'COMPRESS LZMA', 'COMPRESS DEFLATE extra'):
            u, t = s.cmd(bad)
            self.assertTrue(t.startswith(b'BAD'), (bad, t))
        z = self.compressed_session(s)
        u, t = z.cmd(b'CAPABILITY')
        self.assertTrue(t.startswith(b'OK'), t)
        self.assertNotIn(b'COMPRESS=DEFLATE', caps_of(u))
        u, t = z.cmd(b'COMPRESS DEFLATE')
        self.assertTrue(t.startswith(b'NO [COMPRESSIONACTIVE]'), t)
        u, t = z.cmd(b'LOGOUT')
        self.assertIn(b'* BYE', u)

    def test_commands_and_literals_compressed(self):
        for driver in DRIVERS:
            with self.subTest(driver=driver):
                env = self.env(driver)
                s = env.imap()
                z = self.compressed_session(s)
                u, t = z.cmd(b'CREATE zz')
                self.assertTrue(t.startswith(b'OK'), t)
                # a big, compressible message both ways, LITERAL+
                body = ''.join('line %06d of a long message\r\n' % i
                               for i in range(20000))
                msg = sample_message(1, body=body)
                u, t = z.cmd(b'APPEND zz {%d+}\r\n' % len(msg) + msg)
                self.assertTrue(t.startswith(b'OK'), t)
                u, t = z.cmd(b'SELECT zz')
                self.assertIn(b'* 1 EXISTS', u)
                u, t = z.cmd(b'FETCH 1 BODY.PEEK[]')
                self.assertTrue(t.startswith(b'OK'), t)
                self.assertIn(b'{%d}\r\n' % len(msg) + msg + b')', u)
                # pipelined commands in one compressed write
                z.send(b'p1 NOOP\r\np2 STATUS zz (MESSAGES)\r\n')
                u, t = z.cmd(b'NOOP')
                self.assertIn(b'p1 OK', u)
                self.assertIn(b'* STATUS zz (MESSAGES 1)', u)
                z.cmd(b'LOGOUT')

    def test_over_tls(self):
        env = MailEnv(tls=True)
        self.envs.append(env)
        s = env.imap(login=True)
        s.send(b'a STARTTLS\r\n')
        self.assertTrue(s.readline().startswith(b'a OK'))
        tls = TlsPipe(PipeSock(s.proc, s.buf))
        s.buf = b''
        tls.sendall(b'b LOGIN alice secret\r\n')
        got = b''
        while b'b OK' not in got:
            got += tls.recv(65536)
        self.assertIn(b'COMPRESS=DEFLATE', got)
        tls.sendall(b'c COMPRESS DEFLATE\r\n')
        got = b''
        while b'\r\n' not in got:
            got += tls.recv(65536)
        self.assertEqual(got, b'c OK DEFLATE active\r\n')
        z = Deflate(tls)
        u, t = z.cmd(b'LIST "" INBOX')
        self.assertTrue(t.startswith(b'OK'), t)
        self.assertIn(b'INBOX', u)
        u, t = z.cmd(b'LOGOUT')
        self.assertTrue(t.startswith(b'OK'), t)

    def test_corrupt_stream_ends_session(self):
        env = self.env()
        s = env.imap()
        line, rest = raw_compress_ok(s)
        self.assertTrue(line.startswith(b'c1 OK'))
        # a stored block whose length check (NLEN) is wrong
        s.send(b'\x00\x05\x00\x05\x00hello')
        self.assertTrue(s.expect_eof())
        self.assertIn('COMPRESS: corrupt input', env.log())

    def test_decompression_bomb_bounded(self):
        env = self.env()
        s = env.imap()
        z = self.compressed_session(s)
        # a 128 MB line inflates from ~130 KB: skipped as too long (twice:
        # 64 MB are discarded at a time), the session goes on
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        chunk = b'a' * (1 << 20)
        bomb = c.compress(b'z0 NOOP ')
        bomb += b''.join(c.compress(chunk) for _ in range(128))
        bomb += c.compress(b'\r\nz1 NOOP\r\n') + c.flush(zlib.Z_SYNC_FLUSH)
        self.assertLess(len(bomb), 1 << 20)
        z.c = c
        z.t.sendall(bomb)
        deadline = time.monotonic() + 60
        while b'z1 OK' not in z.buf:
            z._more(deadline)
        self.assertIn(b'z0 BAD Line too long', z.buf)
        with open('/proc/%d/status' % s.proc.pid) as f:
            hwm = [int(l.split()[1]) for l in f if l.startswith('VmHWM:')][0]
        # the inflated 128 MB never sat in memory
        self.assertLess(hwm, 100 * 1024, hwm)
        u, t = z.cmd(b'NOOP')
        self.assertTrue(t.startswith(b'OK'), t)

if __name__ == '__main__':
    unittest.main()

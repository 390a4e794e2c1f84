"""End-to-end scenarios for imapd: every command's success and error
paths, FETCH items and SEARCH keys against tests/data/imapd/corpus.mbox,
pipelining, literals, two sessions on one mailbox, IDLE, the built-in
listener, Python's imaplib, and hostile input.

imapd runs through tests/lib/cctest.py (cwrap wrappers: PREAUTH when
started as the test user, LOGIN when started as fake root).
CC_IMAPD_DRIVER=mbx runs the suite with another default driver."""

import imaplib
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from cctest import MailEnv, sample_message, have_binary  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'data', 'imapd', 'corpus.mbox')
DRIVER = os.environ.get('CC_IMAPD_DRIVER')


def corpus_messages():
    """(internaldate, CRLF message) for each message of corpus.mbox."""
    with open(CORPUS, 'rb') as f:
        data = f.read()
    out = []
    for chunk in re.split(rb'(?m)^From ', data)[1:]:
        first, _, rest = chunk.partition(b'\n')
        if rest.endswith(b'\n\n'):
            rest = rest[:-1]
        out.append(rest.replace(b'\n', b'\r\n'))
    return out


def make_env(**config):
    if DRIVER:
        config.setdefault('default-driver', DRIVER)
    return MailEnv(config=config or None)


def joined(untagged):
    return b'\n'.join(untagged)


@unittest.skipUnless(have_binary('imapd'), 'imapd not built')
class ImapdCase(unittest.TestCase):
    def setUp(self):
        self.env = make_env()

    def tearDown(self):
        self.env.close()

    def ok(self, s, cmd):
        u, t = s.cmd(cmd)
        self.assertTrue(t.startswith(b'OK'), (cmd, t, u))
        return u, t

    def load_corpus(self, s, mailbox='corpus'):
        self.ok(s, 'CREATE %s' % mailbox)
        for i, msg in enumerate(corpus_messages()):
            u, t = s.append(mailbox, msg, date='%02d-Mar-2020 12:00:00 +0000' % (i + 1))
            self.assertTrue(t.startswith(b'OK'), t)
        return len(corpus_messages())

    def selected(self, mailbox='corpus'):
        s = self.env.imap()
        self.n = self.load_corpus(s, mailbox)
        self.ok(s, 'SELECT %s' % mailbox)
        return s


class TestGreetingAndAuth(ImapdCase):
    def test_preauth_capability(self):
        s = self.env.imap()
        self.assertTrue(s.greeting_line.startswith(b'* PREAUTH [CAPABILITY IMAP4rev1'))
        u, t = self.ok(s, 'CAPABILITY')
        caps = u[0].split()
        for c in (b'IMAP4rev1', b'LITERAL+', b'IDLE', b'NAMESPACE', b'UIDPLUS',
                  b'UNSELECT', b'ID', b'ENABLE', b'MOVE', b'MULTIAPPEND', b'ESEARCH',
                  b'SORT', b'THREAD=REFERENCES', b'BINARY', b'CHILDREN'):
            self.assertIn(c, caps)
        self.assertNotIn(b'STARTTLS', caps)     # no certificate configured
        u, t = self.ok(s, 'NOOP')
        u, t = s.cmd('LOGOUT')
        self.assertEqual(u, [b'* BYE IMAP server logging out'])
        self.assertTrue(t.startswith(b'OK'))

    def test_login(self):
        with open(self.env.settings['alert-file'], 'w') as f:
            f.write('System maintenance tonight\n')
        s = self.env.imap(login=True)
        self.assertTrue(s.greeting_line.startswith(b'* OK [CAPABILITY IMAP4rev1'), s.greeting_line)
        self.assertIn(b'AUTH=PLAIN', s.greeting_line)
        u, t = s.cmd('SELECT INBOX')
        self.assertTrue(t.startswith(b'BAD'), t)
        u, t = s.cmd('LOGIN alice wrong')
        self.assertTrue(t.startswith(b'NO [AUTHENTICATIONFAILED]'), t)
        u, t = s.cmd('LOGIN alice secret')
        self.assertTrue(t.startswith(b'OK [CAPABILITY IMAP4rev1'), t)
        self.assertNotIn(b'AUTH=', t)
        self.assertIn(b'* OK [ALERT] System maintenance tonight', u)
        u, t = s.cmd('LOGIN alice secret')
        self.assertTrue(t.startswith(b'BAD'), t)
        self.ok(s, 'LOGOUT')
        self.assertIn('Login', self.env.log())

    def test_login_pam(self):
        self.env.write_config(auth_backends='pam')
        s = self.env.imap(login=True, pam=True)
        u, t = s.cmd('LOGIN alice wrong')
        self.assertTrue(t.startswith(b'NO'), t)
        u, t = s.cmd('LOGIN alice secret')
        self.assertTrue(t.startswith(b'OK'), t)
        self.ok(s, 'CREATE viapam')
        self.ok(s, 'LOGOUT')
        self.assertTrue(os.path.exists(self.env.path('viapam')))

    def test_login_literals(self):
        s = self.env.imap(login=True)
        s.send(b'a1 LOGIN {5}\r\n')
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(b'alice {6+}\r\nsecret\r\n')
        u, t = s.collect('a1')
        self.assertTrue(t.startswith(b'OK'), t)

    def test_too_many_failures(self):
        s = self.env.imap(login=True)
        for i in range(5):
            try:
                u, t = s.cmd('LOGIN alice wrong%d' % i)
            except Exception:
                break
            self.assertTrue(t.startswith(b'NO'), t)
            if any(line.startswith(b'* BYE') for line in u):
                break
        else:
            # the BYE follows the tagged NO
            pass
        s.expect_eof()

    def test_authenticate_plain(self):
        import base64
        tok = base64.b64encode(b'\0alice\0secret').decode()
        s = self.env.imap(login=True)
        u, t = s.cmd('AUTHENTICATE PLAIN ' + tok)
        self.assertTrue(t.startswith(b'OK'), t)
        s = self.env.imap(login=True)
        s.send(b'x AUTHENTICATE PLAIN\r\n')
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(tok.encode() + b'\r\n')
        u, t = s.collect('x')
        self.assertTrue(t.startswith(b'OK'), t)
        s = self.env.imap(login=True)
        s.send(b'y AUTHENTICATE PLAIN\r\n')
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(b'*\r\n')
        u, t = s.collect('y')
        self.assertTrue(t.startswith(b'BAD'), t)
        u, t = s.cmd('AUTHENTICATE NOSUCHMECH')
        self.assertTrue(t.startswith(b'NO'), t)
        # AUTHENTICATE LOGIN: two challenges
        s = self.env.imap(login=True)
        s.send(b'z AUTHENTICATE LOGIN\r\n')
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(base64.b64encode(b'alice') + b'\r\n')
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(base64.b64encode(b'secret') + b'\r\n')
        u, t = s.collect('z')
        self.assertTrue(t.startswith(b'OK'), t)
        # garbage base64 is BAD
        s = self.env.imap(login=True)
        s.send(b'w AUTHENTICATE PLAIN\r\n')
        s.readline()
        s.send(b'!!!notbase64!!!\r\n')
        u, t = s.collect('w')
        self.assertTrue(t.startswith(b'BAD') or t.startswith(b'NO'), t)

    def test_logindisabled(self):
        self.env.write_config(plaintext_logins='no')
        s = self.env.imap(login=True)
        self.assertIn(b'LOGINDISABLED', s.greeting_line)
        u, t = s.cmd('LOGIN alice secret')
        self.assertTrue(t.startswith(b'NO'), t)
        u, t = s.cmd('STARTTLS')
        self.assertTrue(t.startswith(b'NO'), t)

    def test_anonymous(self):
        open(self.env.settings['anonymous-file'], 'w').close()
        s = self.env.imap(login=True)
        u, t = s.cmd('LOGIN anonymous guest@example.org')
        if not t.startswith(b'OK'):
            self.skipTest('anonymous login not supported by auth: %r' % t)
        u, t = s.cmd('SELECT INBOX')
        self.assertTrue(t.startswith(b'NO [NOPERM]'), t)
        u, t = s.cmd('CREATE foo')
        self.assertTrue(t.startswith(b'NO'), t)

    def test_id_enable_namespace(self):
        s = self.env.imap()
        u, t = self.ok(s, 'ID ("name" "test")')
        self.assertTrue(u[0].startswith(b'* ID ('))
        u, t = self.ok(s, 'ID NIL')
        u, t = self.ok(s, 'ENABLE CONDSTORE')
        self.assertEqual(u, [b'* ENABLED'])
        u, t = self.ok(s, 'NAMESPACE')
        self.assertTrue(u[0].startswith(b'* NAMESPACE (("" "/"))'), u)


class TestMailboxes(ImapdCase):
    def test_create_delete_rename(self):
        s = self.env.imap()
        self.ok(s, 'CREATE work')
        u, t = s.cmd('CREATE work')
        self.assertTrue(t.startswith(b'NO [ALREADYEXISTS]'), t)
        u, t = s.cmd('CREATE INBOX')
        self.assertTrue(t.startswith(b'NO [ALREADYEXISTS]'), t)
        self.ok(s, 'RENAME work play')
        u, t = s.cmd('RENAME nosuch other')
        self.assertTrue(t.startswith(b'NO [NONEXISTENT]'), t)
        u, t = s.cmd('DELETE work')
        self.assertTrue(t.startswith(b'NO [NONEXISTENT]'), t)
        u, t = s.cmd('DELETE INBOX')
        self.assertTrue(t.startswith(b'NO'), t)
        self.ok(s, 'DELETE play')
        u, t = s.cmd('SELECT play')
        self.assertTrue(t.startswith(b'NO [NONEXISTENT]'), t)
        u, t = s.cmd('CREATE')
        self.assertTrue(t.startswith(b'BAD'), t)
        u, t = s.cmd(b'CREATE "\xc3\xa9t\xc3\xa9"')
        self.assertTrue(t.startswith(b'NO [CANNOT]'), t)
        u, t = s.cmd(b'CREATE {3+}\r\na\x01b')
        self.assertTrue(t.startswith(b'NO [CANNOT]'), t)
        u, t = s.cmd('CREATE "&AOk-t&AOk-"')      # modified UTF-7 is fine
        self.assertTrue(t.startswith(b'OK'), t)

    def test_rename_inbox(self):
        s = self.env.imap()
        for i in range(3):
            u, t = s.append('INBOX', sample_message(i + 1))
            self.assertTrue(t.startswith(b'OK'), t)
        self.ok(s, 'RENAME INBOX old')
        u, t = self.ok(s, 'STATUS old (MESSAGES)')
        self.assertIn(b'MESSAGES 3', u[0])
        u, t = self.ok(s, 'STATUS INBOX (MESSAGES)')
        self.assertIn(b'MESSAGES 0', u[0])

    def test_list_lsub(self):
        s = self.env.imap()
        self.ok(s, 'CREATE a/b')
        self.ok(s, 'CREATE c')
        u, t = self.ok(s, 'LIST "" ""')
        self.assertEqual(u, [b'* LIST (\\Noselect) "/" ""'])
        u, t = self.ok(s, 'LIST "" *')
        text = joined(u)
        self.assertIn(b'INBOX', text)
        self.assertIn(b'"/" a/b', text)
        self.assertIn(b'"/" c', text)
        u, t = self.ok(s, 'LIST "" %')
        self.assertNotIn(b'a/b', joined(u))
        self.ok(s, 'SUBSCRIBE c')
        u, t = self.ok(s, 'LSUB "" *')
        self.assertEqual(len(u), 1)
        self.assertTrue(u[0].startswith(b'* LSUB ('), u)
        self.ok(s, 'UNSUBSCRIBE c')
        u, t = self.ok(s, 'LSUB "" *')
        self.assertEqual(u, [])
        u, t = s.cmd('LIST ""')
        self.assertTrue(t.startswith(b'BAD'), t)

    def test_status(self):
        s = self.env.imap()
        n = self.load_corpus(s)
        u, t = self.ok(s, 'STATUS corpus (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)')
        self.assertRegex(u[0], rb'^\* STATUS corpus \(MESSAGES %d RECENT \d+ UIDNEXT %d '
                         rb'UIDVALIDITY \d+ UNSEEN %d\)$' % (n, n + 1, n))
        self.ok(s, 'SELECT corpus')
        # FAQ 7.39: STATUS on the selected mailbox works without complaint
        u, t = self.ok(s, 'STATUS corpus (MESSAGES)')
        self.assertEqual(u, [b'* STATUS corpus (MESSAGES %d)' % n])
        u, t = s.cmd('STATUS nosuch (MESSAGES)')
        self.assertTrue(t.startswith(b'NO'), t)
        u, t = s.cmd('STATUS corpus (BOGUS)')
        self.assertTrue(t.startswith(b'BAD'), t)

    def test_append(self):
        s = self.env.imap()
        self.ok(s, 'CREATE box')
        u, t = s.append('box', sample_message(1), flags='\\Seen $Label1',
                        date='05-Jan-2021 10:11:12 +0200')
        self.assertRegex(t, rb'^OK \[APPENDUID \d+ 1\]')
        u, t = s.append('nosuch', sample_message(2))
        self.assertTrue(t.startswith(b'NO [TRYCREATE]'), t)
        # MULTIAPPEND with non-synchronizing literals (LITERAL+)
        m1, m2 = sample_message(3), sample_message(4)
        s.send(b'm1 APPEND box (\\Flagged) {%d+}\r\n%s {%d+}\r\n%s\r\n' % (len(m1), m1, len(m2), m2))
        u, t = s.collect('m1')
        self.assertRegex(t, rb'^OK \[APPENDUID \d+ 2:3\]')
        u, t = s.cmd('APPEND box (\\Bogus) {3+}\r\nabc')
        self.assertTrue(t.startswith(b'BAD'), t)
        u, t = s.cmd('APPEND box "bad date" {3+}\r\nabc')
        self.assertTrue(t.startswith(b'BAD'), t)
        self.ok(s, 'SELECT box')
        u, t = self.ok(s, 'FETCH 1:* (FLAGS INTERNALDATE)')
        text = joined(u)
        self.assertIn(b'INTERNALDATE " 5-Jan-2021 10:11:12 +0200"', text)
        self.assertIn(b'$Label1', text)
        self.assertIn(b'\\Flagged', text)

    def test_append_to_selected_reports_exists(self):
        s = self.env.imap()
        self.ok(s, 'CREATE box')
        self.ok(s, 'SELECT box')
        u, t = s.append('box', sample_message(1))
        self.assertIn(b'* 1 EXISTS', u)


class TestFetch(ImapdCase):
    def fetch(self, s, cmd):
        u, t = self.ok(s, cmd)
        return joined(u)

    def test_envelope_and_flags(self):
        s = self.selected()
        r = self.fetch(s, 'FETCH 1 (ENVELOPE)')
        self.assertIn(b'"Quarterly report"', r)
        self.assertIn(b'("Alice Example" NIL "alice" "example.org")', r)
        self.assertIn(b'("Dave, Jr." NIL "dave" "example.com")', r)
        self.assertIn(b'"<report-1@example.org>"', r)
        r = self.fetch(s, 'FETCH 4 ENVELOPE')
        # the group "undisclosed-recipients:;"
        self.assertIn(b'(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)', r)
        r = self.fetch(s, 'FETCH 5 ENVELOPE')
        self.assertIn(b'((NIL NIL "list-bounces" "lists.example.com"))', r)
        r = self.fetch(s, 'FETCH 6 ENVELOPE')
        self.assertTrue(r.startswith(b'* 6 FETCH (ENVELOPE (NIL "Re: [list] Meeting on Friday"'), r)
        r = self.fetch(s, 'FETCH 1:* FAST')
        self.assertEqual(r.count(b'RFC822.SIZE'), self.n)
        r = self.fetch(s, 'FETCH 2 ALL')
        for item in (b'FLAGS', b'INTERNALDATE', b'RFC822.SIZE', b'ENVELOPE'):
            self.assertIn(item, r)
        r = self.fetch(s, 'FETCH 2 FULL')
        self.assertIn(b' BODY (', r)

    def test_rfc822_size_matches_body(self):
        s = self.selected()
        msgs = corpus_messages()
        for i in range(1, self.n + 1):
            r = self.fetch(s, 'FETCH %d (RFC822.SIZE BODY.PEEK[])' % i)
            m = re.search(rb'RFC822.SIZE (\d+)', r)
            self.assertEqual(int(m.group(1)), len(msgs[i - 1]))
            self.assertIn(msgs[i - 1], r)

    def test_bodystructure(self):
        s = self.selected()
        r = self.fetch(s, 'FETCH 2 BODYSTRUCTURE')
        self.assertRegex(r, rb'(?i)"ALTERNATIVE" \("BOUNDARY" "alt-boundary"\)')
        self.assertIn(b'"QUOTED-PRINTABLE"', r)
        r = self.fetch(s, 'FETCH 3 BODYSTRUCTURE')
        self.assertRegex(r, rb'(?i)\("APPLICATION" "PDF" \("NAME" "report.pdf"\) "<part2@example.org>" "Q1 report" "BASE64" \d+ ')
        self.assertRegex(r, rb'(?i)\("ATTACHMENT" \("FILENAME" "report.pdf"\)\)')
        self.assertIn(b'"en"', r)
        r = self.fetch(s, 'FETCH 4 BODYSTRUCTURE')
        self.assertIn(b'"MESSAGE" "RFC822"', r)
        self.assertIn(b'"<report-1@example.org>"', r)   # the inner envelope
        r = self.fetch(s, 'FETCH 3 BODY')
        self.assertNotIn(b'ATTACHMENT', r)               # no extension data

    def test_sections(self):
        s = self.selected()
        r = self.fetch(s, 'FETCH 2 BODY.PEEK[1]')
        self.assertIn(b'Gr=C3=BC=C3=9Fe aus Berlin, das Wetter', r)
        r = self.fetch(s, 'FETCH 2 BODY.PEEK[2.MIME]')
        self.assertIn(b'Content-Type: text/html', r)
        r = self.fetch(s, 'FETCH 4 BODY.PEEK[2.HEADER]')
        self.assertIn(b'Subject: Quarterly report', r)
        self.assertNotIn(b'Fwd:', r)
        r = self.fetch(s, 'FETCH 4 BODY.PEEK[2.TEXT]')
        self.assertTrue(b'--inner' in r and b'Subject:' not in r, r)
        r = self.fetch(s, 'FETCH 4 BODY.PEEK[2.2]')
        self.assertIn(b'<p>inner html</p>', r)
        r = self.fetch(s, 'FETCH 4 BODY.PEEK[2.1]')
        self.assertIn(b'inner plain text', r)
        r = self.fetch(s, 'FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject To)]')
        self.assertRegex(r, rb'(?i)BODY\[HEADER.FIELDS \(SUBJECT TO\)\] \{')
        self.assertIn(b'Subject: Quarterly report\r\n', r)
        self.assertNotIn(b'Message-ID', r)
        r = self.fetch(s, 'FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Subject To Cc)]')
        self.assertNotIn(b'Subject:', r)
        self.assertIn(b'Message-ID: <report-1@example.org>', r)
        r = self.fetch(s, 'FETCH 1 BODY.PEEK[TEXT]<0.5>')
        self.assertIn(b'BODY[TEXT]<0> {5}\r\nHello', r)
        r = self.fetch(s, 'FETCH 1 BODY.PEEK[]<100000.10>')
        self.assertIn(b'BODY[]<100000> {0}', r)
        r = self.fetch(s, 'FETCH 1 (RFC822.HEADER)')
        self.assertIn(b'RFC822.HEADER {', r)
        self.assertTrue(r.rstrip(b')').endswith(b'\r\n\r\n'), r[-40:])
        r = self.fetch(s, 'FETCH 6 BODY.PEEK[HEADER.FIELDS (X-LONG-HEADER)]')
        self.assertIn(b'X-Long-Header: this header is folded\r\n over several lines', r)
        r = self.fetch(s, 'FETCH 1 BODY.PEEK[9]')
        self.assertIn(b'BODY[9]', r)
        for bad in ('BODY[1.HEADER.FIELDS ()]', 'BODY[MIME]', 'BODY[0]', 'BODY[TEXT]<5>',
                    'BODY[1', 'BOGUS', 'BODY[HEADER.FIELDS (a:b)]', 'BINARY[1.TEXT]'):
            u, t = s.cmd('FETCH 1 ' + bad)
            self.assertTrue(t.startswith(b'BAD'), (bad, t))

    def test_binary(self):
        s = self.selected()
        r = self.fetch(s, 'FETCH 3 (BINARY.PEEK[2] BINARY.SIZE[2])')
        self.assertIn(b'%PDF-1.4', r)
        self.assertIn(b'Hello PDF', r)
        m = re.search(rb'BINARY.SIZE\[2\] (\d+)', r)
        self.assertEqual(int(m.group(1)), 79)
        r = self.fetch(s, 'FETCH 2 BINARY.PEEK[1]')
        self.assertIn('Grüße aus Berlin'.encode(), r)
        r = self.fetch(s, 'FETCH 3 BINARY.PEEK[2]<0.4>')
        self.assertIn(b'BINARY[2]<0> {4}\r\n%PDF', r)

    def test_seen_implicit(self):
        s = self.selected()
        r = self.fetch(s, 'FETCH 1 BODY.PEEK[]')
        self.assertNotIn(b'\\Seen', r)
        r = self.fetch(s, 'FETCH 1 BODY[TEXT]')
        self.assertIn(b'FLAGS (\\Seen', r)
        r = self.fetch(s, 'FETCH 2 RFC822.TEXT')
        self.assertIn(b'\\Seen', r)
        r = self.fetch(s, 'FETCH 3 RFC822')
        self.assertIn(b'\\Seen', r)
        r = self.fetch(s, 'FETCH 4 RFC822.HEADER')
        self.assertNotIn(b'\\Seen', r)
        # read-only: no implicit \Seen
        self.ok(s, 'EXAMINE corpus')
        r = self.fetch(s, 'FETCH 5 BODY[]')
        self.assertNotIn(b'\\Seen', r)

    def test_uid_fetch(self):
        s = self.selected()
        r = self.fetch(s, 'UID FETCH 1:* FLAGS')
        self.assertEqual(r.count(b'UID '), self.n)
        # 4294967295 is a UID like any other, not "*" (RFC 3501 9)
        u, t = self.ok(s, 'UID FETCH 4294967295 FLAGS')
        self.assertEqual(u, [])
        r = self.fetch(s, 'UID FETCH 4294967295:* FLAGS')
        self.assertIn(b'UID %d' % self.n, r)
        u, t = self.ok(s, 'UID FETCH 1000:2000 FLAGS')
        self.assertEqual(u, [])
        u, t = s.cmd('FETCH 99 FLAGS')
        self.assertTrue(t.startswith(b'BAD'), t)
        u, t = s.cmd('FETCH 1:4294967295 UID')
        self.assertTrue(t.startswith(b'BAD'), t)  # as FETCH 99
        u, t = self.ok(s, 'FETCH 1:* UID')
        self.assertEqual(len(u), self.n)

    def test_nul_to_0x80(self):
        self.env.write_config(nul_to_0x80='yes')
        s = self.env.imap()
        self.ok(s, 'CREATE nul')
        u, t = s.append('nul', b'Subject: nul\r\n\r\na\x00b\r\n')
        self.ok(s, 'SELECT nul')
        r = self.fetch(s, 'FETCH 1 BODY[TEXT]')
        self.assertIn(b'a\x80b', r)


class TestStoreSearch(ImapdCase):
    def test_store(self):
        s = self.selected()
        u, t = self.ok(s, 'STORE 1 +FLAGS (\\Flagged $Work)')
        text = joined(u)
        self.assertIn(b'* FLAGS (', text)
        self.assertIn(b'$Work', text)
        self.assertRegex(text, rb'\* 1 FETCH \(FLAGS \([^)]*\\Flagged')
        u, t = self.ok(s, 'STORE 1:2 +FLAGS.SILENT (\\Answered)')
        self.assertEqual(u, [])
        u, t = self.ok(s, 'STORE 1 -FLAGS \\Flagged')
        self.assertNotIn(b'\\Flagged', joined(u))
        u, t = self.ok(s, 'STORE 2 FLAGS (\\Draft)')
        self.assertIn(b'FLAGS (\\Draft', joined(u))
        u, t = self.ok(s, 'UID STORE 3 +FLAGS (\\Seen)')
        self.assertIn(b'UID 3', joined(u))
        for bad in ('STORE 1 +FLAGS (\\Recent)', 'STORE 1 +FLAGS (\\Bogus)',
                    'STORE 1 XFLAGS (\\Seen)', 'STORE x FLAGS (\\Seen)', 'STORE 1'):
            u, t = s.cmd(bad)
            self.assertTrue(t.startswith(b'BAD'), (bad, t))
        self.ok(s, 'EXAMINE corpus')
        u, t = s.cmd('STORE 1 +FLAGS (\\Seen)')
        self.assertTrue(t.startswith(b'NO'), t)

    def test_search(self):
        s = self.selected()
        self.ok(s, 'STORE 2 +FLAGS (\\Flagged)')

        def search(crit):
            u, t = self.ok(s, 'SEARCH ' + crit)
            line = [x for x in u if x.startswith(b'* SEARCH')][0]
            return [int(x) for x in line.split()[2:]]
        self.assertEqual(search('ALL'), list(range(1, self.n + 1)))
        self.assertEqual(search('FLAGGED'), [2])
        self.assertEqual(search('UNFLAGGED'), [1, 3, 4, 5, 6])
        self.assertEqual(search('SUBJECT "quarterly report"'), [1, 3, 4])
        self.assertEqual(search('FROM carol'), [5])
        self.assertEqual(search('TO bob'), [1, 3])
        self.assertEqual(search('HEADER X-Mailing-List list@lists'), [5])
        self.assertEqual(search('BODY "forwarded message"'), [4])
        self.assertEqual(search('OR FROM dave FROM carol'), [5, 6])
        self.assertEqual(search('NOT SUBJECT report'), [2, 5, 6])
        self.assertEqual(search('2:3'), [2, 3])
        self.assertEqual(search('UID 1,6'), [1, 6])
        self.assertEqual(search('SENTBEFORE 17-Mar-2020 SENTSINCE 15-Mar-2020'), [1, 2])
        self.assertEqual(search('LARGER 700'), [3, 4])
        self.assertEqual(search('YOUNGER 3600'), [])
        self.assertEqual(search('OLDER 3600'), list(range(1, self.n + 1)))
        u, t = self.ok(s, 'SEARCH CHARSET UTF-8 TEXT "Grüße"'.encode('utf-8'))
        self.assertEqual(u, [b'* SEARCH 2'])
        u, t = self.ok(s, b'SEARCH CHARSET UTF-8 SUBJECT {7+}\r\nGr\xc3\xbc\xc3\x9fe')
        self.assertEqual(u, [b'* SEARCH 2'])
        u, t = self.ok(s, 'UID SEARCH FLAGGED')
        self.assertEqual(u, [b'* SEARCH 2'])
        u, t = self.ok(s, 'SEARCH RETURN (MIN MAX COUNT) SUBJECT report')
        self.assertRegex(u[0], rb'^\* ESEARCH \(TAG "a\d+"\) MIN 1 MAX 4 COUNT 3$')
        u, t = self.ok(s, 'UID SEARCH RETURN () SUBJECT report')
        self.assertRegex(u[0], rb'^\* ESEARCH \(TAG "a\d+"\) UID ALL 1,3:4$')
        u, t = s.cmd('SEARCH CHARSET X-NOSUCH ALL')
        self.assertTrue(t.startswith(b'NO [BADCHARSET'), t)
        for bad in ('SEARCH BOGUS', 'SEARCH', 'SEARCH ((((ALL', 'SEARCH RETURN (FOO) ALL'):
            u, t = s.cmd(bad)
            self.assertTrue(t.startswith(b'BAD'), (bad, t))

    def test_search_keys(self):
        s = self.selected()
        for cmd in ('STORE 1 +FLAGS (\\Seen)', 'STORE 3 +FLAGS (\\Answered)',
                    'STORE 4 +FLAGS (\\Deleted)', 'STORE 5 +FLAGS (\\Draft)',
                    'STORE 6 +FLAGS ($Work)'):
            self.ok(s, cmd)
        every = list(range(1, self.n + 1))

        def others(*xs):
            return [x for x in every if x not in xs]
        table = [
            ('ANSWERED', [3]), ('UNANSWERED', others(3)),
            ('DELETED', [4]), ('UNDELETED', others(4)),
            ('DRAFT', [5]), ('UNDRAFT', others(5)),
            ('SEEN', [1]), ('UNSEEN', others(1)),
            ('KEYWORD $Work', [6]), ('UNKEYWORD $Work', others(6)),
            ('RECENT', every), ('NEW', others(1)), ('OLD', []),
            ('CC dave', [1]), ('BCC nobody', []),
            ('BEFORE 03-Mar-2020', [1, 2]), ('ON 03-Mar-2020', [3]),
            ('SINCE 05-Mar-2020', [5, 6]), ('SENTON 16-Mar-2020', [2]),
            ('SENTSINCE 19-Mar-2020', [5]),
            ('SMALLER 400', [1, 6]), ('TEXT quarterly', [1, 3, 4]),
            ('HEADER Message-ID meet', [5, 6]), ('*', [self.n]),
            ('UID 2:3', [2, 3]), ('ALL NOT ALL', []),
            ('CHARSET UTF-8 FROM "J\u00fcrgen"', [2]),
            ('CHARSET UTF-8 BODY "Caf\u00e9"', [5]),
            ('BODY "inner plain"', [4]),
        ]
        for crit, want in table:
            u, t = self.ok(s, ('SEARCH ' + crit).encode('utf-8'))
            got = [int(x) for x in u[0].split()[2:]]
            self.assertEqual(got, want, crit)

    def test_sort_thread(self):
        s = self.selected()
        u, t = self.ok(s, 'SORT (SUBJECT) UTF-8 ALL')
        self.assertTrue(u[0].startswith(b'* SORT '), u)
        self.assertEqual(sorted(int(x) for x in u[0].split()[2:]), list(range(1, self.n + 1)))
        u, t = self.ok(s, 'SORT (REVERSE ARRIVAL) UTF-8 ALL')
        self.assertEqual(u[0], b'* SORT 6 5 4 3 2 1')
        u, t = self.ok(s, 'UID SORT (FROM) UTF-8 FROM example')
        self.assertTrue(u[0].startswith(b'* SORT'), u)
        u, t = self.ok(s, 'THREAD REFERENCES UTF-8 ALL')
        self.assertTrue(u[0].startswith(b'* THREAD '), u)
        self.assertIn(b'(5 6)', u[0])
        u, t = self.ok(s, 'THREAD ORDEREDSUBJECT UTF-8 ALL')
        self.assertTrue(u[0].startswith(b'* THREAD'), u)
        u, t = s.cmd('THREAD BOGUS UTF-8 ALL')
        self.assertTrue(t.startswith(b'BAD'), t)
        u, t = s.cmd('SORT (BOGUS) UTF-8 ALL')
        self.assertTrue(t.startswith(b'BAD'), t)

    def test_copy_move_expunge(self):
        s = self.selected()
        self.ok(s, 'CREATE dest')
        u, t = self.ok(s, 'COPY 1:2 dest')
        self.assertRegex(t, rb'^OK \[COPYUID \d+ 1:2 1:2\]')
        u, t = s.cmd('COPY 1 nosuch')
        self.assertTrue(t.startswith(b'NO [TRYCREATE]'), t)
        u, t = self.ok(s, 'UID MOVE 3 dest')
        self.assertRegex(u[0], rb'^\* OK \[COPYUID \d+ 3 3\]')
        self.assertIn(b'* 3 EXPUNGE', u)
        u, t = self.ok(s, 'MOVE 1 dest')
        self.assertIn(b'* 1 EXPUNGE', u)
        u, t = self.ok(s, 'STATUS dest (MESSAGES)')
        self.assertIn(b'MESSAGES 4', u[0])
        # remaining: old 2 4 5 6 -> seq 1..4
        self.ok(s, 'STORE 1,3 +FLAGS.SILENT (\\Deleted)')
        u, t = self.ok(s, 'UID EXPUNGE 5')      # only UID 5 (seq 3)
        self.assertEqual([x for x in u if b'EXPUNGE' in x], [b'* 3 EXPUNGE'])
        u, t = self.ok(s, 'EXPUNGE')
        self.assertEqual([x for x in u if b'EXPUNGE' in x], [b'* 1 EXPUNGE'])
        self.ok(s, 'STORE 1 +FLAGS.SILENT (\\Deleted)')
        u, t = self.ok(s, 'CLOSE')
        self.assertEqual(u, [])                  # silent expunge
        u, t = self.ok(s, 'STATUS corpus (MESSAGES)')
        self.assertIn(b'MESSAGES 1', u[0])
        u, t = s.cmd('FETCH 1 FLAGS')
        self.assertTrue(t.startswith(b'BAD'), t)

    def test_unselect_examine(self):
        s = self.selected()
        self.ok(s, 'STORE 1 +FLAGS.SILENT (\\Deleted)')
        self.ok(s, 'UNSELECT')
        u, t = self.ok(s, 'EXAMINE corpus')
        self.assertIn(b'READ-ONLY', t)
        self.assertIn(b'* OK [PERMANENTFLAGS ()] No permanent flags permitted', u)
        u, t = s.cmd('EXPUNGE')
        self.assertTrue(t.startswith(b'NO'), t)
        self.ok(s, 'CLOSE')
        u, t = self.ok(s, 'STATUS corpus (MESSAGES)')
        self.assertIn(b'MESSAGES %d' % self.n, u[0])


class TestSessions(ImapdCase):
    def test_two_sessions(self):
        a = self.selected()
        b = self.env.imap()
        self.ok(b, 'SELECT corpus')
        self.ok(b, 'STORE 2 +FLAGS.SILENT (\\Flagged)')
        u, t = self.ok(a, 'NOOP')
        self.assertRegex(joined(u), rb'\* 2 FETCH \((UID 2 )?FLAGS \([^)]*\\Flagged')
        self.ok(b, 'STORE 1 +FLAGS.SILENT (\\Deleted)')
        self.ok(b, 'EXPUNGE')
        u, t = self.ok(a, 'FETCH 1:2 FLAGS')
        self.assertNotIn(b'EXPUNGE', joined(u))  # RFC 3501 7.4.1
        u, t = self.ok(a, 'NOOP')
        self.assertIn(b'* 1 EXPUNGE', u)
        bu, bt = b.append('corpus', sample_message(9))
        u, t = self.ok(a, 'NOOP')
        self.assertIn(b'* %d EXISTS' % self.n, u)

    def test_idle(self):
        a = self.selected()
        b = self.env.imap()
        a.send(b'i1 IDLE\r\n')
        self.assertTrue(a.readline().startswith(b'+ '))
        b.append('corpus', sample_message(9))
        line = a.readline()
        while line.startswith(b'* ') and b'EXISTS' not in line:
            line = a.readline()
        self.assertEqual(line.rstrip(), b'* %d EXISTS' % (self.n + 1))
        a.send(b'DONE\r\n')
        u, t = a.collect('i1')
        self.assertTrue(t.startswith(b'OK'), t)
        a.send(b'i2 IDLE\r\n')
        a.readline()
        a.send(b'NOTDONE\r\n')
        u, t = a.collect('i2')
        self.assertTrue(t.startswith(b'BAD'), t)

    def test_idle_fake_new_mail(self):
        s = self.env.imap(args=['-o', 'imap-idle-fake-new-mail=2'])
        self.ok(s, 'CREATE idle')
        self.ok(s, 'SELECT idle')
        s.send(b'i IDLE\r\n')
        self.assertTrue(s.readline().startswith(b'+ '))
        self.assertEqual(s.readline().rstrip(), b'* 1 EXISTS')
        s.send(b'DONE\r\n')
        u, t = s.collect('i')
        self.assertEqual(u, [b'* 1 EXPUNGE'])
        self.assertTrue(t.startswith(b'OK'))

    def test_autologout_and_eof(self):
        s = self.env.imap(args=['-o', 'imap-autologout=1'])
        line = s.readline()
        self.assertTrue(line.startswith(b'* BYE Autologout'), line)
        s.expect_eof()
        self.assertIn('Autologout', self.env.log())
        s = self.env.imap()
        s.proc.stdin.close()
        s.proc.wait(timeout=10)
        self.assertIn('Command stream end of file, while reading line', self.env.log())

    def test_large_fetch_is_linear(self):
        s = self.env.imap()
        self.ok(s, 'CREATE big')
        n = 20000
        for start in range(0, n, 1000):
            parts = [b'x APPEND big']
            for i in range(start, start + 1000):
                m = sample_message(i)
                parts.append(b' {%d+}\r\n' % len(m) + m)
            s.send(b''.join(parts) + b'\r\n')
            u, t = s.collect('x')
            self.assertTrue(t.startswith(b'OK'), t)
        self.ok(s, 'SELECT big')
        t0 = time.monotonic()
        u, t = self.ok(s, 'FETCH 1:* (UID FLAGS RFC822.SIZE)')
        self.assertEqual(len(u), n)
        u, t = self.ok(s, 'UID FETCH 1:* (ENVELOPE)')
        self.assertEqual(len(u), n)
        self.assertLess(time.monotonic() - t0, 20)

    def test_kiss_of_death(self):
        # FAQ 7.19: a second read-write session on a single-writer mbox
        # tells the first one to go away
        self.env.write_config(mbox_single_writer='yes')
        a = self.env.imap()
        a.append('INBOX', sample_message(1))
        u, t = a.cmd('SELECT INBOX')
        if not t.startswith(b'OK'):
            self.skipTest('INBOX not available: %r' % t)
        b = self.env.imap()
        # b waits for a to give way; a, idle between commands, obeys at once
        u, t = b.cmd('SELECT INBOX')
        line = a.read_response_line()
        self.assertEqual(line, b'* BYE Killed (lost mailbox lock)')
        a.expect_eof()
        self.assertIn('Killed (lost mailbox lock)', self.env.log())
        self.assertTrue(t.startswith(b'OK'), t)
        self.assertIn(b'READ-WRITE', t)

    def test_pipelining(self):
        s = self.env.imap()
        s.send(b'p1 CREATE pipe\r\np2 SELECT pipe\r\np3 NOOP\r\np4 BOGUS\r\n'
               b'p5 APPEND pipe {5+}\r\nhello\r\np6 CHECK\r\np7 LOGOUT\r\n')
        tags = []
        while True:
            line = s.read_response_line()
            if not line.startswith(b'*'):
                tags.append(line.split()[0])
                if line.startswith(b'p7 '):
                    break
        self.assertEqual(tags, [b'p1', b'p2', b'p3', b'p4', b'p5', b'p6', b'p7'])

    def test_listener_as_ordinary_user(self):
        """-l started as a user (run-demo without root): clients log in,
        but only as a user with the server's own uid"""
        port, proc = self.env.listen('imapd', as_user=True)
        s = self.env.connect(port)
        self.assertTrue(s.greeting().startswith(b'* OK [CAPABILITY'))
        u, t = s.cmd('LOGIN bob bobpass')           # another uid
        self.assertTrue(t.startswith(b'NO'), t)
        self.assertIn(b'Login failed', t)
        u, t = s.cmd('LOGIN alice secret')          # the server's own uid
        self.assertTrue(t.startswith(b'OK'), t)
        u, t = s.cmd('SELECT INBOX')
        self.assertTrue(t.startswith(b'OK'), t)
        self.ok(s, 'LOGOUT')
        s.close()
        self.assertIn('not the user the server runs as', self.env.log())

    def test_listener_and_imaplib(self):
        port, proc = self.env.listen('imapd')
        s = self.env.connect(port)
        self.assertTrue(s.greeting().startswith(b'* OK [CAPABILITY'))
        u, t = s.cmd('LOGIN alice secret')
        self.assertTrue(t.startswith(b'OK'), t)
        self.ok(s, 'LOGOUT')
        m = imaplib.IMAP4('127.0.0.1', port)
        try:
            m.login('alice', 'secret')
            typ, _ = m.create('lib')
            self.assertEqual(typ, 'OK')
            typ, data = m.append('lib', '(\\Seen)', None, sample_message(1))
            self.assertEqual(typ, 'OK')
            typ, data = m.select('lib')
            self.assertEqual(data, [b'1'])
            typ, data = m.search(None, 'SUBJECT', '"Test message 1"')
            self.assertEqual(data, [b'1'])
            typ, data = m.fetch('1', '(RFC822)')
            self.assertEqual(data[0][1], sample_message(1))
            typ, data = m.uid('FETCH', '1', '(FLAGS)')
            self.assertIn(b'\\Seen', data[0])
            typ, data = m.store('1', '+FLAGS', '\\Deleted')
            self.assertEqual(typ, 'OK')
            typ, data = m.expunge()
            self.assertEqual(data, [b'1'])
            m.close()
        finally:
            m.logout()


@unittest.skipUnless(have_binary('imapd'), 'imapd not built')
class TestTls(unittest.TestCase):
    def setUp(self):
        try:
            self.env = MailEnv(tls=True, config={'plaintext-logins': 'tls-only'})
        except Exception as e:      # no openssl binary
            self.skipTest('cannot make a certificate: %s' % e)

    def tearDown(self):
        self.env.close()

    def context(self):
        import ssl
        ctx = ssl.create_default_context(cafile=self.env.cert)
        ctx.check_hostname = False
        return ctx

    def test_starttls(self):
        port, proc = self.env.listen('imapd')
        s = self.env.connect(port)
        g = s.greeting()
        self.assertIn(b'STARTTLS', g)
        self.assertIn(b'LOGINDISABLED', g)
        u, t = s.cmd('LOGIN alice secret')
        self.assertTrue(t.startswith(b'NO'), t)
        m = imaplib.IMAP4('127.0.0.1', port)
        try:
            m.starttls(ssl_context=self.context())
            typ, caps = m.capability()
            self.assertNotIn(b'STARTTLS', caps[0])
            self.assertNotIn(b'LOGINDISABLED', caps[0])
            m.login('alice', 'secret')
            typ, data = m.namespace()
            self.assertEqual(typ, 'OK')
        finally:
            m.logout()

    def test_starttls_discards_injected_commands(self):
        import ssl
        port, proc = self.env.listen('imapd')
        s = self.env.connect(port)
        s.greeting()
        # a command pipelined after STARTTLS in the clear must be ignored
        s.send(b'a STARTTLS\r\nb LOGIN alice secret\r\n')
        line = s.readline()
        self.assertTrue(line.startswith(b'a OK'), line)
        tls = self.context().wrap_socket(s.sock)
        tls.sendall(b'c NOOP\r\n')
        data = b''
        while b'c OK' not in data:
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
        self.assertNotIn(b'b OK', data)
        self.assertIn(b'c OK', data)
        tls.close()

    def test_implicit_tls(self):
        port, proc = self.env.listen('imapd', args=['-s'])
        import socket
        raw = socket.create_connection(('127.0.0.1', port), timeout=10)
        tls = self.context().wrap_socket(raw)
        greeting = tls.recv(4096)
        self.assertTrue(greeting.startswith(b'* OK [CAPABILITY'), greeting)
        self.assertNotIn(b'STARTTLS', greeting)
        tls.sendall(b'a LOGIN alice secret\r\n')
        data = b''
        while b'a ' not in data:
            data += tls.recv(4096)
        self.assertIn(b'a OK', data)
        tls.close()


class TestScenarios(ImapdCase):
    """tests/data/imapd/*.scenario: C: lines sent (consecutive ones in one
    write), S: lines are regular expressions for the server's lines."""

    def run_scenario(self, path):
        s = self.env.imap()
        with open(path, 'rb') as f:
            lines = [x.rstrip(b'\r\n') for x in f]
        pending = []
        for n, line in enumerate(lines, 1):
            if line.startswith(b'#') or not line.strip():
                continue
            kind, body = line[:3], line[3:]
            if kind == b'G: ':
                self.assertRegex(s.greeting_line, b'^' + body + b'$')
            elif kind in (b'C: ', b'C:'):
                pending.append(body + b'\r\n')
            elif kind == b'S: ':
                if pending:
                    s.send(b''.join(pending))
                    pending = []
                got = s.readline().rstrip(b'\r\n')
                self.assertTrue(re.fullmatch(body, got),
                                '%s:%d: expected %r got %r' % (path, n, body, got))
            else:
                self.fail('%s:%d: bad scenario line %r' % (path, n, line))

    def test_scenarios(self):
        d = os.path.join(HERE, 'data', 'imapd')
        names = sorted(x for x in os.listdir(d) if x.endswith('.scenario'))
        self.assertTrue(names)
        for name in names:
            with self.subTest(scenario=name):
                self.run_scenario(os.path.join(d, name))


class TestHostile(ImapdCase):
    def test_hostile_input(self):
        s = self.env.imap(args=['-o', 'max-line-length=1000', '-o', 'max-literal-size=100'])
        s.send(b'a ' + b'x' * 5000 + b'\r\n')
        line = s.read_response_line()
        self.assertIn(b'BAD', line)
        self.assertIn(b'Line too long', line)
        self.ok(s, 'NOOP')                  # the session carries on
        s.send(b'b APPEND INBOX {1000}\r\n')
        line = s.read_response_line()
        self.assertTrue(line.startswith(b'b NO [TOOBIG]'), line)
        s.send(b'c APPEND INBOX {1000+}\r\n' + b'y' * 1000 + b'\r\n')
        line = s.read_response_line()
        self.assertTrue(line.startswith(b'c NO [TOOBIG]'), line)
        self.ok(s, 'NOOP')
        for bad in (b'd SEARCH ' + b'(' * 200 + b'ALL' + b')' * 200,
                    b'e LIST "" "\xff\xfe"', b'f FETCH 1:4294967295 FLAGS',
                    b'e2 CREATE "\xc3\xa9t\xc3\xa9"', b'e3 CREATE {3+}\r\na\x01b',
                    b'e4 SELECT ""', b'e5 RENAME INBOX "\xff"',
                    b'g SELECT "a\x00b"', b'h FETCH', b'i UID BOGUS', b'j',
                    b'k SEARCH CHARSET UTF-8 TEXT "\xc3\x28"', b'l STORE 1:* FLAGS ()',
                    b'm FETCH * BODY[' + b'1.' * 100 + b'1]', b'(bad-tag NOOP',
                    b'n ID (' + b'"a" ' * 200 + b')', b'o CAPABILITY extra'):
            s.send(bad + b'\r\n')
            line = s.read_response_line()
            while line.startswith(b'* ') and not line.startswith(b'* BAD'):
                line = s.read_response_line()
            self.assertRegex(line, rb'^\S+ (BAD|NO|OK)', bad)
        self.ok(s, 'CREATE h')
        self.ok(s, 'SELECT h')
        s.append('h', sample_message(1))
        for bad in (b'p FETCH 1:4294967295 FLAGS', b'q FETCH 0 FLAGS', b'r UID FETCH 0:* FLAGS'):
            s.send(bad + b'\r\n')
            line = s.read_response_line()
            self.assertRegex(line, rb'^\S+ (BAD|NO|OK)', bad)
        self.ok(s, 'LOGOUT')

    def test_random_commands_never_crash(self):
        import random
        rnd = random.Random(4711)
        words = [b'FETCH', b'UID', b'STORE', b'SEARCH', b'SELECT', b'BODY[', b'BODY.PEEK[1.2]',
                 b'(', b')', b'{3}', b'"', b'\\Seen', b'1:*', b'*', b'0', b'4294967295',
                 b'HEADER.FIELDS', b'<0.5>', b'NIL', b'\x00', b'\xff', b'corpus', b'INBOX',
                 b'+FLAGS', b'CHARSET', b'OR', b'NOT', b'[', b']', b'BINARY[2]', b'~{1}',
                 b'ESEARCH', b'RETURN', b'(MIN', b'THREAD', b'SORT', b'APPEND', b'MOVE', b'COPY']
        s = self.selected()
        out = []
        for i in range(300):
            line = b' '.join(rnd.choice(words) for _ in range(rnd.randint(0, 8)))
            out.append(b'r%d %s\r\n' % (i, line.replace(b'{3}', b'{3+}')))
        s.send(b''.join(out) + b'zz NOOP\r\n')
        while True:
            line = s.read_response_line()
            if line.startswith(b'zz '):
                break
        self.assertTrue(line.startswith(b'zz OK'), line)

    def test_flood_of_long_lines_ends_session(self):
        s = self.env.imap(args=['-o', 'max-line-length=100'])
        s.send((b'x' * 500 + b'\r\n') * 5)
        lines = []
        try:
            while True:
                lines.append(s.read_response_line())
        except Exception:
            pass
        self.assertTrue(any(x.startswith(b'* BYE') for x in lines), lines)

    def test_before_login(self):
        s = self.env.imap(login=True)
        for cmd in ('SELECT INBOX', 'LIST "" *', 'FETCH 1 FLAGS', 'UID FETCH 1 FLAGS',
                    'APPEND INBOX {1+}\r\nx', 'IDLE'):
            u, t = s.cmd(cmd)
            self.assertTrue(t.startswith(b'BAD'), (cmd, t))
        self.ok(s, 'LOGOUT')


if __name__ == '__main__':
    unittest.main()

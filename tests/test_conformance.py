"""Conformance cases found with Dovecot's imaptest (issue 13) and the
pre-login limits of the hardening issue (15), each reproduced here
without imaptest:

- DELETE of a \\Noselect name (a directory), on mbox, mbx and maildir;
- '[' and ']' in astrings (mailbox names) outside fetch sections;
- BINARY / BINARY.SIZE / BODY[1] of parts holding NULs or nothing;
- FETCH after another session's EXPUNGE: OK [EXPUNGEISSUED] with the
  data still held, the EXPUNGE at the next allowed point (RFC 2180 4.1);
- keywords named in FETCH only after a FLAGS response (RFC 3501 7.2.6);
- over-long lines answered with their tag; big post-login commands get
  a tagged answer; before login a small command limit and little memory.

imapd runs through tests/lib/cctest.py (PREAUTH as the test user, or
LOGIN when started as fake root)."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from cctest import MailEnv, sample_message, have_binary  # noqa: E402

DRIVERS = ('mbox', 'mbx', 'maildir')


def vm_hwm_kb(pid):
    """peak resident set size of a process, in kB"""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    raise AssertionError('no VmHWM for %d' % pid)


@unittest.skipUnless(have_binary('imapd'), 'imapd not built')
class Case(unittest.TestCase):
    driver = os.environ.get('CC_IMAPD_DRIVER')

    def setUp(self):
        cfg = {'default-driver': self.driver} if self.driver else None
        self.env = MailEnv(config=cfg)

    def tearDown(self):
        self.env.close()

    def ok(self, s, cmd):
        u, t = s.cmd(cmd)
        self.assertTrue(t.startswith(b'OK'), (cmd, t, u))
        return u, t

    def names(self, s):
        u, t = self.ok(s, 'LIST "" *')
        return [re.sub(rb'^\* LIST \([^)]*\) "/" ', b'', x).strip(b'"') for x in u]


class DeleteNoselect:
    """RFC 3501 6.3.4 on every format: a name that is only a directory
    can be deleted; one with inferiors is refused with a reason"""

    def test_delete_created_directory(self):
        s = self.env.imap()
        self.ok(s, 'CREATE dir/')
        self.assertTrue(os.path.isdir(self.env.path('dir')))
        self.ok(s, 'DELETE dir')
        self.assertFalse(os.path.exists(self.env.path('dir')))
        self.ok(s, 'CREATE dir')        # the name is free again
        self.ok(s, 'SELECT dir')
        self.ok(s, 'CLOSE')
        self.ok(s, 'DELETE dir')
        self.ok(s, 'CREATE dir2/')
        self.ok(s, 'DELETE dir2/')      # named with its separator
        self.assertFalse(os.path.exists(self.env.path('dir2')))

    def test_delete_parent_left_by_children(self):
        s = self.env.imap()
        self.ok(s, 'CREATE top/a/b')
        self.ok(s, 'CREATE top/c')
        u, t = s.cmd('DELETE top')
        self.assertTrue(t.startswith(b'NO [CANNOT]'), t)
        self.assertIn(b'inferior', t)
        self.ok(s, 'DELETE top/a/b')
        self.ok(s, 'DELETE top/c')
        u, t = s.cmd('DELETE top')      # still holds the directory a
        self.assertTrue(t.startswith(b'NO [CANNOT]'), t)
        self.ok(s, 'DELETE top/a')
        self.ok(s, 'DELETE top')
        self.assertFalse(os.path.exists(self.env.path('top')))
        self.assertNotIn(b'top', b' '.join(self.names(s)))
        self.ok(s, 'CREATE top')
        self.ok(s, 'DELETE top')
        u, t = s.cmd('DELETE top')
        self.assertTrue(t.startswith(b'NO [NONEXISTENT]'), t)


class TestAstringBrackets(Case):
    NAME = "!#$&'+,-.0123456789:;<=>?@^_`|[}"

    def test_select_name_with_brackets(self):
        s = self.env.imap()
        for name in (self.NAME, 'a]b', 'x[y]z'):
            self.ok(s, 'CREATE %s' % name)
            u, t = self.ok(s, 'SELECT %s' % name)
            self.assertIn(b'* 0 EXISTS', u)
            self.ok(s, 'STATUS %s (MESSAGES)' % name)
        u, t = self.ok(s, 'LIST "" *')
        self.assertTrue(any(self.NAME.encode() in x for x in u), u)
        # fetch sections still take brackets with spaces inside
        s.append(self.NAME, sample_message(1))
        self.ok(s, 'SELECT "%s"' % self.NAME)
        u, t = self.ok(s, 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
        self.assertIn(b'Subject: Test message 1', u[0])
        u, t = s.cmd('FETCH 1 BODY[HEADER')
        self.assertTrue(t.startswith(b'BAD'), t)


BINARY_MSG = (b'From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\n'
              b'Mime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n'
              b'Content-Transfer-Encoding: binary\r\n\r\n'
              b'\x00-\xe4\r\n\r\n')
BINARY_BODY = b'\x00-\xe4\r\n\r\n'

EMPTY_PARTS = (b'From: a@b\r\nSubject: empty parts\r\nMIME-Version: 1.0\r\n'
               b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
               b'--b\r\nContent-Type: text/plain\r\n\r\n'
               b'\r\n--b\r\nContent-Type: application/octet-stream\r\n'
               b'Content-Transfer-Encoding: base64\r\n\r\n'
               b'\r\n--b--\r\n')


class TestBinaryParts(Case):
    """imaptest append-binary: a binary part with a NUL, and empty parts"""

    def append_binary(self, s, box, msg):
        tag = s.next_tag()
        s.send(('%s APPEND %s ~{%d}\r\n' % (tag, box, len(msg))).encode())
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(msg + b'\r\n')
        u, t = s.collect(tag)
        self.assertTrue(t.startswith(b'OK'), t)

    def test_binary_part_with_nul(self):
        s = self.env.imap()
        self.ok(s, 'CREATE bin')
        self.append_binary(s, 'bin', BINARY_MSG)
        self.ok(s, 'SELECT bin')
        body = BINARY_BODY
        u, t = self.ok(s, 'FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])')
        self.assertEqual(u, [b'* 1 FETCH (BINARY.SIZE[1] %d BINARY[1] ~{%d}\r\n%s)'
                             % (len(body), len(body), body)])
        # RFC 3501 allows no NUL in a literal: BODY[1] and BODY[] carry
        # the part with the NUL as 0x80, never as raw binary
        for item in ('BODY.PEEK[1]', 'BODY.PEEK[]', 'RFC822.TEXT'):
            u, t = self.ok(s, 'FETCH 1 (%s)' % item)
            self.assertNotIn(b'~{', u[0])
            self.assertNotIn(b'\x00', u[0])
        u, t = self.ok(s, 'FETCH 1 (BODY.PEEK[1])')
        self.assertEqual(u, [b'* 1 FETCH (BODY[1] {%d}\r\n\x80%s)' % (len(body), body[1:])])

    def test_empty_parts(self):
        s = self.env.imap()
        self.ok(s, 'CREATE empty')
        s.append('empty', EMPTY_PARTS)
        self.ok(s, 'SELECT empty')
        for part in (1, 2):
            u, t = self.ok(s, 'FETCH 1 (BINARY.SIZE[%d] BINARY.PEEK[%d] BODY.PEEK[%d])'
                           % (part, part, part))
            self.assertEqual(len(u), 1, u)
            empty = rb'(""|\{0\}\r\n)'
            self.assertRegex(u[0], rb'^\* 1 FETCH \(BINARY.SIZE\[%d\] 0 BINARY\[%d\] %s '
                             rb'BODY\[%d\] %s\)$' % (part, part, empty, part, empty), u)


class ExpungeIssued:
    """RFC 2180 4.1: another session's EXPUNGE does not make FETCH fail"""

    def test_fetch_after_other_expunge(self):
        box = 'exp'
        a = self.env.imap()
        self.ok(a, 'CREATE %s' % box)
        for i in range(1, 5):
            a.append(box, sample_message(i))
        self.ok(a, 'SELECT %s' % box)
        # a knows the envelope of message 2 from before
        self.ok(a, 'FETCH 2 ENVELOPE')
        b = self.env.imap()
        self.ok(b, 'SELECT %s' % box)
        self.ok(b, 'STORE 2:3 +FLAGS.SILENT (\\Deleted)')
        u, t = self.ok(b, 'EXPUNGE')
        self.assertEqual(u, [b'* 3 EXPUNGE', b'* 2 EXPUNGE'])
        self.ok(b, 'LOGOUT')
        u, t = self.ok(a, 'FETCH 1:4 (UID FLAGS ENVELOPE BODY.PEEK[TEXT])')
        self.assertFalse(any(b'EXPUNGE' in x for x in u), u)
        fetched = {int(x.split()[1]): x for x in u if b' FETCH ' in x}
        self.assertEqual(sorted(fetched), [1, 2, 3, 4], u)
        self.assertIn(b'Body of message 1.', fetched[1])
        self.assertIn(b'Body of message 4.', fetched[4])
        # what a still holds; NIL for text gone from the file (a format
        # that keeps it until no session needs it may serve it)
        self.assertIn(b'UID 2 ', fetched[2])
        self.assertIn(b'"Test message 2"', fetched[2])
        gone = False
        for n in (2, 3):
            if b'BODY[TEXT] NIL' in fetched[n]:
                gone = True
            else:
                self.assertIn(b'Body of message %d.' % n, fetched[n])
        if gone:
            self.assertTrue(t.startswith(b'OK [EXPUNGEISSUED]'), t)
            # ENVELOPE has no NIL form: left out when not known
            self.assertNotIn(b'ENVELOPE', fetched[3])
            u, t = self.ok(a, 'FETCH 3 (INTERNALDATE RFC822.SIZE BINARY.SIZE[1] '
                              'BODY.PEEK[]<0.10> RFC822.HEADER BODYSTRUCTURE FLAGS)')
            self.assertTrue(t.startswith(b'OK [EXPUNGEISSUED]'), t)
            self.assertRegex(u[0], rb'^\* 3 FETCH \(INTERNALDATE "[^"]+" RFC822.SIZE \d+ '
                             rb'BODY\[\]<0> NIL RFC822.HEADER NIL FLAGS \(\\Recent\)\)$')
            # nothing left to say but the UID
            u, t = self.ok(a, 'FETCH 3 (ENVELOPE BINARY.SIZE[1])')
            self.assertEqual(u, [b'* 3 FETCH (UID 3)'])
        # the EXPUNGE comes at the next point it is allowed
        u, t = self.ok(a, 'NOOP')
        self.assertEqual([x for x in u if b'EXPUNGE' in x],
                         [b'* 3 EXPUNGE', b'* 2 EXPUNGE'])
        u, t = self.ok(a, 'FETCH 1:* (UID)')
        self.assertEqual(len(u), 2, u)
        self.ok(a, 'LOGOUT')

    def test_uid_fetch_after_other_expunge(self):
        a = self.env.imap()
        self.ok(a, 'CREATE ux')
        for i in range(1, 4):
            a.append('ux', sample_message(i))
        self.ok(a, 'SELECT ux')
        b = self.env.imap()
        self.ok(b, 'SELECT ux')
        self.ok(b, 'STORE 1 +FLAGS.SILENT (\\Deleted)')
        self.ok(b, 'EXPUNGE')
        self.ok(b, 'LOGOUT')
        # UID FETCH may report the EXPUNGE itself (RFC 3501 7.4.1)
        u, t = self.ok(a, 'UID FETCH 1:* (RFC822.SIZE BODY.PEEK[HEADER])')
        self.assertIn(b'* 1 EXPUNGE', u)
        self.ok(a, 'LOGOUT')


class KeywordsAnnounced:
    """RFC 3501 7.2.6: FLAGS names a keyword before any FETCH shows it"""

    def check_order(self, lines, kw):
        flags_at = next((i for i, x in enumerate(lines) if x.startswith(b'* FLAGS') and kw in x), None)
        perm_at = next((i for i, x in enumerate(lines) if b'[PERMANENTFLAGS' in x and kw in x), None)
        fetch_at = next((i for i, x in enumerate(lines) if b' FETCH ' in x and kw in x), None)
        self.assertIsNotNone(fetch_at, lines)
        self.assertIsNotNone(flags_at, lines)
        self.assertIsNotNone(perm_at, lines)
        self.assertLess(flags_at, fetch_at, lines)
        self.assertLess(perm_at, fetch_at, lines)

    def test_keyword_from_other_session(self):
        box = 'kwo'
        a = self.env.imap()
        self.ok(a, 'CREATE %s' % box)
        a.append(box, sample_message(1))
        a.append(box, sample_message(2))
        u, t = self.ok(a, 'SELECT %s' % box)
        self.assertNotIn(b'$Label1', b''.join(u))
        b = self.env.imap()
        self.ok(b, 'SELECT %s' % box)
        self.ok(b, 'STORE 1 +FLAGS ($Label1)')
        self.ok(b, 'LOGOUT')
        # a learns of the keyword inside a FETCH (the driver re-reads
        # the file) or at the sync after it
        lines = []
        u, t = self.ok(a, 'FETCH 1:2 (FLAGS BODY.PEEK[HEADER])')
        lines += u
        u, t = self.ok(a, 'NOOP')
        lines += u
        self.check_order(lines, b'$Label1')

    def test_keyword_from_own_store_and_append(self):
        s = self.env.imap()
        self.ok(s, 'CREATE kw')
        s.append('kw', sample_message(1))
        self.ok(s, 'SELECT kw')
        u, t = self.ok(s, 'STORE 1 +FLAGS ($Label2)')
        self.check_order(u, b'$Label2')
        # a keyword that arrives with an APPEND to the selected mailbox
        u, t = s.append('kw', sample_message(2), flags='$Label3')
        self.assertTrue(t.startswith(b'OK'), t)
        u2, t = self.ok(s, 'FETCH 2 FLAGS')
        self.check_order(u + u2, b'$Label3')


class TestLineLimits(Case):
    def test_too_long_line_gets_tagged_answer(self):
        s = self.env.imap(args=['-o', 'max-line-length=1000'])
        s.send(b'tag1 NOOP ' + b'x' * 5000 + b'\r\n')
        line = s.read_response_line()
        self.assertEqual(line, b'tag1 BAD Line too long')
        # also a line following a literal
        s.send(b'tag2 LIST {1+}\r\n\x22' + b' x' * 3000 + b'\r\n')
        line = s.read_response_line()
        self.assertEqual(line, b'tag2 BAD Line too long')
        self.ok(s, 'NOOP')

    def test_too_long_line_before_login(self):
        s = self.env.imap(login=True)
        s.send(b'pre1 LOGIN ' + b'x' * 70000 + b'\r\n')
        line = s.read_response_line()
        self.assertEqual(line, b'pre1 BAD Line too long')
        self.ok(s, 'CAPABILITY')

    def bounded(self, s, cmd, limit=20):
        t0 = time.monotonic()
        u, t = s.cmd(cmd)
        took = time.monotonic() - t0
        self.assertRegex(t, rb'^(OK|NO|BAD) ', (cmd[:60], t))
        self.assertLess(took, limit, cmd[:60])
        return u, t

    def test_big_commands_after_login(self):
        s = self.env.imap()
        self.ok(s, 'CREATE big')
        for i in range(1, 4):
            s.append('big', sample_message(i))
        self.ok(s, 'SELECT big')
        # a UID set of 100,000 ranges (a client with a big mailbox)
        uids = ','.join('%d:%d' % (i, i + 1) for i in range(1, 400000, 4))
        u, t = self.bounded(s, 'UID FETCH %s (FLAGS)' % uids)
        self.assertTrue(t.startswith(b'OK'), t)
        self.assertEqual(len([x for x in u if b' FETCH ' in x]), 2, u)  # UIDs 1, 2
        u, t = self.bounded(s, 'UID STORE %s +FLAGS.SILENT (\\Seen)' % uids)
        self.assertTrue(t.startswith(b'OK'), t)
        # SEARCH with 10,000 ORs
        q = 'SUBJECT nomatch0'
        for i in range(1, 10001):
            q = 'OR SUBJECT nomatch%d %s' % (i, q)
        u, t = self.bounded(s, 'SEARCH ' + q)
        self.assertTrue(t.startswith(b'OK') or t.startswith(b'BAD') or t.startswith(b'NO'), t)
        flat = ' '.join(['OR SUBJECT a SUBJECT b'] * 10000)
        u, t = self.bounded(s, 'SEARCH ' + flat)
        self.assertTrue(t.startswith(b'OK'), t)
        # STORE of 10,000 keywords: more than a mailbox can hold
        kws = ' '.join('kw%d' % i for i in range(10000))
        u, t = self.bounded(s, 'STORE 1 +FLAGS (%s)' % kws)
        self.assertTrue(t.startswith(b'NO [LIMIT]'), t)
        # refused before any keyword was made: the table is not used up
        self.assertFalse(any(b'kw0' in x for x in u), u)
        u, t = self.ok(s, 'STORE 1 +FLAGS (kwone)')
        self.assertIn(b'kwone', b''.join(u))
        self.assertNotIn(b'kw0', b''.join(u))
        self.ok(s, 'NOOP')

    def pre_login_flood(self, payload, count):
        """send payload count times before login, then NOOP; returns the
        growth of the process's peak RSS in kB"""
        s = self.env.imap(login=True)
        pid = s.proc.pid
        self.ok(s, 'NOOP')
        base = vm_hwm_kb(pid)
        for i in range(count):
            s.send(payload % i)
            line = s.read_response_line()
            while line.startswith(b'+ '):
                line = s.read_response_line()
            self.assertRegex(line, rb'^(x\d+|\*) (BAD|NO|OK)', line[:80])
            if line.startswith(b'* BYE'):
                break
        try:
            s.cmd('NOOP')
        except (EOFError, OSError):
            pass
        grown = vm_hwm_kb(pid) - base
        s.close()
        return grown

    def test_pre_login_quoted_strings_small(self):
        # a 64 KB line of "" "" ... took 683 MB once
        line = b'x%d NOOP' + b' ""' * 21000 + b'\r\n'
        grown = self.pre_login_flood(line, 3)
        self.assertLess(grown, 16 * 1024, grown)

    def test_pre_login_literal_chain_small(self):
        # {0+} literals joining many long lines into one command
        chunk = b' ' + b'a' * 60000 + b' {0+}\r\n'
        line = b'x%d LOGIN {0+}\r\n' + chunk * 200 + b'\r\n'
        grown = self.pre_login_flood(line, 1)
        self.assertLess(grown, 16 * 1024, grown)

    def test_pre_login_command_cap_at_the_edge(self):
        # lines that bring the command to just past the cap by the
        # "{0}" of their literals must not lift the cap for later lines
        line1 = b'x%d LOGIN ' + b'a' * (65536 - 14) + b' {0+}\r\n'
        assert len(line1 % 0) == 65536 + 2
        line2 = b' ' + b'b' * (9999 - 6) + b' {0+}\r\n'
        chunk = b' ' + b'c' * 60000 + b' {0+}\r\n'
        grown = self.pre_login_flood(line1 + line2 + chunk * 400 + b'\r\n', 1)
        self.assertLess(grown, 16 * 1024, grown)

    def test_pre_login_sasl_line_small(self):
        # an AUTHENTICATE continuation line is held to the pre-login limit
        s = self.env.imap(login=True)
        pid = s.proc.pid
        self.ok(s, 'NOOP')
        base = vm_hwm_kb(pid)
        s.send(b'au AUTHENTICATE PLAIN\r\n')
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(b'A' * (7 << 20) + b'\r\n')
        u, t = s.collect('au')
        self.assertRegex(t, rb'^(BAD|NO) ', t)
        self.ok(s, 'NOOP')
        grown = vm_hwm_kb(pid) - base
        self.assertLess(grown, 4 * 1024, grown)

    def test_pre_login_literal_capped(self):
        s = self.env.imap(login=True)
        s.send(b'l1 LOGIN alice {12000}\r\n')
        line = s.read_response_line()
        self.assertTrue(line.startswith(b'l1 NO [TOOBIG]'), line)
        s.send(b'l2 LOGIN {5}\r\n')
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(b'alice {6+}\r\nsecret\r\n')
        u, t = s.collect('l2')
        self.assertTrue(t.startswith(b'OK'), t)
        # after login the literal limit is the configured one
        tag = s.next_tag()
        msg = sample_message(1, body='x' * 30000 + '\r\n')
        s.send(('%s APPEND INBOX {%d}\r\n' % (tag, len(msg))).encode())
        self.assertTrue(s.readline().startswith(b'+'))
        s.send(msg + b'\r\n')
        u, t = s.collect(tag)
        self.assertTrue(t.startswith(b'OK'), t)

    def test_pre_login_idle_limit(self):
        self.env.write_config(imap_login_timeout='1', imap_autologout='30')
        s = self.env.imap(login=True)
        t0 = time.monotonic()
        self.assertTrue(s.expect_eof())
        self.assertLess(time.monotonic() - t0, 10)
        # after login the longer limit applies
        s = self.env.imap(login=True)
        u, t = s.cmd('LOGIN alice secret')
        self.assertTrue(t.startswith(b'OK'), t)
        time.sleep(2.5)
        self.ok(s, 'NOOP')
        self.ok(s, 'LOGOUT')


# the cases that depend on the mailbox format run on each of them
for _drv in DRIVERS:
    for _mixin in (DeleteNoselect, ExpungeIssued, KeywordsAnnounced):
        _name = 'Test%s_%s' % (_mixin.__name__, _drv)
        globals()[_name] = type(_name, (_mixin, Case), {'driver': _drv})
del _drv, _mixin, _name


if __name__ == '__main__':
    unittest.main()

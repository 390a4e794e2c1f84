"""End-to-end tests of ipop3d: scenarios over a pipe for every command
and state, pipelining, UIDL stability and UW compatibility, deletions
only at QUIT, exclusive access, and Python's poplib over the listener.

Run: python3 -m unittest tests/test_pop3.py   (CC_BIN, CC_TIMEOUT as in
tests/lib/cctest.py)."""

import base64
import hashlib
import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import (MailEnv, UW_DATA, binary, have_binary,  # noqa: E402
                    mbox_of, sample_message, PopSession)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, 'data', 'pop3')
UW_POP = os.path.join(UW_DATA, 'pop3')
UW_SPOOL = os.path.join(UW_DATA, 'spool', 'after-uw.spool')

needs_pop = unittest.skipUnless(have_binary('ipop3d'), 'ipop3d not built')


def msgs(n, body=None):
    return [sample_message(i, body=body) for i in range(1, n + 1)]


def big_mbox(n):
    """n small messages as an mbox, built in linear time."""
    return b''.join(b'From sender@example.org Sun Mar 15 12:34:56 2020\n' +
                    sample_message(i).replace(b'\r\n', b'\n') + b'\n'
                    for i in range(1, n + 1))


def uw_transcript(name):
    """Parse a UW transcript: {command: [server lines]} for the first
    occurrence of each command."""
    out, cur = {}, None
    with open(os.path.join(UW_POP, name), 'rb') as f:
        for line in f:
            line = line.rstrip(b'\r\n')
            if line.startswith(b'C: '):
                cur = line[3:].decode()
                out.setdefault(cur, [])
            elif line.startswith(b'S: ') and cur is not None:
                out[cur].append(line[3:])
    return out


class PopTest(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()

    def tearDown(self):
        self.env.close()

    def login(self, s=None, user=None, password=None):
        s = s or self.env.pop()
        self.assertTrue(s.cmd('USER %s' % (user or self.env.user)).startswith(b'+OK'))
        r = s.cmd('PASS %s' % (password or self.env.password))
        self.assertTrue(r.startswith(b'+OK'), r)
        return s

    def quit(self, s):
        r = s.cmd('QUIT')
        self.assertTrue(r.startswith(b'+OK'), r)
        self.assertTrue(s.expect_eof())
        s.close()

    def uidls(self, s):
        self.assertTrue(s.cmd('UIDL').startswith(b'+OK'))
        return [tuple(l.split()) for l in s.multiline()]


@needs_pop
class TestAuthorization(PopTest):
    def test_greeting_and_capa(self):
        s = self.env.pop()
        self.assertTrue(s.greeting_line.startswith(b'+OK POP3 '))
        self.assertNotIn(b'<', s.greeting_line)      # no APOP without cram db
        self.assertTrue(s.cmd('CAPA').startswith(b'+OK'))
        caps = s.multiline()
        for c in (b'TOP', b'UIDL', b'USER', b'RESP-CODES', b'AUTH-RESP-CODE',
                  b'PIPELINING', b'EXPIRE NEVER'):
            self.assertIn(c, caps)
        self.assertTrue(any(c.startswith(b'IMPLEMENTATION ') for c in caps))
        self.assertTrue(any(c.startswith(b'LOGIN-DELAY ') for c in caps))
        self.assertNotIn(b'STLS', caps)                # no certificate
        self.quit(s)

    def test_wrong_state(self):
        s = self.env.pop()
        for c in ('STAT', 'LIST', 'UIDL', 'RETR 1', 'TOP 1 0', 'DELE 1', 'NOOP', 'RSET'):
            self.assertTrue(s.cmd(c).startswith(b'-ERR'), c)
        self.assertTrue(s.cmd('PASS secret').startswith(b'-ERR'))   # no USER
        self.assertTrue(s.cmd('BOGUS').startswith(b'-ERR'))
        self.assertTrue(s.cmd('').startswith(b'-ERR'))
        self.quit(s)

    def test_bad_login_uniform(self):
        self.env.write_config(login_failures_max='5')
        s = self.env.pop()
        s.cmd('USER alice')
        r1 = s.cmd('PASS wrong')
        s.cmd('USER nosuchuser')
        r2 = s.cmd('PASS whatever')
        s.cmd('USER root')
        r3 = s.cmd('PASS x')
        self.assertEqual(r1, b'-ERR [AUTH] Login failed')
        self.assertEqual(r1, r2)
        self.assertEqual(r1, r3)
        self.login(s)
        self.quit(s)
        self.assertIn('login failed', self.env.log())

    def test_too_many_failures_end_session(self):
        self.env.write_config(login_failures_max='2')
        s = self.env.pop()
        for _ in range(3):
            s.send('USER alice\r\nPASS wrong\r\n')
            s.readline()
            r = s.readline()
            if b'too many' in r:
                break
        self.assertTrue(s.expect_eof())

    def test_quit_in_authorization(self):
        s = self.env.pop()
        self.quit(s)

    def test_auth_plain(self):
        self.env.write_inbox(mbox_of(msgs(2)))
        s = self.env.pop()
        r = s.cmd('AUTH')
        self.assertTrue(r.startswith(b'+OK'))
        mechs = s.multiline()
        self.assertIn(b'PLAIN', mechs)
        bad = base64.b64encode(b'\0alice\0wrong').decode()
        self.assertTrue(s.cmd('AUTH PLAIN ' + bad).startswith(b'-ERR [AUTH]'))
        r = s.cmd('AUTH PLAIN')
        self.assertTrue(r.startswith(b'+'), r)
        self.assertTrue(s.cmd('*').startswith(b'-ERR'))
        good = base64.b64encode(b'\0alice\0secret').decode()
        r = s.cmd('AUTH PLAIN ' + good)
        self.assertTrue(r.startswith(b'+OK'), r)
        self.assertEqual(s.cmd('STAT').split()[1], b'2')
        self.quit(s)

    def test_apop(self):
        db = self.env.settings['cram-md5-database']
        with open(db, 'w') as f:
            f.write('alice\tapopsecret\n')
        os.chmod(db, 0o600)
        self.env.write_inbox(mbox_of(msgs(1)))
        s = self.env.pop()
        m = re.search(rb'(<[^>]+>)$', s.greeting_line)
        self.assertIsNotNone(m, s.greeting_line)
        ts = m.group(1)
        bad = hashlib.md5(ts + b'wrong').hexdigest()
        self.assertEqual(s.cmd('APOP alice ' + bad), b'-ERR [AUTH] Login failed')
        good = hashlib.md5(ts + b'apopsecret').hexdigest()
        r = s.cmd('APOP alice ' + good)
        self.assertTrue(r.startswith(b'+OK'), r)
        self.assertEqual(s.cmd('STAT').split()[1], b'1')
        self.quit(s)
        # without the database there is no timestamp and APOP is refused
        os.unlink(db)
        s = self.env.pop()
        self.assertNotIn(b'<', s.greeting_line)
        self.assertTrue(s.cmd('APOP alice ' + good).startswith(b'-ERR'))
        self.quit(s)

    def test_plaintext_tls_only(self):
        self.env.write_config(plaintext_logins='tls-only')
        s = self.env.pop()
        s.cmd('CAPA')
        self.assertNotIn(b'USER', s.multiline())
        self.assertTrue(s.cmd('USER alice').startswith(b'-ERR'))
        self.quit(s)

    def test_started_as_user_serves_only_that_user(self):
        self.env.write_inbox(mbox_of(msgs(1)))
        proc = self.env.spawn('ipop3d', as_user=True)
        s = PopSession(proc=proc)
        self.assertTrue(s.greeting().startswith(b'+OK'))
        s.cmd('USER bob')
        self.assertEqual(s.cmd('PASS bobpass'), b'-ERR [AUTH] Login failed')
        s.cmd('USER alice')
        self.assertTrue(s.cmd('PASS wrong').startswith(b'-ERR'))
        self.login(s)
        self.assertEqual(s.cmd('STAT').split()[1], b'1')
        self.quit(s)

    def test_autologout(self):
        self.env.write_config(pop3_autologout='1')
        s = self.env.pop()
        r = s.readline()
        self.assertTrue(r.startswith(b'-ERR'), r)
        self.assertTrue(s.expect_eof())
        self.assertIn('Autologout', self.env.log())

    def test_options_c_and_o(self):
        # -o overrides the file; -c names the file explicitly
        s = self.env.pop(args=['-c', self.env.config_path, '-o', 'pop3-autologout=1'])
        self.assertTrue(s.readline().startswith(b'-ERR'))
        self.assertTrue(s.expect_eof())
        s.close()
        r = self.env.run('ipop3d', ['-o', 'no-such-key=1'], as_user=False)
        self.assertNotEqual(r.returncode, 0)
        r = self.env.run('ipop3d', ['-c', '/nonexistent/c-client.cf'], as_user=False)
        self.assertNotEqual(r.returncode, 0)

    def test_hostile_input(self):
        s = self.env.pop()
        self.assertTrue(s.cmd('US\0ER alice').startswith(b'-ERR'))
        self.assertTrue(s.cmd('\xff\xfe LIST').startswith(b'-ERR'))
        self.assertTrue(s.cmd('USER ' + 'a' * 1000).startswith(b'-ERR'))
        self.assertTrue(s.cmd('AUTH NOSUCHMECH').startswith(b'-ERR'))
        self.assertTrue(s.cmd('AUTH PLAIN !!!notbase64').startswith(b'-ERR'))
        self.assertTrue(s.cmd('CAPA').startswith(b'+OK'))
        s.multiline()
        # an over-long line ends the session cleanly
        s.send('NOOP ' + 'x' * 100000 + '\r\n')
        self.assertEqual(s.readline(), b'-ERR Command line too long\r\n')
        self.assertTrue(s.expect_eof())
        s.close()

    def test_end_of_stream_logged(self):
        s = self.env.pop()
        s.close()
        deadline = time.monotonic() + 10
        while 'end of file' not in self.env.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn('Command stream end of file', self.env.log())


@needs_pop
class TestTransaction(PopTest):
    def test_commands(self):
        m = msgs(3)
        m[1] = sample_message(2, body='.leading dot\r\n..two dots\r\nnormal\r\n.\r\nend\r\n')
        self.env.write_inbox(mbox_of(m))
        s = self.login()
        st = s.cmd('STAT').split()
        self.assertEqual(st[:2], [b'+OK', b'3'])
        self.assertTrue(s.cmd('LIST').startswith(b'+OK'))
        listing = s.multiline()
        self.assertEqual([l.split()[0] for l in listing], [b'1', b'2', b'3'])
        sizes = [int(l.split()[1]) for l in listing]
        self.assertEqual(sum(sizes), int(st[2]))
        self.assertEqual(s.cmd('LIST 2'), b'+OK 2 %d' % sizes[1])
        self.assertTrue(s.cmd('LIST 4').startswith(b'-ERR'))
        self.assertTrue(s.cmd('LIST 0').startswith(b'-ERR'))
        self.assertTrue(s.cmd('LIST x').startswith(b'-ERR'))
        self.assertTrue(s.cmd('LIST 99999999999999').startswith(b'-ERR'))
        self.assertTrue(s.cmd('RETR').startswith(b'-ERR'))
        # RETR: exact text, CRLF, dot-stuffed on the wire
        s.send('RETR 2\r\n')
        self.assertTrue(s.readline().startswith(b'+OK'))
        raw = b''
        while True:
            line = s.readline()
            if line == b'.\r\n':
                break
            self.assertTrue(line.endswith(b'\r\n'))
            raw += line
        self.assertIn(b'\r\n..leading dot\r\n...two dots\r\nnormal\r\n..\r\nend\r\n', raw)
        unstuffed = b''.join((l[1:] if l.startswith(b'.') else l)
                             for l in raw.split(b'\r\n')[:-1] for l in [l + b'\r\n'])
        self.assertEqual(unstuffed, m[1])
        self.assertEqual(len(unstuffed), sizes[1])
        # TOP
        self.assertTrue(s.cmd('TOP 1 0').startswith(b'+OK'))
        top = s.multiline()
        self.assertEqual(top[-1], b'')
        self.assertIn(b'Subject: Test message 1', top)
        self.assertNotIn(b'Body of message 1.', top)
        s.cmd('TOP 2 2')
        self.assertEqual(s.multiline()[-2:], [b'.leading dot', b'..two dots'])
        s.cmd('TOP 2 1000000000000')
        self.assertEqual(s.multiline()[-1], b'end')
        self.assertTrue(s.cmd('TOP 1').startswith(b'-ERR'))
        self.assertTrue(s.cmd('TOP 1 x').startswith(b'-ERR'))
        # DELE / RSET
        self.assertTrue(s.cmd('DELE 1').startswith(b'+OK'))
        self.assertTrue(s.cmd('DELE 1').startswith(b'-ERR'))
        self.assertTrue(s.cmd('RETR 1').startswith(b'-ERR'))
        self.assertTrue(s.cmd('LIST 1').startswith(b'-ERR'))
        self.assertTrue(s.cmd('TOP 1 0').startswith(b'-ERR'))
        self.assertEqual(s.cmd('STAT').split()[1], b'2')
        s.cmd('LIST')
        self.assertEqual([l.split()[0] for l in s.multiline()], [b'2', b'3'])
        s.cmd('UIDL')
        self.assertEqual(len(s.multiline()), 2)
        self.assertTrue(s.cmd('RSET').startswith(b'+OK'))
        self.assertEqual(s.cmd('STAT').split()[1], b'3')
        self.assertTrue(s.cmd('NOOP').startswith(b'+OK'))
        # wrong state in TRANSACTION
        self.assertTrue(s.cmd('USER alice').startswith(b'-ERR'))
        self.assertTrue(s.cmd('PASS secret').startswith(b'-ERR'))
        self.assertTrue(s.cmd('CAPA').startswith(b'+OK'))
        s.multiline()
        self.quit(s)
        self.assertEqual(self.env.read_inbox().count(b'\nFrom '), 2)

    def read_raw(self, s):
        """Multi-line data exactly as sent, checking every line ends CRLF;
        returns the unstuffed text."""
        text = b''
        while True:
            line = s.readline()
            self.assertTrue(line.endswith(b'\r\n'), line)
            if line == b'.\r\n':
                return text
            text += line[1:] if line.startswith(b'.') else line

    def test_edge_messages_same_as_imap(self):
        with open(os.path.join(DATA, 'edge.mbox'), 'rb') as f:
            self.env.write_inbox(f.read())
        s = self.login()
        n = int(s.cmd('STAT').split()[1])
        self.assertEqual(n, 6)
        s.cmd('LIST')
        sizes = [int(l.split()[1]) for l in s.multiline()]
        texts = []
        for i in range(1, n + 1):
            self.assertTrue(s.cmd('RETR %d' % i).startswith(b'+OK'))
            texts.append(self.read_raw(s))
        self.assertIn(b'\r\n.\r\n..\r\n.start\r\n', texts[0])
        self.assertIn(b'lone\rCR\r\n', texts[2])
        self.assertIn(b'From here on, plain\r\n', texts[3])
        for i, t in enumerate(texts):
            self.assertNotIn(b'\n', t.replace(b'\r\n', b''), i)
        # TOP of a message without a body still ends the header with a blank line
        s.cmd('TOP 5 3')
        self.assertEqual(s.multiline()[-1], b'')
        self.quit(s)
        if have_binary('imapd'):
            im = self.env.imap()
            im.cmd('EXAMINE INBOX')
            for i, t in enumerate(texts, 1):
                untagged, tagged = im.cmd('FETCH %d BODY.PEEK[]' % i)
                lit = untagged[0]
                body = lit[lit.index(b'}\r\n') + 3:]
                body = body[:len(body) - 1] if body.endswith(b')') else body
                self.assertEqual(body, t, i)
                # unless the text had to gain a final CRLF, size = RFC822.SIZE
                self.assertIn(len(t) - sizes[i - 1], (0, 2), i)
            im.cmd('LOGOUT')
            im.close()

    def test_empty_mailbox(self):
        self.env.write_inbox(b'')
        s = self.login()
        self.assertEqual(s.cmd('STAT'), b'+OK 0 0')
        s.cmd('LIST')
        self.assertEqual(s.multiline(), [])
        self.assertTrue(s.cmd('RETR 1').startswith(b'-ERR'))
        self.quit(s)

    def test_no_inbox_file(self):
        s = self.login()
        self.assertEqual(s.cmd('STAT'), b'+OK 0 0')
        self.quit(s)

    def test_deletions_only_at_quit(self):
        self.env.write_inbox(mbox_of(msgs(3)))
        before = self.env.read_inbox()
        s = self.login()
        s.cmd('DELE 1')
        s.cmd('DELE 3')
        s.close()                       # dropped without QUIT
        time.sleep(0.2)
        s = self.login()
        self.assertEqual(s.cmd('STAT').split()[1], b'3')
        uidl = self.uidls(s)
        s.cmd('RETR 2')
        s.multiline()
        s.cmd('DELE 1')
        s.cmd('DELE 3')
        self.quit(s)
        data = self.env.read_inbox()
        self.assertNotEqual(data, before)
        self.assertIn(b'Subject: Test message 2', data)
        self.assertNotIn(b'Subject: Test message 1', data)
        self.assertNotIn(b'Subject: Test message 3', data)
        s = self.login()
        self.assertEqual(s.cmd('STAT').split()[1], b'1')
        self.assertEqual(self.uidls(s)[0][1], uidl[1][1])
        self.quit(s)
        self.assertRegex(self.env.log(), r'Logout .*ndele=2')

    def test_retr_marks_seen_at_quit(self):
        self.env.write_inbox(mbox_of(msgs(2)))
        s = self.login()
        s.cmd('RETR 1')
        s.multiline()
        s.cmd('TOP 2 1')
        s.multiline()
        self.quit(s)
        data = self.env.read_inbox()
        first, second = data.split(b'\nFrom ', 1)
        self.assertRegex(first, rb'\nStatus: R')
        self.assertNotRegex(second, rb'\nStatus: R')

    def test_huge_message(self):
        body = ''.join('line %07d %s\r\n' % (i, 'x' * 60) for i in range(80000))
        body += '.\r\n.x\r\n'
        m = sample_message(1, body=body)
        self.env.write_inbox(mbox_of([m, sample_message(2)]))
        s = self.login()
        size = int(s.cmd('LIST 1').split()[2])
        self.assertEqual(size, len(m))
        self.assertTrue(s.cmd('RETR 1').startswith(b'+OK'))
        got = b''.join(l + b'\r\n' for l in s.multiline())
        self.assertEqual(got, m)
        self.quit(s)

    def test_pipelining(self):
        self.env.write_inbox(mbox_of(msgs(3)))
        s = self.env.pop()
        s.send('USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\n'
               'TOP 2 0\r\nDELE 3\r\nNOOP\r\nLIST 3\r\nQUIT\r\n')
        self.assertTrue(s.readline().startswith(b'+OK'))      # USER
        self.assertTrue(s.readline().startswith(b'+OK'))      # PASS
        self.assertTrue(s.readline().startswith(b'+OK 3 '))   # STAT
        self.assertTrue(s.readline().startswith(b'+OK'))
        self.assertEqual(len(s.multiline()), 3)
        self.assertTrue(s.readline().startswith(b'+OK'))
        self.assertEqual(len(s.multiline()), 3)
        self.assertTrue(s.readline().startswith(b'+OK'))      # RETR
        self.assertIn(b'Body of message 1.', s.multiline())
        self.assertTrue(s.readline().startswith(b'+OK'))      # TOP
        s.multiline()
        self.assertTrue(s.readline().startswith(b'+OK'))      # DELE
        self.assertTrue(s.readline().startswith(b'+OK'))      # NOOP
        self.assertTrue(s.readline().startswith(b'-ERR'))     # LIST 3
        self.assertTrue(s.readline().startswith(b'+OK'))      # QUIT
        self.assertTrue(s.expect_eof())
        s.close()
        self.assertEqual(self.env.read_inbox().count(b'Subject: Test message'), 2)

    def test_many_messages_pipelined(self):
        n = 10000
        self.env.write_inbox(big_mbox(n))
        s = self.login()
        self.assertEqual(s.cmd('STAT').split()[1], str(n).encode())
        start = time.monotonic()
        # a writer thread: the pipes hold only 64 KB each way, and the
        # server must be free to answer while the commands still arrive
        writer = threading.Thread(target=s.send, args=(
            ''.join('RETR %d\r\n' % i for i in range(1, n + 1)),))
        writer.start()
        for i in range(1, n + 1):
            self.assertTrue(s.readline().startswith(b'+OK'))
            body = s.multiline()
            self.assertIn(b'Subject: Test message %d' % i, body)
        writer.join()
        self.assertLess(time.monotonic() - start, 60)
        s.send('RSET\r\nQUIT\r\n')
        self.assertTrue(s.readline().startswith(b'+OK'))
        self.assertTrue(s.readline().startswith(b'+OK'))
        s.close()

    def test_uidl_stable_and_uw_format(self):
        self.env.write_inbox(mbox_of(msgs(4)))
        s = self.login()
        first = self.uidls(s)
        self.assertEqual(s.cmd('UIDL 2'), b'+OK 2 ' + first[1][1])
        self.quit(s)
        for _, u in first:
            self.assertRegex(u.decode(), r'^[0-9a-f]{16}$')
        uv = {u[:8] for _, u in first}
        self.assertEqual(len(uv), 1)
        self.assertEqual([int(u[8:], 16) for _, u in first], [1, 2, 3, 4])
        s = self.login()
        self.assertEqual(self.uidls(s), first)
        self.quit(s)
        # the same identity as IMAP: UIDVALIDITY and UIDs
        if have_binary('imapd'):
            i = self.env.imap()
            untagged, tagged = i.cmd('SELECT INBOX')
            self.assertTrue(tagged.startswith(b'OK'), tagged)
            m = re.search(rb'UIDVALIDITY (\d+)', b'\n'.join(untagged))
            self.assertEqual('%08x' % int(m.group(1)), first[0][1][:8].decode())
            untagged, tagged = i.cmd('UID FETCH 1:* (UID)')
            uids = [int(re.search(rb'UID (\d+)', l).group(1)) for l in untagged
                    if b'FETCH' in l]
            self.assertEqual(['%08x' % x for x in uids], [u[8:].decode() for _, u in first])
            i.cmd('LOGOUT')
            i.close()

    def test_imap_deleted_not_offered_nor_expunged(self):
        self.env.write_inbox(mbox_of(msgs(3)))
        if not have_binary('imapd'):
            self.skipTest('imapd not built')
        i = self.env.imap()
        i.cmd('SELECT INBOX')
        _, tagged = i.cmd('STORE 2 +FLAGS (\\Deleted)')
        self.assertTrue(tagged.startswith(b'OK'))
        i.cmd('LOGOUT')
        i.close()
        s = self.login()
        self.assertEqual(s.cmd('STAT').split()[1], b'2')
        s.cmd('DELE 1')
        self.quit(s)
        data = self.env.read_inbox()
        self.assertNotIn(b'Subject: Test message 1', data)
        self.assertIn(b'Subject: Test message 2', data)    # IMAP's \Deleted stays
        self.assertIn(b'Subject: Test message 3', data)

    def test_exclusive(self):
        self.env.write_config(lock_timeout='2')
        self.env.write_inbox(mbox_of(msgs(2)))
        s1 = self.login()
        s2 = self.env.pop()
        s2.cmd('USER alice')
        r = s2.cmd('PASS secret')
        self.assertTrue(r.startswith(b'-ERR [IN-USE]'), r)
        self.assertTrue(s2.expect_eof())
        s2.close()
        self.quit(s1)
        s3 = self.login()          # free again
        self.quit(s3)


    def test_kiss_of_death_to_idle_session(self):
        # idle for half the autologout time: a newer session takes over
        self.env.write_config(lock_timeout='10', pop3_autologout='6')
        self.env.write_inbox(mbox_of(msgs(2)))
        s1 = self.login()
        s1.cmd('DELE 1')
        time.sleep(3.5)
        s2 = self.env.pop()
        s2.cmd('USER alice')
        r = s2.cmd('PASS secret')
        self.assertTrue(r.startswith(b'+OK'), r)
        r = s1.readline()
        self.assertTrue(r.startswith(b'-ERR'), r)
        self.assertTrue(s1.expect_eof())
        s1.close()
        self.assertIn('Killed (lost mailbox lock)', self.env.log())
        self.assertEqual(s2.cmd('STAT').split()[1], b'2')     # DELE not applied
        self.quit(s2)


@needs_pop
class TestUWCompat(PopTest):
    def test_uidl_matches_uw(self):
        shutil.copyfile(UW_SPOOL, self.env.inbox)
        uw = uw_transcript('transcript-after-imap.txt')
        uw_uidl = [tuple(l.split()) for l in uw['UIDL'][1:-1]]
        uw_list = [tuple(l.split()) for l in uw['LIST'][1:-1]]
        s = self.login()
        self.assertEqual(s.cmd('STAT').split()[1], str(len(uw_uidl)).encode())
        self.assertEqual(self.uidls(s), uw_uidl)
        s.cmd('LIST')
        ours = [tuple(l.split()) for l in s.multiline()]
        # UW added 12 octets per message for its synthesized Status header
        self.assertEqual([(n, int(sz)) for n, sz in ours],
                         [(n, int(sz) - 12) for n, sz in uw_list])
        # TOP 1 0: UW's header without its Status line
        s.cmd('TOP 1 0')
        uw_top = [l for l in uw['TOP 1 0'][1:-1] if not l.startswith(b'Status:')]
        self.assertEqual(s.multiline(), uw_top)
        self.quit(s)

    def test_uidl_stays_after_our_write(self):
        shutil.copyfile(UW_SPOOL, self.env.inbox)
        uw = uw_transcript('transcript-after-imap.txt')
        uw_uidl = [l.split()[1] for l in uw['UIDL'][1:-1]]
        s = self.login()
        s.cmd('RETR 1')
        s.multiline()
        s.cmd('DELE 2')
        self.quit(s)
        s = self.login()
        self.assertEqual([u for _, u in self.uidls(s)], [uw_uidl[0]] + uw_uidl[2:])
        self.quit(s)


@needs_pop
class TestListener(PopTest):
    def test_poplib(self):
        self.env.write_inbox(mbox_of(msgs(3)))
        port, _ = self.env.listen('ipop3d')
        p = poplib.POP3('127.0.0.1', port, timeout=20)
        try:
            self.assertTrue(p.getwelcome().startswith(b'+OK'))
            caps = p.capa()
            self.assertIn('UIDL', caps)
            p.user('alice')
            p.pass_('secret')
            count, size = p.stat()
            self.assertEqual(count, 3)
            resp, lines, octets = p.retr(2)
            self.assertIn(b'Subject: Test message 2', lines)
            resp, uidl, _ = p.uidl()
            self.assertEqual(len(uidl), 3)
            p.dele(1)
        finally:
            p.quit()
        data = self.env.read_inbox()
        self.assertNotIn(b'Subject: Test message 1', data)
        # a second connection to the same listener works too
        p = poplib.POP3('127.0.0.1', port, timeout=20)
        p.user('alice')
        p.pass_('secret')
        self.assertEqual(p.stat()[0], 2)
        p.quit()


def pop_over_socketpair(env, args=()):
    """poplib.POP3 talking to an inetd-style ipop3d on a socketpair, so
    TLS and poplib need no listener."""
    a, b = socket.socketpair()
    proc = subprocess.Popen([binary('ipop3d')] + list(args), stdin=b, stdout=b,
                            stderr=subprocess.PIPE, env=env.environ(as_user=False),
                            cwd=env.dir)
    b.close()
    env.procs.append(proc)

    class Pop(poplib.POP3):
        def _create_socket(self, timeout):
            a.settimeout(timeout)
            return a
    return Pop('localhost', timeout=20)


@needs_pop
class TestPoplibPipe(PopTest):
    def test_poplib_inetd_style(self):
        self.env.write_inbox(mbox_of(msgs(3)))
        p = pop_over_socketpair(self.env)
        self.assertIn('UIDL', p.capa())
        p.user('alice')
        p.pass_('secret')
        self.assertEqual(p.stat()[0], 3)
        resp, lines, octets = p.retr(3)
        self.assertIn(b'Subject: Test message 3', lines)
        resp, lines, octets = p.top(1, 0)
        self.assertEqual(lines[-1], b'')
        p.dele(2)
        p.quit()
        self.assertNotIn(b'Subject: Test message 2', self.env.read_inbox())


    @unittest.skipUnless(shutil.which('fetchmail'), 'fetchmail not installed')
    def test_fetchmail(self):
        self.env.write_inbox(mbox_of(msgs(3)))
        port, _ = self.env.listen('ipop3d')
        rc = os.path.join(self.env.dir, 'fetchmailrc')
        out = os.path.join(self.env.dir, 'fetched')
        with open(rc, 'w') as f:
            f.write('poll 127.0.0.1 protocol pop3 port %d uidl no envelope\n'
                    '  user alice password secret is root here\n'
                    '  mda "cat >> %s"\n  sslproto ""\n' % (port, out))
        os.chmod(rc, 0o600)
        r = subprocess.run(['fetchmail', '-f', rc, '--nosyslog', '-N',
                            '--idfile', os.path.join(self.env.dir, 'ids'),
                            '--pidfile', os.path.join(self.env.dir, 'fm.pid')],
                           capture_output=True, timeout=60,
                           env=dict(os.environ, HOME=self.env.dir))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, 'rb') as f:
            fetched = f.read()
        for i in (1, 2, 3):
            self.assertIn(b'Subject: Test message %d' % i, fetched)
        self.assertNotIn(b'Subject: Test message', self.env.read_inbox())


@needs_pop
class TestTLS(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv(tls=True, config={'plaintext-logins': 'tls-only'})

    def tearDown(self):
        self.env.close()

    def test_stls_poplib(self):
        self.env.write_inbox(mbox_of(msgs(1)))
        p = pop_over_socketpair(self.env)
        try:
            caps = p.capa()
            self.assertIn('STLS', caps)
            self.assertNotIn('USER', caps)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            p.stls(context=ctx)
            caps = p.capa()
            self.assertNotIn('STLS', caps)
            self.assertIn('USER', caps)
            p.user('alice')
            p.pass_('secret')
            self.assertEqual(p.stat()[0], 1)
        finally:
            p.quit()

    def test_implicit_tls(self):
        self.env.write_inbox(mbox_of(msgs(2)))
        a, b = socket.socketpair()
        proc = subprocess.Popen([binary('ipop3d'), '-s'], stdin=b, stdout=b,
                                stderr=subprocess.PIPE,
                                env=self.env.environ(as_user=False), cwd=self.env.dir)
        b.close()
        self.env.procs.append(proc)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        a.settimeout(20)
        t = ctx.wrap_socket(a, server_hostname='localhost')
        f = t.makefile('rwb')
        self.assertTrue(f.readline().startswith(b'+OK'))
        f.write(b'CAPA\r\n')
        f.flush()
        caps = []
        while True:
            line = f.readline().rstrip(b'\r\n')
            if line == b'.':
                break
            caps.append(line)
        self.assertIn(b'USER', caps)          # plaintext fine inside TLS
        self.assertNotIn(b'STLS', caps)
        f.write(b'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n')
        f.flush()
        for _ in range(4):
            self.assertTrue(f.readline().startswith(b'+OK'))
        f.close()
        t.close()

    def test_stls_discards_injected_commands(self):
        s = self.env.pop()
        s.send('STLS\r\nUSER alice\r\n')
        self.assertTrue(s.readline().startswith(b'+OK'))
        # the plaintext "USER alice" must not be answered in clear text
        s.proc.stdin.close()
        rest = s.proc.stdout.read()
        self.assertNotIn(b'+OK User', rest)
        s.close()


if __name__ == '__main__':
    unittest.main()

"""End-to-end tests of the delivery agents tmail (run by the MTA as root)
and dmail (run by procmail as the user): where mail lands, the "From "
line sender, exit codes from <sysexits.h>, locking and the log line.

Binaries come from CC_BIN (default build/bin); everything runs under the
cwrap wrappers through tests/lib/cctest.py, so "root" and the users are
fake and no system file is touched.
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from cctest import MailEnv, have_binary, sample_message  # noqa: E402

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOUSER = 67
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_NOPERM = 77

MSG = (b'From: Sender <sender@example.org>\n'
       b'To: alice@example.org\n'
       b'Subject: delivery test\n'
       b'\n'
       b'Hello Alice.\n'
       b'From the start of a line.\n')


def mbox_messages(data):
    """Split a traditional mbox into (from_line, text) pairs. A "From "
    line starts a message only at the start or after a blank line; UW's
    folder-internal pseudo message (FAQ 6.14) is left out."""
    out = []
    prev_blank = True
    for line in data.split(b'\n'):
        if line.startswith(b'From ') and prev_blank:
            out.append([line, b''])
        elif out:
            out[-1][1] += line + b'\n'
        prev_blank = line == b''
    return [(f, t) for f, t in out
            if b'\nX-IMAP: ' not in b'\n' + t.split(b'\n\n')[0]]


class DeliveryBase(unittest.TestCase):
    def setUp(self):
        if not have_binary('tmail') or not have_binary('dmail'):
            self.skipTest('tmail/dmail not built')
        self.env = MailEnv()

    def tearDown(self):
        self.env.close()

    def tmail(self, args, msg=MSG, **kw):
        return self.env.run('tmail', list(args), input=msg, as_user=False, **kw)

    def dmail(self, args=(), msg=MSG, **kw):
        return self.env.run('dmail', list(args), input=msg, as_user=True, **kw)

    def require_append(self, r):
        """The drivers are written in parallel: skip instead of failing
        while they cannot append or create yet."""
        if (b'does not support APPEND' in r.stderr or
                b'cannot create mailboxes' in r.stderr):
            self.skipTest('mail_append/create not available for this format yet')

    def read(self, path):
        with open(path, 'rb') as f:
            return f.read()


class TestTmail(DeliveryBase):
    def test_usage(self):
        r = self.tmail([])
        self.assertEqual(r.returncode, EX_USAGE)
        r = self.tmail(['-x', 'alice'])
        self.assertEqual(r.returncode, EX_USAGE)

    def test_unknown_user(self):
        r = self.tmail(['nosuchuser'])
        self.assertEqual(r.returncode, EX_NOUSER, r.stderr)
        self.assertIn('unknown user', self.env.log())

    def test_too_large(self):
        self.env.write_config(max_literal_size='50')
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_DATAERR, r.stderr)
        self.assertFalse(os.path.exists(self.env.inbox) and
                         os.path.getsize(self.env.inbox) > 0)

    def test_empty_message(self):
        r = self.tmail(['alice'], msg=b'')
        self.assertEqual(r.returncode, EX_DATAERR, r.stderr)

    def test_bad_config(self):
        r = self.tmail(['-c', os.path.join(self.env.dir, 'nonexistent.cf'), 'alice'])
        self.assertEqual(r.returncode, EX_TEMPFAIL)

    def test_deliver_to_spool(self):
        r = self.tmail(['alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertEqual(len(msgs), 1)
        # no -f, no From_ line, no Return-Path: MAILER-DAEMON
        self.assertTrue(msgs[0][0].startswith(b'From MAILER-DAEMON '), msgs[0][0])
        self.assertIn(b'Subject: delivery test\n', msgs[0][1])
        self.assertIn(b'Hello Alice.', msgs[0][1])
        self.assertNotIn(b'\r', self.env.read_inbox())
        log = self.env.log()
        self.assertIn('delivered to alice', log)
        self.assertIn('size=', log)

    def test_new_mail_looks_new(self):
        # shells, biff and IMAP \\Marked compare atime and mtime: delivery
        # and LIST must leave atime < mtime (reading the file here would
        # spoil it, so only stat)
        r = self.tmail(['alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        st = os.stat(self.env.inbox)
        self.assertLess(st.st_atime_ns, st.st_mtime_ns)
        if have_binary('imapd'):
            s = self.env.imap()
            untagged, tagged = s.cmd('LIST "" INBOX')
            self.assertTrue(tagged.startswith(b'OK'), tagged)
            self.assertIn(b'\\Marked', untagged[0])
            s.cmd('LOGOUT')
            st = os.stat(self.env.inbox)
            self.assertLess(st.st_atime_ns, st.st_mtime_ns)   # LIST kept it

    def test_sender_option(self):
        r = self.tmail(['-f', 'bounce@example.net', 'alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertTrue(msgs[0][0].startswith(b'From bounce@example.net '), msgs[0][0])

    def test_return_path_added(self):
        # -f becomes a Return-Path header, as UW tmail did
        r = self.tmail(['-f', 'bounce@example.net', 'alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertTrue(msgs[0][1].startswith(b'Return-Path: <bounce@example.net>\n'),
                        msgs[0][1][:200])
        # not twice
        r = self.tmail(['-f', 'x@example.net', 'alice'],
                       msg=b'Return-Path: <orig@example.org>\n' + MSG)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertEqual(msgs[1][1].count(b'Return-Path:'), 1)
        self.assertIn(b'Return-Path: <orig@example.org>', msgs[1][1])
        # the null sender of bounces
        r = self.tmail(['-f', '<>', 'alice'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertTrue(msgs[2][0].startswith(b'From MAILER-DAEMON '), msgs[2][0])
        self.assertTrue(msgs[2][1].startswith(b'Return-Path: <>\n'), msgs[2][1][:100])

    def test_user_plus_folder(self):
        r = self.tmail(['-I', 'lists', 'alice'])      # make the folder
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        r = self.tmail(['alice+lists'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertEqual(len(mbox_messages(self.read(self.env.path('lists')))), 2)
        # no such folder, or a name that could escape: INBOX
        for arg in ('alice+nosuch', 'alice+../alice/lists', 'alice+/etc/passwd',
                    'alice+~bob/x', 'alice+#public/x', 'alice+'):
            r = self.tmail([arg])
            self.assertEqual(r.returncode, EX_OK, (arg, r.stderr))
        self.assertEqual(len(mbox_messages(self.env.read_inbox())), 6)
        self.assertEqual(len(mbox_messages(self.read(self.env.path('lists')))), 2)
        r = self.tmail(['nosuchuser+lists'])
        self.assertEqual(r.returncode, EX_NOUSER, r.stderr)

    def test_sender_from_line(self):
        msg = b'From envelope@example.com Sun Mar 15 12:34:56 2020\n' + MSG
        r = self.tmail(['alice'], msg=msg)
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0][0].startswith(b'From envelope@example.com '), msgs[0][0])
        # the MTA's From_ line is not kept as part of the message
        self.assertNotIn(b'Sun Mar 15 12:34:56 2020\nFrom envelope', self.env.read_inbox())

    def test_sender_return_path(self):
        msg = b'Return-Path: <rp@example.org>\n' + MSG
        r = self.tmail(['alice'], msg=msg)
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertTrue(msgs[0][0].startswith(b'From rp@example.org '), msgs[0][0])

    def test_hostile_sender(self):
        # a sender with spaces and newlines cannot break the From_ line
        r = self.tmail(['-f', 'evil guy\nFrom x', 'alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0][0].startswith(b'From evil_guy_From_x '), msgs[0][0])

    def test_appends_and_escapes(self):
        for i in range(3):
            r = self.tmail(['alice'], msg=sample_message(i + 1))
            self.require_append(r)
            self.assertEqual(r.returncode, EX_OK, r.stderr)
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        # the body line "From the start..." must not start a 5th message
        self.assertEqual(len(msgs), 4, self.env.read_inbox())
        if have_binary('imapd'):
            s = self.env.imap()
            untagged, tagged = s.cmd('EXAMINE INBOX')
            self.assertTrue(tagged.startswith(b'OK'), tagged)
            self.assertTrue(any(u.strip() == b'* 4 EXISTS' for u in untagged), untagged)
            s.cmd('LOGOUT')

    def test_not_root(self):
        # run as the recipient (Postfix mailbox_command): only oneself
        r = self.env.run('tmail', ['bob'], input=MSG, as_user=True)
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)
        r = self.env.run('tmail', ['alice'], input=MSG, as_user=True)
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertEqual(len(mbox_messages(self.env.read_inbox())), 1)

    def test_several_users(self):
        r = self.tmail(['alice', 'bob'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertEqual(len(mbox_messages(self.env.read_inbox())), 1)
        bob = os.path.join(self.env.spool, 'bob')
        self.assertEqual(len(mbox_messages(self.read(bob))), 1)

    def test_unknown_among_known(self):
        r = self.tmail(['alice', 'nosuchuser'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_NOUSER, r.stderr)
        self.assertEqual(len(mbox_messages(self.env.read_inbox())), 1)

    def test_locked_spool_tempfails(self):
        # another delivery agent (alive: this test process) holds the dotlock
        self.env.write_config(lock_timeout='1')
        self.env.write_inbox(b'')
        lock = self.env.inbox + '.lock'
        with open(lock, 'w') as f:
            f.write('%d\n' % os.getpid())
        t0 = time.monotonic()
        r = self.tmail(['alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(self.env.read_inbox(), b'')
        self.assertTrue(os.path.exists(lock))   # not broken: owner alive
        self.assertIn('deferred', self.env.log())
        os.unlink(lock)
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertEqual(len(mbox_messages(self.env.read_inbox())), 1)

    def test_migrated_mbox_inbox(self):
        # ~/mbox in mbox format is the INBOX (FAQ 7.7): delivery goes there
        mbox = self.env.path('mbox')
        with open(mbox, 'wb') as f:
            f.write(b'From old@example.org Sun Mar 15 12:00:00 2020\n'
                    b'Subject: old\n\nold\n\n')
        r = self.tmail(['alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertEqual(len(mbox_messages(self.read(mbox))), 2)
        self.assertFalse(os.path.exists(self.env.inbox) and
                         os.path.getsize(self.env.inbox) > 0)

    def test_status_counts_spool_mail_of_mbox_inbox(self):
        # ~/mbox is the INBOX and new mail waits in the spool: STATUS
        # INBOX counts it as the SELECT that moves it will show
        with open(self.env.path('mbox'), 'wb') as f:
            f.write(b'From old@example.org Sun Mar 15 12:00:00 2020\n'
                    b'Subject: old\n\nold\n\n')
        self.env.write_inbox(
            b'From a@example.org Sun Mar 15 12:00:01 2020\nSubject: new 1\n\none\n\n'
            b'From b@example.org Sun Mar 15 12:00:02 2020\nSubject: new 2\n'
            b'Status: RO\n\ntwo\n\n')
        s = self.env.imap()
        self.addCleanup(s.close)
        untagged, t = s.cmd('STATUS INBOX (MESSAGES RECENT UNSEEN UIDNEXT)')
        self.assertTrue(t.startswith(b'OK'), t)
        st = dict(re.findall(rb'(MESSAGES|RECENT|UNSEEN|UIDNEXT) (\d+)', untagged[0]))
        self.assertEqual(st[b'MESSAGES'], b'3', untagged)
        self.assertEqual(st[b'RECENT'], b'3', untagged)
        # the spool's "Status: RO" came from the sender, not a server:
        # not \Seen (issue 15)
        self.assertEqual(st[b'UNSEEN'], b'3', untagged)
        # the spool was not touched by STATUS
        self.assertEqual(len(mbox_messages(self.env.read_inbox())), 2)
        untagged, t = s.cmd('SELECT INBOX')
        self.assertTrue(t.startswith(b'OK'), t)
        sel = b'\n'.join(untagged)
        self.assertIn(b'* 3 EXISTS', sel)
        self.assertIn(b'[UIDNEXT ' + st[b'UIDNEXT'] + b']', sel)
        untagged, t = s.cmd('SEARCH UNSEEN')
        self.assertEqual(len(untagged[0].split()) - 2, 3, untagged)

    def test_inbox_option(self):
        r = self.tmail(['-I', 'mail/incoming', 'alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertTrue(os.path.exists(self.env.path('mail', 'incoming')))
        self.assertFalse(os.path.exists(self.env.inbox) and
                         os.path.getsize(self.env.inbox) > 0)

    def test_mbx_inbox(self):
        # "#driver.mbx/INBOX" makes ~/INBOX in mbx; later deliveries to
        # INBOX find it there (FAQ 4.5)
        r = self.tmail(['-I', '#driver.mbx/INBOX', 'alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        mbx = self.env.path('INBOX')
        self.assertTrue(os.path.exists(mbx))
        self.assertTrue(self.read(mbx).startswith(b'*mbx*'))
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertEqual(self.read(mbx).count(b'Subject: delivery test'), 2)


    def test_maildir_inbox(self):
        # inbox-path naming a maildir: "#driver.maildir/INBOX" creates it
        # there; then plain INBOX deliveries find it
        self.env.write_config(inbox_path='%h/Maildir')
        r = self.tmail(['-I', '#driver.maildir/INBOX', 'alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        md = self.env.path('Maildir')
        files = [f for d in ('new', 'cur') for f in os.listdir(os.path.join(md, d))]
        self.assertEqual(len(files), 2, files)
        self.assertFalse(os.path.exists(self.env.inbox))

    def test_maildir_inbox_default_driver(self):
        # or with default-driver maildir, the first delivery creates it
        self.env.write_config(inbox_path='%h/Maildir', default_driver='maildir')
        r = self.tmail(['alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        md = self.env.path('Maildir')
        self.assertEqual(len(os.listdir(os.path.join(md, 'new')) +
                             os.listdir(os.path.join(md, 'cur'))), 1)

    def test_maildir_folder(self):
        r = self.tmail(['-I', '#driver.maildir/box', 'alice'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        r = self.tmail(['-I', 'box', 'alice'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        box = self.env.path('box')
        files = [f for d in ('new', 'cur') for f in os.listdir(os.path.join(box, d))]
        self.assertEqual(len(files), 2, files)


class TestDmail(DeliveryBase):
    def test_usage(self):
        r = self.dmail(['folder'])      # must be +folder
        self.assertEqual(r.returncode, EX_USAGE)
        r = self.dmail(['+a', '+b'])
        self.assertEqual(r.returncode, EX_USAGE)

    def test_inbox(self):
        r = self.dmail(['-f', 'who@example.org'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        msgs = mbox_messages(self.env.read_inbox())
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0][0].startswith(b'From who@example.org '))
        self.assertIn('delivered to alice', self.env.log())

    def test_folder_created(self):
        r = self.dmail(['+lists/dev'])
        self.require_append(r)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        path = self.env.path('lists', 'dev')
        self.assertEqual(len(mbox_messages(self.read(path))), 1)
        r = self.dmail(['+lists/dev'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertEqual(len(mbox_messages(self.read(path))), 2)

    def test_restricted_name(self):
        self.env.write_config(restrict_mailbox_access='root')
        r = self.dmail(['+/tmp/x'])
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)
        r = self.dmail(['+../x'])
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)

    def test_unknown_format(self):
        r = self.dmail(['+#driver.nosuch/x'])
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)
        self.assertIn(b'Unknown mailbox format', r.stderr)

    def test_too_large(self):
        self.env.write_config(max_literal_size='10')
        r = self.dmail()
        self.assertEqual(r.returncode, EX_DATAERR)

    def test_locked_tempfails(self):
        self.env.write_config(lock_timeout='1')
        self.env.write_inbox(b'')
        with open(self.env.inbox + '.lock', 'w') as f:
            f.write('%d\n' % os.getpid())
        r = self.dmail()
        self.require_append(r)
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
        self.assertEqual(self.env.read_inbox(), b'')


if __name__ == '__main__':
    unittest.main()

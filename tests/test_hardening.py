"""Hardening (issue 15): a local user on a shared host, a crafted file in
a shared directory or an unauthenticated client cannot hurt another
user's mail.

Most tests run under the cwrap wrappers (tests/lib/cctest.py) with files
given real foreign owners by chown. The ones about privileges (what a
tmail child can still open once it is some user) need the kernel to
enforce them: they create two real users with useradd in the test's own
directory and spool, run the programs as real root or as those users,
and remove the users afterwards.
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from cctest import MailEnv, binary, sample_message  # noqa: E402

EX_OK = 0
EX_TEMPFAIL = 75

MSG = (b'From: Mallory <mallory@example.org>\n'
       b'To: someone@example.org\n'
       b'Subject: hardening\n'
       b'\n'
       b'body text\n')

SPOOL_MSG = (b'From victim@example.org Sun Mar 15 12:34:56 2020\n'
             b'From: v@example.org\nSubject: the victim\'s own mail\n\nprivate\n\n')


class RealUsers:
    """Two real users (useradd) with homes in a private directory, a
    spool like Debian's (2775 root:mail) and a config for the tools."""

    def __init__(self, n=2):
        if os.geteuid() != 0 or shutil.which('useradd') is None:
            raise unittest.SkipTest('needs root and useradd')
        self.dir = tempfile.mkdtemp(prefix='cch15-')
        os.chmod(self.dir, 0o755)
        tag = uuid.uuid4().hex[:6]
        self.names = ['cch15%s%s' % ('abcdefgh'[i], tag) for i in range(n)]
        self.made = []
        self.spool = os.path.join(self.dir, 'spool')
        os.makedirs(self.spool)
        os.chown(self.spool, 0, 8)      # group mail
        os.chmod(self.spool, 0o2775)
        locks = os.path.join(self.dir, 'locks')
        os.makedirs(locks)
        os.chmod(locks, 0o1777)
        self.logfile = os.path.join(self.dir, 'log')
        open(self.logfile, 'w').close()
        os.chmod(self.logfile, 0o666)
        self.homes = {}
        self.ids = {}
        try:
            for name in self.names:
                home = os.path.join(self.dir, 'home', name)
                os.makedirs(home)
                subprocess.run(['useradd', '-M', '-U', '-d', home, '-s',
                                '/usr/sbin/nologin', name], check=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                self.made.append(name)
                import pwd
                pw = pwd.getpwnam(name)
                os.chown(home, pw.pw_uid, pw.pw_gid)
                os.chmod(home, 0o700)
                self.homes[name] = home
                self.ids[name] = (pw.pw_uid, pw.pw_gid)
        except Exception:
            self.close()
            raise
        self.config = os.path.join(self.dir, 'c-client.cf')
        with open(self.config, 'w') as f:
            f.write('spool-directory %s\n' % self.spool)
            f.write('lock-directory %s\n' % locks)
            f.write('mlock-program %s\n' % os.path.join(self.dir, 'no-mlock'))

    def env(self):
        e = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
             'CCLIENT_CONFIG': self.config, 'CCLIENT_LOG_FILE': self.logfile,
             'ASAN_OPTIONS': 'detect_leaks=0:abort_on_error=1',
             'HOME': '/root'}
        return e

    def tmail(self, args, msg=MSG):
        return subprocess.run([binary('tmail')] + list(args), input=msg,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.env(), cwd=self.dir, timeout=60)

    def log(self):
        with open(self.logfile, errors='replace') as f:
            return f.read()

    def close(self):
        for name in self.made:
            subprocess.run(['userdel', name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
            # -U made a group of the same name; userdel removes it when
            # USERGROUPS_ENAB is on, else do it here
            subprocess.run(['groupdel', name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.made = []
        shutil.rmtree(self.dir, ignore_errors=True)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


class TestTmailFolderLinks(unittest.TestCase):
    """Item 1: mail to attacker+d/victim with ~attacker/d -> the spool."""

    def setUp(self):
        self.u = RealUsers()
        self.addCleanup(self.u.close)
        self.attacker, self.victim = self.u.names
        # Debian's spool file: 0660 user:mail
        self.vspool = os.path.join(self.u.spool, self.victim)
        with open(self.vspool, 'wb') as f:
            f.write(SPOOL_MSG)
        os.chown(self.vspool, self.u.ids[self.victim][0], 8)
        os.chmod(self.vspool, 0o660)

    def check_refused(self, arg):
        before = read(self.vspool)
        r = self.u.tmail([arg])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertEqual(read(self.vspool), before, 'victim spool changed')
        self.assertEqual(sorted(os.listdir(self.u.spool)),
                         sorted([self.victim, self.attacker]),
                         'files appeared in the spool')
        # the message went to the attacker's own INBOX instead
        self.assertIn(b'Subject: hardening',
                      read(os.path.join(self.u.spool, self.attacker)))
        self.assertIn('refused', self.u.log())

    def test_symlink_to_spool_directory(self):
        os.symlink(self.u.spool, os.path.join(self.u.homes[self.attacker], 'd'))
        self.check_refused('%s+d/%s' % (self.attacker, self.victim))

    def test_symlink_to_spool_file(self):
        os.symlink(self.vspool, os.path.join(self.u.homes[self.attacker], 'v'))
        self.check_refused('%s+v' % self.attacker)

    def test_folder_child_has_no_mail_group(self):
        """even a path that is no link: the folder child holds only the
        user's own groups, so a spool file it can name is not writable"""
        # a directory of the attacker's own that is really a bind of
        # nothing: use a hard link to the victim's file where the kernel
        # allows it (protected_hardlinks may refuse: then the owner
        # check is what this case shows)
        link = os.path.join(self.u.homes[self.attacker], 'h')
        try:
            os.link(self.vspool, link)
        except OSError:
            self.skipTest('no hard links here')
        self.check_refused('%s+h' % self.attacker)

    def test_own_folder_still_works(self):
        home = self.u.homes[self.attacker]
        box = os.path.join(home, 'lists')
        with open(box, 'wb'):
            pass
        os.chown(box, *self.u.ids[self.attacker])
        os.chmod(box, 0o600)
        r = self.u.tmail(['%s+lists' % self.attacker])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertIn(b'Subject: hardening', read(box))
        self.assertFalse(os.path.exists(os.path.join(self.u.spool, self.attacker)))


class TestSpoolOwner(unittest.TestCase):
    """Item 4: a spool file that is not the recipient's is refused."""

    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)

    def tmail(self, args):
        return self.env.run('tmail', list(args), input=MSG, as_user=False)

    def test_precreated_by_other_user(self):
        with open(self.env.inbox, 'wb') as f:
            f.write(SPOOL_MSG)
        os.chown(self.env.inbox, self.env.uid + 1, self.env.gid + 1)   # bob's
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
        self.assertEqual(read(self.env.inbox), SPOOL_MSG)
        self.assertIn('not owned by its recipient', self.env.log())
        # dmail (run as the user) refuses the same way
        r = self.env.run('dmail', [], input=MSG, as_user=True)
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
        self.assertEqual(read(self.env.inbox), SPOOL_MSG)
        # once it is alice's, mail flows
        os.chown(self.env.inbox, self.env.uid, self.env.gid)
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertIn(b'Subject: hardening', read(self.env.inbox))

    def test_hard_link_refused(self):
        other = os.path.join(self.env.dir, 'elsewhere')
        with open(other, 'wb') as f:
            f.write(SPOOL_MSG)
        os.link(other, self.env.inbox)
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
        self.assertEqual(read(other), SPOOL_MSG)
        self.assertIn('more than one hard link', self.env.log())

    def test_symlink_and_fifo_refused(self):
        other = os.path.join(self.env.dir, 'elsewhere')
        with open(other, 'wb') as f:
            f.write(SPOOL_MSG)
        os.symlink(other, self.env.inbox)
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
        self.assertEqual(read(other), SPOOL_MSG)
        os.unlink(self.env.inbox)
        os.mkfifo(self.env.inbox)
        r = self.tmail(['alice'])
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)


# ---- journals (item 2) ----

FNV_INIT = 0xcbf29ce484222325


def fnv1a(data, h=FNV_INIT):
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xffffffffffffffff
    return h


def make_journal(st, old_len, new_len, records, state, redo=False):
    """A journal in journal.c's format. records: (off, new_len, hash,
    old_bytes)."""
    body = b''
    for off, nlen, h, old in records:
        body += struct.pack('<QQQQ', off, nlen, h, len(old)) + old
    total = 64 + len(body) + 16
    hdr = (b'CCJRNL1\0' + struct.pack('<QQQQ', st.st_dev, st.st_ino, old_len, new_len) +
           struct.pack('<I', len(records)) + bytes([1 if redo else 0, 0, 0, 0]) +
           struct.pack('<Q', total))
    h = fnv1a(hdr + struct.pack('<Q', 0) + body)
    return hdr + struct.pack('<Q', state) + body + struct.pack('<Q', h) + b'CCJEND1\0'


class TestJournals(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)
        self.env.write_inbox(SPOOL_MSG)

    def select(self):
        s = self.env.imap()
        u, t = s.cmd('SELECT INBOX')
        return s, u, t

    def test_foreign_journal_not_replayed(self):
        """bob plants a valid undo journal beside alice's spool file: its
        "old bytes" must not be written into her mailbox"""
        st = os.stat(self.env.inbox)
        evil = b'EVIL!'
        j = make_journal(st, st.st_size, st.st_size,
                         [(0, len(evil), 12345, evil)], 1)   # WRITING, bad hash: undo
        jpath = os.path.join(self.env.spool, '.alice.journal')
        with open(jpath, 'wb') as f:
            f.write(j)
        os.chown(jpath, self.env.uid + 1, self.env.gid + 1)
        os.chmod(jpath, 0o600)
        s, u, t = self.select()
        self.assertTrue(t.startswith(b'OK'), t)
        self.assertIn(b'* 1 EXISTS', b''.join(u))
        self.assertTrue(read(self.env.inbox).startswith(SPOOL_MSG[:40]))
        self.assertNotIn(b'EVIL', read(self.env.inbox))
        # writes are not blocked by it
        _, t = s.cmd('STORE 1 +FLAGS (\\Flagged)')
        self.assertTrue(t.startswith(b'OK'), t)
        s.cmd('LOGOUT')
        s.close()
        self.assertIn(b'X-Status: F', read(self.env.inbox))
        self.assertNotIn(b'EVIL', read(self.env.inbox))
        self.assertIn('owned by another user', self.env.log())
        # a copy is kept for the administrator, bob's file is left alone
        jdir = os.path.join(self.env.home, '.cclient-journal')
        self.assertTrue(any(n.startswith('damaged-') for n in os.listdir(jdir)))
        self.assertTrue(os.path.exists(jpath))

    def test_journal_longer_than_file_is_damage(self):
        """a (trusted) journal whose lengths exceed the file: no panic,
        the mailbox opens as it is and the journal is kept aside"""
        st = os.stat(self.env.inbox)
        j = make_journal(st, st.st_size, st.st_size + 1000, [], 2)   # WRITTEN
        jdir = os.path.join(self.env.home, '.cclient-journal')
        os.makedirs(jdir, exist_ok=True)
        jpath = os.path.join(jdir, '%x-%x' % (st.st_dev, st.st_ino))
        with open(jpath, 'wb') as f:
            f.write(j)
        os.chmod(jpath, 0o600)
        s, u, t = self.select()
        self.assertTrue(t.startswith(b'OK'), t)
        self.assertIn(b'* 1 EXISTS', b''.join(u))
        s.cmd('LOGOUT')
        s.close()
        self.assertTrue(os.path.exists(jpath + '.damaged'))
        self.assertFalse(os.path.exists(jpath))
        self.assertIn('does not fit the mailbox', self.env.log())

    def test_shared_directory_journal_in_home(self):
        """the spool is 1777: a change journals under ~/.cclient-journal,
        never beside the mailbox where anyone may create names"""
        st = os.stat(self.env.inbox)
        # crash right after the first journal is in place
        s = self.env.imap(extra_env={'CCLIENT_CRASH_POINT': '2'})
        s.send(b'a SELECT INBOX\r\nb STORE 1 +FLAGS (\\Flagged)\r\n')
        s.expect_eof()
        s.close()
        self.assertEqual([n for n in os.listdir(self.env.spool) if 'journal' in n], [])
        self.assertTrue(os.path.exists(os.path.join(
            self.env.home, '.cclient-journal', '%x-%x' % (st.st_dev, st.st_ino))))
        # and the next open finds it there and repairs
        s, u, t = self.select()
        self.assertTrue(t.startswith(b'OK'), t)
        s.cmd('LOGOUT')
        s.close()
        self.assertEqual(os.listdir(os.path.join(self.env.home, '.cclient-journal')), [])

    def test_no_home_journal_beside_after_all(self):
        """a user without a usable home (a virtual user's) still gets
        mail into a 1777 spool: the journal goes beside the mailbox"""
        shutil.rmtree(self.env.home)
        r = self.env.run('tmail', ['alice'], input=MSG, as_user=False)
        self.assertEqual(r.returncode, EX_OK, r.stderr)
        self.assertIn(b'Subject: hardening', read(self.env.inbox))
        self.assertEqual([n for n in os.listdir(self.env.spool) if 'journal' in n], [])

    def test_planted_tmp_name_not_truncated(self):
        """a hard link planted at the journal's temporary name is
        replaced, never truncated and written through"""
        box = self.env.path('box')
        with open(box, 'wb') as f:
            f.write(SPOOL_MSG)
        target = os.path.join(self.env.dir, 'target')
        with open(target, 'wb') as f:
            f.write(b'keep me')
        os.link(target, self.env.path('.box.journal.tmp'))
        s = self.env.imap()
        _, t = s.cmd('SELECT box')
        self.assertTrue(t.startswith(b'OK'), t)
        _, t = s.cmd('STORE 1 +FLAGS (\\Seen)')
        self.assertTrue(t.startswith(b'OK'), t)
        s.cmd('LOGOUT')
        s.close()
        self.assertEqual(read(target), b'keep me')
        self.assertIn(b'Status: RO', read(box))


# ---- hidden headers a sender wrote (item 6) ----

FORGED = (b'From mallory@example.org Mon Mar 16 10:00:00 2020\n'
          b'From: mallory@example.org\nSubject: forged\n'
          b'Status: RO\nX-Status: DFA\n'
          b'X-Keywords: ' + b' '.join(b'kw%d' % i for i in range(70)) + b'\n'
          b'X-UID: %d\n\nforged body\n\n')


class TestForgedStatusHeaders(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)

    def select(self):
        s = self.env.imap()
        u, t = s.cmd('SELECT INBOX')
        self.assertTrue(t.startswith(b'OK'), t)
        return s, b''.join(u)

    def uidvalidity(self, untagged):
        import re
        return int(re.search(rb'UIDVALIDITY (\d+)', untagged).group(1))

    def fetch(self, s, seq):
        u, t = s.cmd('FETCH %d (UID FLAGS)' % seq)
        self.assertTrue(t.startswith(b'OK'), t)
        return b''.join(u)

    def test_mta_delivery_after_server_data(self):
        self.env.write_inbox(SPOOL_MSG)
        s, u = self.select()                    # writes the UID data
        uv = self.uidvalidity(u)
        s.cmd('LOGOUT')
        s.close()
        for forged_uid in (1, 2, 999999):
            with open(self.env.inbox, 'ab') as f:     # as an MTA appends
                f.write(FORGED % forged_uid)
        s, u = self.select()
        self.assertEqual(self.uidvalidity(u), uv, 'a sender forced a new UIDVALIDITY')
        self.assertIn(b'* 4 EXISTS', u)
        self.assertNotIn(b'kw1', u)             # FLAGS / PERMANENTFLAGS
        for seq, uid in ((2, 2), (3, 3), (4, 4)):
            f = self.fetch(s, seq)
            self.assertIn(b'UID %d ' % uid, f)
            for flag in (b'\\Seen', b'\\Deleted', b'\\Flagged', b'\\Answered', b'kw'):
                self.assertNotIn(flag, f)
        s.cmd('LOGOUT')
        s.close()
        # keywords the user sets still work: the table was not used up
        s, u = self.select()
        _, t = s.cmd('STORE 2 +FLAGS (Mine)')
        self.assertTrue(t.startswith(b'OK'), t)
        self.assertIn(b'Mine', self.fetch(s, 2))
        s.cmd('LOGOUT')
        s.close()

    def test_forged_pseudo_message_not_hidden(self):
        """a sender's "FOLDER INTERNAL DATA" message, delivered by an MTA
        as the first of a fresh spool, would hide itself: it is shown"""
        forged = (b'From MAILER-DAEMON Mon Mar 16 10:00:00 2020\n'
                  b'Received: from evil.example by mx.example; Mon, 16 Mar 2020\n'
                  b'Date: Mon, 16 Mar 2020 10:00:00 +0000\n'
                  b'From: Mail System Internal Data <MAILER-DAEMON@example>\n'
                  b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
                  b'X-IMAP: 1 4000000000 k1 k2 k3\nStatus: RO\n\n'
                  b'please read me\n\n')
        self.env.write_inbox(forged + FORGED % 1)
        s, u = self.select()
        self.assertIn(b'* 2 EXISTS', u)
        self.assertNotIn(b'k1', u)
        self.assertNotIn(b'UIDNEXT 4000000001', u)
        s.cmd('LOGOUT')
        s.close()
        self.assertIn('not taken as folder internal data', self.env.log())

    def test_delivery_during_session_not_reread_as_flags(self):
        """a read-only session re-reads the status blocks of known
        messages when the file grows: a new delivery's block is still
        its sender's and must not turn into flag changes"""
        self.env.write_inbox(SPOOL_MSG)
        s, u = self.select()                    # writes the UID data
        s.cmd('LOGOUT')
        s.close()
        s = self.env.imap()
        _, t = s.cmd('EXAMINE INBOX')
        self.assertTrue(t.startswith(b'OK'), t)
        with open(self.env.inbox, 'ab') as f:
            f.write(FORGED % 2)
        u, t = s.cmd('NOOP')
        self.assertIn(b'* 2 EXISTS', b''.join(u))
        f2 = self.fetch(s, 2)
        self.assertNotIn(b'\\Seen', f2)
        time.sleep(0.2)
        with open(self.env.inbox, 'ab') as f:  # the file grows again
            f.write(SPOOL_MSG)
        u, t = s.cmd('NOOP')
        self.assertIn(b'* 3 EXISTS', b''.join(u))
        for flag in (b'\\Seen', b'\\Deleted', b'\\Flagged'):
            self.assertNotIn(flag, b''.join(u))
            self.assertNotIn(flag, self.fetch(s, 2))
        s.cmd('LOGOUT')
        s.close()

    def test_fresh_spool_from_mta(self):
        """a spool file no server has opened yet: every message came from
        an MTA"""
        self.env.write_inbox(FORGED % 1 + FORGED % 7)
        s, u = self.select()
        self.assertIn(b'* 2 EXISTS', u)
        self.assertNotIn(b'kw1', u)
        for seq in (1, 2):
            f = self.fetch(s, seq)
            self.assertIn(b'UID %d ' % seq, f)
            self.assertNotIn(b'\\Deleted', f)
            self.assertNotIn(b'\\Seen', f)
        s.cmd('LOGOUT')
        s.close()


# ---- /tmp lock files (item 3) ----

class TestSessionLockFiles(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)
        self.env.write_config(lock_timeout='2')
        self.env.write_inbox(SPOOL_MSG)
        # a process of "alice" that nobody should signal
        self.bystander = subprocess.Popen(['sleep', '60'])
        self.addCleanup(self.stop_bystander)

    def stop_bystander(self):
        if self.bystander.poll() is None:
            self.bystander.kill()
        self.bystander.wait()

    def plant(self, owner=None):
        """the session lock file of alice's INBOX, held (flock) by this
        test process, holding the bystander's PID"""
        import fcntl
        st = os.stat(self.env.inbox)
        path = os.path.join(self.env.dir, 'locks', '.%x.%x' % (st.st_dev, st.st_ino))
        f = open(path, 'w')
        os.chmod(path, 0o666)
        if owner is not None:
            os.chown(path, owner, owner)
        f.write('%d\n' % self.bystander.pid)
        f.flush()
        fcntl.flock(f, fcntl.LOCK_EX)
        self.addCleanup(f.close)
        return path

    def pop_login(self):
        s = self.env.pop()
        s.cmd('USER alice')
        r = s.cmd('PASS secret')
        s.close()
        return r

    def test_pid_in_lock_file_not_signalled(self):
        """anyone can write a PID into the 0666 file: the kiss goes only
        to the process holding the lock"""
        self.plant()
        r = self.pop_login()
        self.assertTrue(r.startswith(b'-ERR'), r)
        time.sleep(0.2)
        self.assertIsNone(self.bystander.poll(), 'bystander was signalled')
        self.assertIn('does not hold the lock', self.env.log())

    def test_foreign_lock_file_refused(self):
        """bob's file in the shared lock directory is not used, and its
        PID is never signalled"""
        self.plant(owner=self.env.uid + 1)
        r = self.pop_login()
        self.assertTrue(r.startswith(b'-ERR'), r)
        time.sleep(0.2)
        self.assertIsNone(self.bystander.poll(), 'bystander was signalled')
        self.assertIn('refused: not a plain file of the mailbox owner', self.env.log())

    def test_real_holder_still_kissed(self):
        """UW's protocol between our own sessions still works"""
        self.env.write_config(lock_timeout='10', pop3_autologout='6')
        s1 = self.env.pop()
        s1.cmd('USER alice')
        self.assertTrue(s1.cmd('PASS secret').startswith(b'+OK'))
        time.sleep(3.5)
        s2 = self.env.pop()
        s2.cmd('USER alice')
        self.assertTrue(s2.cmd('PASS secret').startswith(b'+OK'))
        self.assertIn('sending kiss of death to pid', self.env.log())
        s1.close()
        s2.close()

    def test_private_lock_directory(self):
        """lock-directory %h/.cclient-locks: a directory of the user's
        own, used by the mbx parse lock and the session lock alike"""
        self.env.write_config(lock_directory='%h/.cclient-locks')
        s = self.env.imap()
        _, t = s.cmd('CREATE "#driver.mbx/box"')
        self.assertTrue(t.startswith(b'OK'), t)
        _, t = s.append('box', sample_message(1))
        self.assertTrue(t.startswith(b'OK'), t)
        u, t = s.cmd('SELECT box')
        self.assertTrue(t.startswith(b'OK'), t)
        self.assertIn(b'* 1 EXISTS', b''.join(u))
        s.cmd('LOGOUT')
        s.close()
        d = os.path.join(self.env.home, '.cclient-locks')
        self.assertTrue(os.path.isdir(d))
        self.assertEqual(os.stat(d).st_mode & 0o777, 0o700)
        self.assertFalse(os.path.exists(os.path.join(self.env.dir, '%h')))
        p = self.env.pop()
        p.cmd('USER alice')
        self.assertTrue(p.cmd('PASS secret').startswith(b'+OK'))
        p.cmd('QUIT')
        p.close()


# ---- PREAUTH (item 9) and anonymous COPY (item 11) ----

class TestPreauth(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)

    def greeting_on(self, sock):
        """imapd started as alice (not root) with sock as stdin/stdout,
        as inetd would start it under some account"""
        proc = subprocess.Popen([binary('imapd')], stdin=sock.fileno(),
                                stdout=sock.fileno(), stderr=subprocess.PIPE,
                                env=self.env.environ(as_user=True), cwd=self.env.dir)
        self.env.procs.append(proc)
        return proc

    def test_no_preauth_on_tcp(self):
        import socket
        ls = socket.socket()
        ls.bind(('127.0.0.1', 0))
        ls.listen(1)
        c = socket.create_connection(ls.getsockname(), timeout=20)
        a, _ = ls.accept()
        self.greeting_on(a)
        a.close()
        ls.close()
        c.settimeout(20)
        f = c.makefile('rb')
        g = f.readline()
        self.assertTrue(g.startswith(b'* OK'), g)
        self.assertNotIn(b'PREAUTH', g)
        c.sendall(b'a SELECT INBOX\r\n')
        r = f.readline()
        self.assertTrue(r.startswith(b'a BAD') or r.startswith(b'a NO'), r)
        # logging in as the server's own user works
        c.sendall(b'b LOGIN alice secret\r\n')
        while True:
            r = f.readline()
            if r.startswith(b'b ') or not r:
                break
        self.assertTrue(r.startswith(b'b OK'), r)
        c.close()

    def test_no_preauth_on_unix_socket_of_other_uid(self):
        import socket
        a, b = socket.socketpair()
        # the peer (this test) is real root, imapd believes it is alice
        self.greeting_on(a)
        a.close()
        b.settimeout(20)
        g = b.makefile('rb').readline()
        self.assertTrue(g.startswith(b'* OK'), g)
        b.close()

    def test_preauth_on_pipe(self):
        s = self.env.imap()
        self.assertIn(b'PREAUTH', s.greeting_line)
        s.close()


class TestAnonymousCopy(unittest.TestCase):
    def test_copy_into_public_refused(self):
        env = MailEnv(config={'public-namespace-user': 'bob'})
        self.addCleanup(env.close)
        open(env.settings['anonymous-file'], 'w').close()
        bobhome = os.path.join(env.dir, 'home', 'bob')
        src = os.path.join(bobhome, 'news')
        dst = os.path.join(bobhome, 'target')
        with open(src, 'wb') as f:
            f.write(SPOOL_MSG)
        with open(dst, 'wb'):
            pass
        os.chmod(dst, 0o666)          # writable by "nobody"
        s = env.imap(login=True)
        _, t = s.cmd('LOGIN anonymous guest@example.org')
        self.assertTrue(t.startswith(b'OK'), t)
        _, t = s.cmd('EXAMINE "#public/news"')
        self.assertTrue(t.startswith(b'OK'), t)
        for cmd in ('COPY 1 "#public/target"', 'UID COPY 1:* "#public/target"',
                    'MOVE 1 "#public/target"'):
            _, t = s.cmd(cmd)
            self.assertTrue(t.startswith(b'NO'), (cmd, t))
        s.cmd('LOGOUT')
        s.close()
        self.assertEqual(read(dst), b'')


# ---- set-id programs and the environment (item 10) ----

class TestSetIdEnvironment(unittest.TestCase):
    def setUp(self):
        self.u = RealUsers(n=1)
        self.addCleanup(self.u.close)
        self.user = self.u.names[0]
        self.uid, self.gid = self.u.ids[self.user]
        self.drop = os.path.join(self.u.dir, 'drop')
        os.makedirs(self.drop)
        os.chmod(self.drop, 0o777)

    def setid_copy(self, prog, mode):
        path = os.path.join(self.u.dir, prog + '-setid')
        shutil.copy(binary(prog), path)
        os.chown(path, 0, 8)              # root:mail
        os.chmod(path, mode)
        return path

    def run_as_user(self, path, args=(), input=b'', env=None):
        def demote():
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)
        e = {'PATH': '/usr/bin:/bin', 'HOME': self.u.homes[self.user]}
        e.update(env or {})
        return subprocess.run([path] + list(args), input=input, env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=demote, cwd=self.drop, timeout=60)

    def test_setgid_ignores_log_and_config_variables(self):
        imapd = self.setid_copy('imapd', 0o2755)
        evil_log = os.path.join(self.drop, 'chosen-log')
        evil_cf = os.path.join(self.drop, 'chosen.cf')
        with open(evil_cf, 'w') as f:
            f.write('no-such-setting yes\n')    # would stop the program
        r = self.run_as_user(imapd, input=b'a LOGOUT\r\n',
                             env={'CCLIENT_LOG_FILE': evil_log,
                                  'CCLIENT_CONFIG': evil_cf,
                                  'ASAN_OPTIONS': 'detect_leaks=0'})
        self.assertIn(b'* PREAUTH', r.stdout, r.stderr)
        self.assertFalse(os.path.exists(evil_log), 'set-gid imapd wrote the chosen log')
        # the same program not set-id honours them (so the test means something)
        plain = os.path.join(self.u.dir, 'imapd-plain')
        shutil.copy(binary('imapd'), plain)
        os.chmod(plain, 0o755)
        r = self.run_as_user(plain, input=b'a LOGOUT\r\n',
                             env={'CCLIENT_LOG_FILE': evil_log,
                                  'ASAN_OPTIONS': 'detect_leaks=0'})
        self.assertIn(b'* PREAUTH', r.stdout, r.stderr)
        self.assertTrue(os.path.exists(evil_log))

    def test_tmail_refuses_setuid(self):
        tmail = self.setid_copy('tmail', 0o4755)
        r = self.run_as_user(tmail, [self.user], input=MSG,
                             env={'ASAN_OPTIONS': 'detect_leaks=0'})
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn(b'must not be set-uid', r.stderr)


# ---- login penalty per client address (item 8) ----

class TestLoginPenalty(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv(config={'login-penalty-delay': '1',
                                   'login-penalty-max': '3'})
        self.addCleanup(self.env.close)

    def imap_login(self, port, password):
        from cctest import ImapSession
        s = self.env.connect(port, ImapSession)
        s.greeting()
        t0 = time.monotonic()
        _, t = s.cmd('LOGIN alice %s' % password)
        took = time.monotonic() - t0
        s.close()
        return t, took

    def test_penalty_shared_by_connections_and_servers(self):
        port, _ = self.env.listen('imapd')
        t, took = self.imap_login(port, 'wrong')
        self.assertTrue(t.startswith(b'NO'), t)
        self.assertLess(took, 0.9)                  # no failures yet
        t, took = self.imap_login(port, 'wrong')     # a new connection
        self.assertTrue(t.startswith(b'NO'), t)
        self.assertGreaterEqual(took, 1.0)
        t, took = self.imap_login(port, 'wrong')
        self.assertGreaterEqual(took, 2.0)
        # another server, same table, same address
        pport, _ = self.env.listen('ipop3d')
        from cctest import PopSession
        p = self.env.connect(pport, PopSession)
        p.greeting()
        p.cmd('USER alice')
        t0 = time.monotonic()
        r = p.cmd('PASS secret')
        took = time.monotonic() - t0
        p.close()
        self.assertTrue(r.startswith(b'+OK'), r)
        self.assertGreaterEqual(took, 3.0)          # 4 s, capped at 3
        # the success cleared the count
        t, took = self.imap_login(port, 'wrong')
        self.assertTrue(t.startswith(b'NO'), t)
        self.assertLess(took, 0.9)
        self.assertIn('login penalty: 3 recent failures from 127.0.0.1, waiting 3 s',
                      self.env.log())

    def test_unsafe_table_file_refused(self):
        path = self.env.settings['login-penalty-file']
        os.symlink(os.path.join(self.env.dir, 'elsewhere'), path)
        port, _ = self.env.listen('imapd')
        for _ in range(2):
            t, took = self.imap_login(port, 'wrong')
            self.assertTrue(t.startswith(b'NO'), t)
        self.assertFalse(os.path.exists(os.path.join(self.env.dir, 'elsewhere')))
        self.assertIn('login penalty file', self.env.log())


class TestJournalGrowthDurable(unittest.TestCase):
    """The journal's growth of a file is made durable before data goes
    into the grown area (so a power loss cannot leave data blocks past an
    old end that recovery would take for an MTA's append). Checked on
    the system calls, with strace."""

    def test_fsync_between_growth_and_write(self):
        import re
        if shutil.which('strace') is None:
            self.fail('strace not installed (tests/install-deps.sh)')
        env = MailEnv()
        self.addCleanup(env.close)
        env.write_inbox(SPOOL_MSG)
        msg = sample_message(2)
        inp = (b'l LOGIN alice secret\r\na APPEND INBOX {%d+}\r\n' % len(msg) +
               msg + b'\r\nb LOGOUT\r\n')
        out = os.path.join(env.dir, 'strace.out')
        r = subprocess.run(['strace', '-f', '-e',
                            'trace=ftruncate,fsync,fdatasync,pwrite64', '-o', out,
                            binary('imapd')], input=inp, env=env.environ(as_user=False),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=env.dir, timeout=60)
        self.assertIn(b'a OK', r.stdout)
        size = len(SPOOL_MSG)
        calls = [re.match(r'\d+\s+(\w+)\((\d+)(?:, (\d+))?', l) for l in open(out)]
        calls = [(m.group(1), int(m.group(2)), m.group(3)) for m in calls if m]
        grow = [i for i, (c, fd, n) in enumerate(calls)
                if c == 'ftruncate' and n is not None and int(n) > size]
        self.assertTrue(grow, calls)
        i = grow[0]
        fd = calls[i][1]
        nxt = [c for c, f, _ in calls[i + 1:] if f == fd]
        self.assertTrue(nxt and nxt[0] in ('fsync', 'fdatasync'),
                        'no sync of the growth before the write: %r' % nxt[:3])
        self.assertIn('pwrite64', nxt)


if __name__ == '__main__':
    unittest.main()

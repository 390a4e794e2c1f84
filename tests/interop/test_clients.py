"""Real clients from Debian against our servers on loopback (issue 8).

fetchmail (POP3 plain/STLS/implicit TLS, IMAP, IMAPS) downloads a whole
mailbox; mbsync syncs both ways over plain, STARTTLS and IMAPS; mutt and
alpine are driven in tmux. Every case checks the result on the server
side (the mailbox file or a second protocol session), not only the
client's exit code."""

import glob
import re
import os
import shutil
import subprocess
import time
import unittest

from cctest import MailEnv, sample_message, have_binary

# messages whose bytes must survive every path
TRICKY = [
    sample_message(1),
    sample_message(2, body='From the desk of the editor\r\n>From quoted\r\nplain\r\n'),
    sample_message(3, body='caf\xe9 8-bit body\r\n'.encode('latin-1').decode('latin-1')),
    sample_message(4, body=''),
    sample_message(5, body='.leading dot\r\n..two dots\r\n.\r\nend\r\n'),
]


def messages_of_maildir(path):
    out = []
    for sub in ('new', 'cur'):
        for f in sorted(glob.glob(os.path.join(path, sub, '*'))):
            with open(f, 'rb') as fh:
                out.append(fh.read())
    return out


def norm(b):
    """LF line ends, without the X-TUID header mbsync adds locally"""
    b = b.replace(b'\r\n', b'\n')
    return re.sub(rb'(?m)^X-TUID: .*\n', b'', b)


class ClientTest(unittest.TestCase):
    def setUp(self):
        if not (have_binary('imapd') and have_binary('ipop3d')):
            self.fail('imapd/ipop3d not built')
        self.env = MailEnv(tls=True)
        self.addCleanup(self.env.close)
        self.work = os.path.join(self.env.dir, 'client')
        os.makedirs(self.work)

    def fill_inbox(self, msgs=TRICKY):
        s = self.env.imap()
        for m in msgs:
            _, tagged = s.append('INBOX', m)
            self.assertTrue(tagged.startswith(b'OK'), tagged)
        s.cmd('LOGOUT')
        s.close()

    def imap_count(self, mailbox='INBOX'):
        s = self.env.imap()
        untagged, tagged = s.cmd('STATUS %s (MESSAGES)' % mailbox)
        s.cmd('LOGOUT')
        s.close()
        self.assertTrue(tagged.startswith(b'OK'), tagged)
        line = [u for u in untagged if u.startswith(b'* STATUS')][0]
        return int(line.split(b'MESSAGES ')[1].split(b')')[0])


@unittest.skipUnless(shutil.which('fetchmail'), 'fetchmail not installed')
class FetchmailTest(ClientTest):
    def fetch(self, proto, port, ssl=False, extra=()):
        out = os.path.join(self.work, 'out')
        os.makedirs(out, exist_ok=True)
        for f in glob.glob(out + '/*'):
            os.unlink(f)
        rc = os.path.join(self.work, 'fetchmailrc')
        with open(rc, 'w') as f:
            f.write('poll 127.0.0.1 protocol %s port %d user "%s" password "%s" is "%s" here\n'
                    % (proto, port, self.env.user, self.env.password, self.env.user))
        os.chmod(rc, 0o600)
        mda = "sh -c 'cat > %s/msg.$(date +%%s%%N)'" % out
        args = ['fetchmail', '-f', rc, '--keep', '--invisible', '--nosoftbounce', '-m', mda,
                '--sslcertfile', self.env.cert, '--sslcertck', '--sslcommonname', 'localhost',
                '--pidfile',
                os.path.join(self.work, 'fm.pid')]
        if ssl:
            args.append('--ssl')
        else:
            args += ['--sslproto', 'tls1.2+'] if 'tls' in extra else ['--sslproto', '']
        env = dict(os.environ, HOME=self.work, FETCHMAILHOME=self.work)
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=120)
        self.assertIn(p.returncode, (0, 1), p.stdout.decode(errors='replace'))
        got = []
        for f in sorted(glob.glob(out + '/msg.*')):
            with open(f, 'rb') as fh:
                got.append(fh.read())
        return got, p.stdout.decode(errors='replace')

    def check_bytes(self, got, log):
        self.assertEqual(len(got), len(TRICKY), log)
        # the MDA's files are named by time, which need not follow the
        # order fetchmail retrieved in; compare as sorted lists
        got = sorted(got, key=lambda m: norm(m).rstrip(b'\n'))
        for want, have in zip(sorted(TRICKY, key=lambda m: norm(m).rstrip(b'\n')), got):
            # fetchmail hands the MDA LF line ends and ends every message
            # with one line end; otherwise the bytes must be ours
            self.assertEqual(norm(want).rstrip(b'\n'), have.rstrip(b'\n'), log)

    def test_pop3_plain(self):
        self.fill_inbox()
        port, _ = self.env.listen('ipop3d')
        got, log = self.fetch('pop3', port)
        self.check_bytes(got, log)
        self.assertEqual(self.imap_count(), len(TRICKY))   # --keep: nothing deleted

    def test_pop3_stls(self):
        self.fill_inbox()
        port, _ = self.env.listen('ipop3d')
        got, log = self.fetch('pop3', port, extra=('tls',))
        self.check_bytes(got, log)

    def test_pop3_implicit_tls(self):
        self.fill_inbox()
        port, _ = self.env.listen('ipop3d', args=('-s',))
        got, log = self.fetch('pop3', port, ssl=True)
        self.check_bytes(got, log)

    def test_imap_plain(self):
        self.fill_inbox()
        port, _ = self.env.listen('imapd')
        got, log = self.fetch('imap', port)
        self.check_bytes(got, log)

    def test_imaps(self):
        self.fill_inbox()
        port, _ = self.env.listen('imapd', args=('-s',))
        got, log = self.fetch('imap', port, ssl=True)
        self.check_bytes(got, log)


@unittest.skipUnless(shutil.which('mbsync'), 'isync not installed')
class MbsyncTest(ClientTest):
    def sync(self, port, ssltype):
        local = os.path.join(self.work, 'maildir')
        os.makedirs(local, exist_ok=True)
        rc = os.path.join(self.work, 'mbsyncrc')
        with open(rc, 'w') as f:
            f.write('IMAPAccount t\nHost localhost\nPort %d\nUser %s\nPass %s\nSSLType %s\n'
                    'CertificateFile %s\nAuthMechs LOGIN PLAIN\n\n'
                    'IMAPStore far\nAccount t\n\n'
                    'MaildirStore near\nPath %s/\nInbox %s/INBOX\n\n'
                    'Channel c\nFar :far:\nNear :near:\nPatterns INBOX\nCreate Near\n'
                    'Sync All\nExpunge Both\nSyncState *\n'
                    % (port, self.env.user, self.env.password, ssltype, self.env.cert, local, local))
        p = subprocess.run(['mbsync', '-c', rc, '-a'], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120, env=dict(os.environ, HOME=self.work))
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors='replace'))
        return os.path.join(local, 'INBOX')

    def both_ways(self, ssltype, args=()):
        self.fill_inbox()
        port, _ = self.env.listen('imapd', args=args)
        inbox = self.sync(port, ssltype)
        got = messages_of_maildir(inbox)
        # mbsync stores LF line ends locally; otherwise byte-identical
        self.assertEqual(sorted(norm(g) for g in got), sorted(norm(t) for t in TRICKY))
        # flag a message and delete another locally, then sync up
        files = sorted(glob.glob(os.path.join(inbox, 'cur', '*')) + glob.glob(os.path.join(inbox, 'new', '*')))
        with open(files[0], 'rb') as fh:
            first = norm(fh.read())
        base = os.path.join(inbox, 'cur', os.path.basename(files[0]).split(':')[0])
        os.rename(files[0], base + ':2,FS')
        with open(files[1], 'rb') as fh:
            second = norm(fh.read())
        os.unlink(files[1])
        # and new mail arrives on the server
        s = self.env.imap()
        s.append('INBOX', sample_message(99))
        s.cmd('LOGOUT')
        s.close()
        self.sync(port, ssltype)
        self.assertIn(norm(sample_message(99)), [norm(m) for m in messages_of_maildir(inbox)])
        s = self.env.imap()
        s.cmd('SELECT INBOX')
        untagged, tagged = s.cmd('FETCH 1:* (FLAGS BODY.PEEK[])')
        s.cmd('LOGOUT')
        s.close()
        joined = b'\n'.join(untagged)
        self.assertNotIn(second.replace(b'\n', b'\r\n'), joined)   # deletion went up
        flagged = [u for u in untagged if first.replace(b'\n', b'\r\n') in u]
        self.assertEqual(len(flagged), 1)
        self.assertIn(b'\\Flagged', flagged[0])
        self.assertIn(b'\\Seen', flagged[0])

    def test_plain(self):
        self.both_ways('None')

    def test_starttls(self):
        self.both_ways('STARTTLS')

    def test_imaps(self):
        self.both_ways('IMAPS', args=('-s',))


def tmux(*args, check=True):
    return subprocess.run(['tmux'] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=check, timeout=30)


class TmuxClient:
    def __init__(self, name, cmd, env):
        self.name = name
        envs = []
        for k, v in env.items():
            envs += ['-e', '%s=%s' % (k, v)]
        tmux('new-session', '-d', '-s', name, '-x', '132', '-y', '40', *envs, cmd)

    def screen(self):
        """the pane's text; '' once the program has exited"""
        r = tmux('capture-pane', '-p', '-t', self.name, check=False)
        return r.stdout.decode(errors='replace') if r.returncode == 0 else ''

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text.lower() in s.lower():
                return s
            time.sleep(0.2)
        raise AssertionError('%r not on screen:\n%s' % (text, self.screen()))

    def keys(self, *keys):
        tmux('send-keys', '-t', self.name, *keys)

    def close(self):
        tmux('kill-session', '-t', self.name, check=False)


@unittest.skipUnless(shutil.which('mutt') and shutil.which('tmux'), 'mutt/tmux not installed')
class MuttTest(ClientTest):
    def test_open_inbox_and_copy(self):
        self.fill_inbox(TRICKY[:3])
        port, _ = self.env.listen('imapd')
        rc = os.path.join(self.work, 'muttrc')
        with open(rc, 'w') as f:
            f.write('set imap_user=%s\nset imap_pass=%s\nset folder=imap://127.0.0.1:%d/\n'
                    'set ssl_starttls=no\nset ssl_force_tls=no\nset confirmcreate=no\n'
                    'set confirmappend=no\nset header_cache=""\nset move=no\nset mbox_type=mbox\n'
                    % (self.env.user, self.env.password, port))
        c = TmuxClient('mutt%d' % os.getpid(), 'mutt -n -F %s -f imap://%s@127.0.0.1:%d/INBOX'
                       % (rc, self.env.user, port), {'HOME': self.work, 'TERM': 'xterm'})
        try:
            c.wait_for('Test message 1')
            c.keys('C')
            c.wait_for('Copy to mailbox')
            c.keys('=Saved', 'Enter')
            time.sleep(1)
            c.keys('q')
            time.sleep(1)
        finally:
            c.close()
        self.assertEqual(self.imap_count('Saved'), 1)
        self.assertEqual(self.imap_count('INBOX'), 3)


@unittest.skipUnless(shutil.which('alpine') and shutil.which('tmux'), 'alpine/tmux not installed')
class AlpineTest(ClientTest):
    def test_read_delete_expunge(self):
        self.fill_inbox(TRICKY[:3])
        port, _ = self.env.listen('imapd')
        rc = os.path.join(self.work, 'pinerc')
        with open(rc, 'w') as f:
            f.write('inbox-path={127.0.0.1:%d/user=%s/notls}INBOX\n'
                    'feature-list=quit-without-confirm,expunge-without-confirm\n'
                    'personal-name=Test\nuser-domain=example.org\n' % (port, self.env.user))
        os.makedirs(os.path.join(self.work, 'mail'), exist_ok=True)
        c = TmuxClient('alpine%d' % os.getpid(), 'alpine -p %s -i' % rc,
                       {'HOME': self.work, 'TERM': 'xterm'})
        try:
            # first start: a greeting screen, then the password prompt
            deadline = time.monotonic() + 40
            typed = False
            while time.monotonic() < deadline:
                s = c.screen()
                if 'Test message 1' in s:
                    break
                if 'Exit this greeting' in s:
                    c.keys('E')
                elif 'Preserve password' in s:
                    c.keys('n')
                elif 'password' in s.lower() and not typed:
                    c.keys(self.env.password, 'Enter')
                    typed = True
                time.sleep(0.3)
            c.wait_for('Test message 1')
            c.keys('Enter')                      # read message 1
            c.wait_for('Body of message 1')
            c.keys('d')                          # delete it
            time.sleep(0.5)
            c.keys('x')                          # expunge
            time.sleep(0.5)
            s = c.screen()
            if 'Expunge' in s and '?' in s:
                c.keys('y')
            time.sleep(1)
            c.keys('q')
            time.sleep(0.5)
            if 'Really quit' in c.screen():
                c.keys('y')
            time.sleep(1)
        finally:
            c.close()
        self.assertEqual(self.imap_count('INBOX'), 2, self.env.log())


if __name__ == '__main__':
    unittest.main()

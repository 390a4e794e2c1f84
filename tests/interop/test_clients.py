"""Real clients from Debian against our servers on loopback (issue 8).

fetchmail (POP3 plain/STLS/implicit TLS, IMAP, IMAPS) downloads a whole
mailbox; mbsync syncs both ways over plain, STARTTLS and IMAPS; mutt and
alpine are driven in tmux. Every case checks the result on the server
side (the mailbox file or a second protocol session), not only the
client's exit code. ByteExactTest sends awkward messages (From_ lines,
lone CRs, 8-bit, empty body, 2 MB attachment) through IMAP, POP3,
fetchmail and mbsync for mbox, mbx and maildir mailboxes."""

import base64
import glob
import imaplib
import os
import poplib
import random
import re
import shutil
import subprocess
import time
import unittest

from cctest import MailEnv, TmuxClient, sample_message, have_binary

# messages whose bytes must survive every path
TRICKY = [
    sample_message(1),
    sample_message(2, body='From the desk of the editor\r\n>From quoted\r\nplain\r\n'),
    sample_message(3, body='caf\xe9 8-bit body\r\n'.encode('latin-1').decode('latin-1')),
    sample_message(4, body=''),
    sample_message(5, body='.leading dot\r\n..two dots\r\n.\r\nend\r\n'),
]



def _exact_msg(i, subject, body, extra=b''):
    return (b'From: Sender <sender@example.org>\r\nTo: alice@example.org\r\nSubject: ' + subject +
            b'\r\nDate: Sun, 15 Mar 2020 12:34:%02d +0100\r\nMessage-ID: <x%d@example.org>\r\n' % (i, i) +
            extra + b'\r\n' + body)


def _big_msg():
    """multipart with a 2 MB base64 attachment (1.5 MB of random bytes)"""
    b64 = base64.encodebytes(random.Random(8).randbytes(1536 * 1024)).replace(b'\n', b'\r\n')
    return _exact_msg(25, b'2 MB attachment',
                      b'--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n'
                      b'--b1\r\nContent-Type: application/octet-stream\r\n'
                      b'Content-Transfer-Encoding: base64\r\n'
                      b'Content-Disposition: attachment; filename="blob.bin"\r\n\r\n' + b64 +
                      b'--b1--\r\n',
                      b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n')


# byte-exactness through every path (ByteExactTest): "From " lines that an
# mbox must quote and unquote, lone CRs in header and body, raw 8-bit
# bytes in header and body, an empty body, a 2 MB attachment, dot lines
EXACT = [
    _exact_msg(21, b'From lines', b'From the desk of the editor\r\nFrom: not a header\r\n'
               b'>From quoted once\r\n>>From twice\r\n\r\nFrom after a blank line\r\nend\r\n'),
    _exact_msg(22, b'lone\rCR in the subject',
               b'body\rwith a lone CR\r\n\rCR at line start\r\nlast\rline\r\n', b'X-Lone-CR: a\rb\r\n'),
    _exact_msg(23, b'8bit \xc3\xa9t\xc3\xa9', b'caf\xe9 latin-1, caf\xc3\xa9 UTF-8, \x80\x81\xfe\xff raw\r\n',
               b'X-8bit: na\xefve\r\n'),
    _exact_msg(24, b'empty body', b''),
    _big_msg(),
    _exact_msg(26, b'dots', b'.leading dot\r\n..two dots\r\n.\r\nend\r\n'),
]


def exact_key(m):
    """which EXACT message this is, whatever a client did to it"""
    found = re.search(rb'Message-ID: <(x\d+)@', m)
    return found.group(1) if found else b'?'


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


class ByteExactTest(ClientTest):
    """Every EXACT message comes back byte-identical through IMAP FETCH
    BODY[], POP3 RETR (poplib, dot-unstuffed), fetchmail (POP3, IMAP
    INBOX and IMAP `folder`) and mbsync, for an mbox, mbx and maildir
    INBOX and a second mailbox of the same format.

    What the clients themselves do, and all we allow for: fetchmail with
    an MDA defaults to "stripcr" (every CR removed, lone ones too) and
    ends a message with one line end, so it also runs with "no stripcr",
    where the MDA must get our bytes exactly, lone CRs included. mbsync
    stores LF line ends by dropping every CR (isync has no option to keep
    lone ones) and adds an X-TUID header. IMAP FETCH and POP3 RETR show
    the lone CRs leave the server."""

    def setup_format(self, fmt):
        self.env.write_config(default_driver=fmt)
        s = self.env.imap()
        for box in ('realinbox', 'other'):
            _, tagged = s.cmd('CREATE %s' % box)
            self.assertTrue(tagged.startswith(b'OK'), tagged)
        s.cmd('LOGOUT')
        s.close()
        if fmt != 'mbox':        # an mbox INBOX is the spool file
            self.env.write_config(inbox_path=self.env.path('realinbox'))
        s = self.env.imap()
        for box in ('INBOX', 'other'):
            for m in EXACT:
                _, tagged = s.append(box, m)
                self.assertTrue(tagged.startswith(b'OK'), tagged)
        s.cmd('LOGOUT')
        s.close()
        if fmt == 'mbox':
            # mbox quotes the body's "From " lines on disk
            with open(self.env.inbox, 'rb') as f:
                self.assertIn(b'\n>From the desk', f.read())
        self.imap_port, _ = self.env.listen('imapd')
        self.pop_port, _ = self.env.listen('ipop3d')

    def assert_same(self, got, want, how, fix=lambda m: m):
        """got: list of messages in any order; compared by Message-ID"""
        self.assertEqual(sorted(exact_key(g) for g in got), sorted(exact_key(w) for w in want), how)
        have = {exact_key(g): g for g in got}
        for w in want:
            g, w2 = have[exact_key(w)], fix(w)
            if g != w2:
                at = next((i for i in range(min(len(g), len(w2))) if g[i] != w2[i]), min(len(g), len(w2)))
                self.fail('%s: %s differs at byte %d of %d/%d: got %r, want %r' % (
                    how, exact_key(w), at, len(g), len(w2), g[max(0, at - 30):at + 30],
                    w2[max(0, at - 30):at + 30]))

    def check_imap(self):
        m = imaplib.IMAP4('127.0.0.1', self.imap_port)
        try:
            m.login(self.env.user, self.env.password)
            for box in ('INBOX', 'other'):
                typ, _ = m.select(box, readonly=True)
                self.assertEqual(typ, 'OK')
                got = []
                for i in range(1, len(EXACT) + 1):
                    typ, data = m.fetch(str(i), '(BODY.PEEK[])')
                    self.assertEqual(typ, 'OK')
                    got.append(data[0][1])
                self.assert_same(got, EXACT, 'IMAP FETCH BODY[] ' + box)
        finally:
            m.logout()

    def check_pop3(self):
        p = poplib.POP3('127.0.0.1', self.pop_port, timeout=60)
        try:
            p.user(self.env.user)
            p.pass_(self.env.password)
            n, _ = p.stat()
            got = []
            for i in range(1, n + 1):
                _, lines, _ = p.retr(i)
                # poplib strips each CRLF and undoes the dot-stuffing
                got.append(b''.join(line + b'\r\n' for line in lines))
        finally:
            p.quit()
        self.assert_same(got, EXACT, 'POP3 RETR')

    def fetchmail(self, proto, folder=None, options=''):
        out = os.path.join(self.work, 'fm-%s-%s-%s' % (proto, folder, options.replace(' ', '')))
        os.makedirs(out)
        rc = os.path.join(self.work, 'fetchmailrc')
        port = self.imap_port if proto == 'imap' else self.pop_port
        with open(rc, 'w') as f:
            f.write('poll 127.0.0.1 protocol %s port %d user "%s" password "%s" is "%s" here%s %s\n'
                    % (proto, port, self.env.user, self.env.password, self.env.user,
                       ' folder "%s"' % folder if folder else '', options))
        os.chmod(rc, 0o600)
        mda = "sh -c 'cat > %s/msg.$(date +%%s%%N)'" % out
        p = subprocess.run(['fetchmail', '-f', rc, '--keep', '--all', '--invisible', '--nosoftbounce',
                            '-m', mda, '--sslproto', '', '--pidfile', os.path.join(self.work, 'fm.pid')],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                           env=dict(os.environ, HOME=self.work, FETCHMAILHOME=self.work))
        log = p.stdout.decode(errors='replace')
        self.assertEqual(p.returncode, 0, log)
        got = []
        for name in sorted(glob.glob(out + '/msg.*')):
            with open(name, 'rb') as fh:
                got.append(fh.read())
        return got, log

    def check_fetchmail(self):
        def stripped(m):
            # fetchmail's documented default with an MDA, "stripcr": CRs
            # are stripped out of the mail (every CR, lone ones too: the
            # "no stripcr" runs below and POP3 RETR show we sent them);
            # a message ends with exactly one line end
            return m.replace(b'\r', b'').rstrip(b'\n') + b'\n'
        for proto, folder in (('pop3', None), ('imap', None), ('imap', 'other')):
            where = 'fetchmail %s %s' % (proto, folder or 'INBOX')
            got, log = self.fetchmail(proto, folder)
            self.assert_same([g.rstrip(b'\n') + b'\n' for g in got], EXACT, where + '\n' + log, stripped)
            # "no stripcr": the MDA gets exactly what we sent
            got, log = self.fetchmail(proto, folder, 'no stripcr')
            self.assert_same(got, EXACT, where + ' no stripcr\n' + log)

    def check_mbsync(self):
        local = os.path.join(self.work, 'maildir')
        os.makedirs(local)
        rc = os.path.join(self.work, 'mbsyncrc')
        with open(rc, 'w') as f:
            f.write('IMAPAccount t\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\nSSLType None\n'
                    'AuthMechs LOGIN\n\nIMAPStore far\nAccount t\n\n'
                    'MaildirStore near\nPath %s/\nInbox %s/INBOX\n\n'
                    'Channel c\nFar :far:\nNear :near:\nPatterns INBOX other\nCreate Near\n'
                    'Sync Pull\nSyncState *\n' % (self.imap_port, self.env.user, self.env.password,
                                                  local, local))
        p = subprocess.run(['mbsync', '-c', rc, '-a'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120, env=dict(os.environ, HOME=self.work))
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors='replace'))
        for box in ('INBOX', 'other'):
            got = messages_of_maildir(os.path.join(local, box))
            for g in got:
                self.assertEqual(len(re.findall(rb'(?m)^X-TUID: ', g)), 1)
            # isync 1.4 converts to the maildir's LF line ends by dropping
            # every CR (sync.c, copy_msg_bytes(): "if (c != '\\r') *out++ =
            # c"), lone ones too, and has no option to keep them: compare
            # with that; the IMAP check before and after shows we sent them
            self.assert_same([re.sub(rb'(?m)^X-TUID: .*\n', b'', g) for g in got], EXACT,
                             'mbsync ' + box, lambda m: m.replace(b'\r', b''))

    def run_format(self, fmt):
        self.setup_format(fmt)
        self.check_imap()
        self.check_pop3()
        if shutil.which('fetchmail'):
            self.check_fetchmail()
        if shutil.which('mbsync'):
            self.check_mbsync()
        # nothing above changed the mailboxes
        self.check_imap()

    def test_mbox(self):
        self.run_format('mbox')

    def test_mbx(self):
        self.run_format('mbx')

    def test_maildir(self):
        self.run_format('maildir')


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

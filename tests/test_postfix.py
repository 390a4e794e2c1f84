"""Spool locking against a real MTA (FAQ 6.19, 7.10): a private Postfix
instance delivers a stream of messages into the INBOX spool file while
imapd and ipop3d sessions set flags, expunge, append and rewrite it, and
mailutil and tmail run at the same time. At the end every message Postfix
logged as delivered, and every one our programs appended, is in the file
exactly once with its body byte for byte, and every expunged one is gone.

Postfix runs as a private instance (tests/postfix-harness/: its own
config_directory, queue_directory, data_directory and maillog_file under a
temp dir; nothing listens, nothing is relayed, default_transport = error).
Delivery is by virtual(8), not local(8): local(8) needs a real system user
and its home, virtual(8) takes the mailbox file and uid from maps, and it
locks mbox files the same way (virtual_mailbox_lock = fcntl, dotlock, the
Debian default of local(8)'s mailbox_delivery_lock), so no real user is
touched. Our side uses lock-methods "dotlock fcntl", the same pair.

Needs root (Postfix's master runs as root; installs postfix when missing
through tests/install-deps.sh). Bounded: about a minute of traffic, every
wait has a deadline."""

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import BIN, NSS_WRAPPER, ImapSession, MailEnv, REPO, have_binary  # noqa: E402

HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'postfix-harness')
TRAFFIC_SECONDS = float(os.environ.get('CC_POSTFIX_SECONDS', '40'))
SENDMAIL = '/usr/sbin/sendmail'
DOMAIN = 'test.invalid'


def ensure_postfix():
    """Install Debian's postfix if missing (root only). Returns a reason
    string when Postfix cannot be used, else None."""
    if os.path.exists('/usr/sbin/postfix') and os.path.exists('/usr/lib/postfix/sbin/master'):
        return None
    if os.geteuid() != 0:
        return 'postfix is not installed and we are not root'
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive', EXTRA_PKGS='postfix')
    for sel in ('postfix postfix/main_mailer_type select Local only',
                'postfix postfix/mailname string localhost'):
        subprocess.run(['debconf-set-selections'], input=sel.encode() + b'\n',
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = subprocess.run(['sh', os.path.join(REPO, 'tests', 'install-deps.sh')], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    if r.returncode != 0 or not os.path.exists('/usr/sbin/postfix'):
        return 'installing postfix failed: %r' % r.stdout[-2000:]
    return None


class PrivatePostfix:
    """postfix -c DIR/etc start/stop with everything under DIR."""

    def __init__(self, spool, uid, gid, mailbox, address):
        self.dir = tempfile.mkdtemp(prefix='cc-postfix-')
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, 'etc')
        self.maillog = os.path.join(self.dir, 'maillog')
        for d in ('etc', 'queue', 'data'):
            os.makedirs(os.path.join(self.dir, d))
        shutil.chown(os.path.join(self.dir, 'data'), user='postfix')
        with open(os.path.join(HARNESS, 'main.cf.in')) as f:
            text = f.read()
        for k, v in (('@DIR@', self.dir), ('@SPOOL@', spool), ('@UID@', str(uid)),
                     ('@GID@', str(gid))):
            text = text.replace(k, v)
        with open(os.path.join(self.etc, 'main.cf'), 'w') as f:
            f.write(text)
        shutil.copy(os.path.join(HARNESS, 'master.cf'), self.etc)
        with open(os.path.join(self.etc, 'vmailbox'), 'w') as f:
            f.write('%s %s\n' % (address, mailbox))
        self.started = False

    def postfix(self, *args):
        # Postfix reports errors on stderr only to a terminal: the reason
        # is in the maillog
        return subprocess.run(['/usr/sbin/postfix', '-c', self.etc] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)

    def start(self):
        r = self.postfix('start')
        if r.returncode != 0:
            raise RuntimeError('postfix start failed: %r %s' % (r.stdout, self.log()[-3000:]))
        self.started = True
        deadline = time.monotonic() + 20
        while 'daemon started' not in self.log():
            if time.monotonic() > deadline:
                raise RuntimeError('postfix master did not start: %s' % self.log()[-3000:])
            time.sleep(0.1)

    def stop(self):
        if self.started:
            r = self.postfix('stop')
            if r.returncode != 0:
                self.postfix('abort')
            self.started = False

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def sendmail(self, sender, rcpt, data):
        r = subprocess.run([SENDMAIL, '-C', self.etc, '-f', sender, '-i', rcpt],
                           input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        return r.returncode == 0

    def log(self):
        try:
            with open(self.maillog, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def delivered(self):
        """Message-IDs (without <>) that virtual(8) logged as delivered,
        with a count each, and the log lines of deferred/bounced ones."""
        mids, done, trouble = {}, {}, []
        for line in self.log().splitlines():
            m = re.search(r'postfix/cleanup\[\d+\]: (\w+): message-id=<([^>]*)>', line)
            if m:
                mids[m.group(1)] = m.group(2)
                continue
            m = re.search(r'postfix/virtual\[\d+\]: (\w+): to=.*status=(\w+)', line)
            if m:
                if m.group(2) == 'sent':
                    mid = mids.get(m.group(1))
                    done[mid] = done.get(mid, 0) + 1
                else:
                    trouble.append(line)
        return done, trouble


def make_body(rng, tag):
    """A body of random lines; none starts with "From " (mbox writers
    would quote it, which is not what this test is about)."""
    lines = ['Body of %s.' % tag]
    for _ in range(rng.randint(1, 60)):
        n = rng.randint(0, 100)
        lines.append(''.join(rng.choice('abcdefghij klmnop.,;:-=/XYZ0123') for _ in range(n)).rstrip())
    if rng.random() < 0.3:
        lines.append('')        # ends with an empty line
    return ('\n'.join(lines) + '\n').encode()


def make_message(mid, body, subject):
    head = ('From: Sender <sender@%s>\nTo: alice@%s\nSubject: %s\nMessage-ID: <%s>\n\n'
            % (DOMAIN, DOMAIN, subject, mid))
    return head.encode() + body


def parse_mbox(data):
    """Split an mbox file into (headers, body) pairs. A message starts at
    a "From " line at the start of the file or after an empty line; the
    empty line before the next one separates and belongs to neither."""
    starts = [m.start() for m in re.finditer(rb'(?:\A|(?<=\n\n))From [^\n]*\n', data)]
    out = []
    for i, s in enumerate(starts):
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(data)
        text = data[s:end]
        if i + 1 == len(starts) and text.endswith(b'\n\n'):
            text = text[:-1]
        text = text[text.index(b'\n') + 1:]
        h = text.find(b'\n\n')
        if h < 0:
            out.append((text, b''))
        else:
            out.append((text[:h + 1], text[h + 2:]))
    return out


class World:
    """The shared bookkeeping of the test's workers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.bodies = {}        # mid -> body we sent
        self.ours = set()       # appended by imapd/tmail, confirmed
        self.pf_sent = set()    # accepted by Postfix's sendmail
        self.claimed = set()    # chosen for deletion by some worker
        self.expunged = set()   # confirmed gone
        self.uncertain = set()  # deletion attempted, outcome unknown
        self.errors = []
        self.counts = {}
        self.stop = threading.Event()

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def claim(self, mid):
        with self.lock:
            if mid in self.claimed or mid not in self.bodies:
                return False
            self.claimed.add(mid)
            return True


def header_mid(text):
    m = re.search(rb'(?im)^Message-ID:\s*<([^>\r\n]*)>', text)
    return m.group(1).decode() if m else None


class PostfixSpoolTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest('needs root to run a Postfix instance')
        why = ensure_postfix()
        if why:
            raise unittest.SkipTest(why)
        for prog in ('imapd', 'ipop3d', 'mailutil', 'tmail'):
            if not have_binary(prog):
                raise unittest.SkipTest('%s not built' % prog)

    def setUp(self):
        self.env = MailEnv(config={'lock-methods': 'dotlock fcntl', 'lock-timeout': '20'})
        self.env.write_config(inbox_path=self.env.inbox)
        # virtual(8) delivers as the test uid: it must reach the spool
        os.chmod(self.env.dir, 0o755)
        # and open the file: ours run as real root under uid_wrapper and
        # would create it root-owned, as no real session would
        with open(self.env.inbox, 'wb'):
            pass
        os.chown(self.env.inbox, self.env.uid, self.env.gid)
        os.chmod(self.env.inbox, 0o600)
        self.pf = PrivatePostfix(self.env.spool, self.env.uid, self.env.gid,
                                 os.path.basename(self.env.inbox), 'alice@' + DOMAIN)
        try:
            self.pf.start()
        except Exception:
            self.pf.cleanup()
            self.env.close()
            raise

    def tearDown(self):
        self.pf.cleanup()
        self.env.close()

    # ---- workers ----
    def injector(self, w, seed):
        rng = random.Random(seed)
        n = 0
        while not w.stop.is_set():
            n += 1
            mid = 'pf-%d-%d@%s' % (seed, n, DOMAIN)
            body = make_body(rng, mid)
            with w.lock:
                w.bodies[mid] = body
            if self.pf.sendmail('sender@' + DOMAIN, 'alice@' + DOMAIN,
                                make_message(mid, body, 'postfix %d' % n)):
                with w.lock:
                    w.pf_sent.add(mid)
            else:
                w.errors.append('sendmail refused %s' % mid)
            time.sleep(rng.uniform(0.05, 0.25))

    def imap_worker(self, w, seed):
        rng = random.Random(seed)
        s = self.env.imap()
        try:
            _, st = s.cmd('SELECT INBOX')
            if not st.startswith(b'OK'):
                w.errors.append('SELECT: %r' % st)
                return
            n = 0
            while not w.stop.is_set():
                n += 1
                op = rng.random()
                if op < 0.3:
                    # append a message of our own
                    mid = 'imap-%d-%d@%s' % (seed, n, DOMAIN)
                    body = make_body(rng, mid)
                    with w.lock:
                        w.bodies[mid] = body
                    msg = make_message(mid, body, 'imap %d' % n).replace(b'\n', b'\r\n')
                    tag = s.next_tag()
                    s.send('%s APPEND INBOX (\\Seen) {%d}\r\n' % (tag, len(msg)))
                    line = s.read_response_line()
                    if not line.startswith(b'+'):
                        w.errors.append('APPEND: %r' % line)
                        continue
                    s.send(msg + b'\r\n')
                    _, st = s.collect(tag)
                    if st.startswith(b'OK'):
                        with w.lock:
                            w.ours.add(mid)
                        w.count('imap append')
                    else:
                        w.errors.append('APPEND %s: %r' % (mid, st))
                elif op < 0.6:
                    # set flags on a few messages (status block rewrites)
                    _, st = s.cmd('STORE 1:* +FLAGS (\\Seen $Label%d)' % rng.randint(1, 3)
                                  if rng.random() < 0.3 else 'NOOP')
                    w.count('imap store')
                else:
                    # expunge one message chosen by its Message-ID
                    with w.lock:
                        cands = [m for m in w.bodies if m not in w.claimed and
                                 (m in w.pf_sent or m in w.ours)]
                    if not cands:
                        s.cmd('NOOP')
                        continue
                    mid = rng.choice(cands)
                    if not w.claim(mid):
                        continue
                    ut, st = s.cmd('UID SEARCH HEADER Message-ID "<%s>"' % mid)
                    uids = []
                    for line in ut:
                        if line.startswith(b'* SEARCH'):
                            uids = line.split()[2:]
                    if len(uids) != 1:
                        # not delivered yet (or lost: the final check says)
                        with w.lock:
                            w.claimed.discard(mid)
                        continue
                    _, st = s.cmd('UID STORE %s +FLAGS.SILENT (\\Deleted)' % uids[0].decode())
                    if not st.startswith(b'OK'):
                        with w.lock:
                            w.uncertain.add(mid)
                        continue
                    _, st = s.cmd('EXPUNGE')
                    with w.lock:
                        (w.expunged if st.startswith(b'OK') else w.uncertain).add(mid)
                    w.count('imap expunge')
            s.cmd('LOGOUT')
        except Exception as e:      # noqa: BLE001 - reported by the test
            w.errors.append('imap worker: %r' % e)
        finally:
            s.close()

    def pop_worker(self, w, seed):
        rng = random.Random(seed)
        while not w.stop.is_set():
            dele = []
            s = self.env.pop()
            orig_cmd = s.cmd
            last = []

            def traced(text, orig_cmd=orig_cmd, last=last):
                last[:] = [text]
                return orig_cmd(text)
            s.cmd = traced
            try:
                if not s.cmd('USER alice').startswith(b'+OK') or \
                   not s.cmd('PASS secret').startswith(b'+OK'):
                    w.count('pop busy')    # [IN-USE] or busy: try again
                    s.close()
                    time.sleep(0.2)
                    continue
                st = s.cmd('STAT')
                count = int(st.split()[1])
                for _ in range(min(count, 2)):
                    n = rng.randint(1, count)
                    if not s.cmd('TOP %d 0' % n).startswith(b'+OK'):
                        continue
                    mid = header_mid(b'\n'.join(s.multiline()))
                    if mid is None or not w.claim(mid):
                        continue
                    if s.cmd('DELE %d' % n).startswith(b'+OK'):
                        dele.append(mid)
                    else:
                        with w.lock:
                            w.claimed.discard(mid)
                # RETR may race an IMAP EXPUNGE: -ERR [SYS/TEMP] is fair
                if count and s.cmd('RETR %d' % rng.randint(1, count)).startswith(b'+OK'):
                    s.multiline()
                ok = s.cmd('QUIT').startswith(b'+OK')
                with w.lock:
                    for mid in dele:
                        (w.expunged if ok else w.uncertain).add(mid)
                w.count('pop session')
            except Exception as e:      # noqa: BLE001
                w.errors.append('pop worker: %r after %r; log: %s' % (
                    e, last, '\n'.join(l for l in self.env.log().splitlines()
                                  if 'ipop3d' in l)[-1500:]))
                with w.lock:
                    w.uncertain.update(dele)
            finally:
                s.close()
            time.sleep(rng.uniform(0.1, 0.5))

    def tools_worker(self, w, seed):
        rng = random.Random(seed)
        n = 0
        while not w.stop.is_set():
            n += 1
            if n % 2:
                mid = 'tmail-%d-%d@%s' % (seed, n, DOMAIN)
                body = make_body(rng, mid)
                with w.lock:
                    w.bodies[mid] = body
                r = self.env.run('tmail', ['alice'], input=make_message(mid, body, 'tmail %d' % n),
                                 as_user=False)
                if r.returncode == 0:
                    with w.lock:
                        w.ours.add(mid)
                    w.count('tmail')
                else:
                    w.errors.append('tmail %s: %d %r' % (mid, r.returncode, r.stderr[-500:]))
            else:
                r = self.env.run('mailutil', ['check', 'INBOX'])
                if r.returncode != 0:
                    w.errors.append('mailutil check: %r' % r.stderr[-500:])
                copy = self.env.path('copy%d' % n)
                r = self.env.run('mailutil', ['copy', 'INBOX', copy])
                # a message expunged by a session while it copies is a
                # fair answer for a reader
                if r.returncode != 0 and b'has been expunged' not in r.stderr:
                    w.errors.append('mailutil copy: %r' % r.stderr[-500:])
                w.count('mailutil')
            time.sleep(rng.uniform(0.1, 0.4))

    # ---- the test ----
    def test_postfix_delivers_while_sessions_rewrite(self):
        w = World()
        workers = [threading.Thread(target=self.injector, args=(w, 1)),
                   threading.Thread(target=self.injector, args=(w, 2)),
                   threading.Thread(target=self.imap_worker, args=(w, 3)),
                   threading.Thread(target=self.imap_worker, args=(w, 4)),
                   threading.Thread(target=self.pop_worker, args=(w, 5)),
                   threading.Thread(target=self.tools_worker, args=(w, 6))]
        for t in workers:
            t.daemon = True
            t.start()
        time.sleep(TRAFFIC_SECONDS)
        w.stop.set()
        for t in workers:
            t.join(timeout=90)
            self.assertFalse(t.is_alive(), 'a worker hung')
        # let Postfix finish (a delivery that met our lock is deferred and
        # retried after minimal_backoff_time)
        deadline = time.monotonic() + 60
        while True:
            done, trouble = self.pf.delivered()
            if all(mid in done for mid in w.pf_sent) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.pf.stop()
        log = self.pf.log()
        missing = sorted(m for m in w.pf_sent if m not in done)
        self.assertEqual(missing, [], 'Postfix did not deliver these: %s\n%s' %
                         (missing[:5], log[-3000:]))
        self.assertEqual([m for m, c in done.items() if c != 1], [],
                         'Postfix delivered some twice')
        print('\n  postfix: %d delivered, %d deferred/other log lines; ours: %d; '
              'expunged %d, uncertain %d; %s'
              % (len(done), len(trouble), len(w.ours), len(w.expunged), len(w.uncertain),
                 ', '.join('%s %d' % kv for kv in sorted(w.counts.items()))),
              file=sys.stderr)
        self.assertEqual(w.errors, [])

        with open(self.env.inbox, 'rb') as f:
            data = f.read()
        seen = {}
        for head, body in parse_mbox(data):
            mid = header_mid(head)
            if mid is None:
                self.assertIn(b'FOLDER INTERNAL DATA', head)
                continue
            seen.setdefault(mid, []).append(body)
        expected = (set(done) | w.ours) - w.expunged - w.uncertain
        self.assertGreater(len(done), 20, 'too little traffic to prove anything')
        self.assertGreater(len(w.expunged), 3, 'too few expunges to prove anything')
        for mid in sorted(expected):
            self.assertIn(mid, seen, 'delivered message %s lost' % mid)
            self.assertEqual(len(seen[mid]), 1, 'message %s is there %d times'
                             % (mid, len(seen[mid])))
            self.assertEqual(seen[mid][0], w.bodies[mid], 'message %s changed' % mid)
        for mid in sorted(w.expunged):
            self.assertNotIn(mid, seen, 'expunged message %s is back' % mid)
        unknown = set(seen) - set(w.bodies)
        self.assertEqual(unknown, set(), 'messages nobody sent')
        # sanitizer reports or crashes of any session
        log = self.env.log()
        self.assertNotIn('AddressSanitizer', log)
        self.assertNotIn('runtime error', log)


class DebianSpoolTest(unittest.TestCase):
    """FAQ 7.10 as on Debian: the spool is 2775 root:mail and the session
    runs as a real unprivileged user (nobody, no wrappers) who cannot
    create the .lock file. With mlock (built for this private spool,
    setgid mail) the session is read-write while Postfix delivers; without
    it the session is read-only and says why."""

    USER, UID = 'nobody', 65534

    @classmethod
    def setUpClass(cls):
        PostfixSpoolTest.setUpClass()
        import grp
        import pwd
        try:
            cls.mail_gid = grp.getgrnam('mail').gr_gid
            pwd.getpwnam(cls.USER)
        except KeyError:
            raise unittest.SkipTest('no mail group or nobody user')

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='cc-debspool-')
        os.chmod(self.dir, 0o755)
        self.spool = os.path.join(self.dir, 'mail')
        os.mkdir(self.spool)
        os.chown(self.spool, 0, self.mail_gid)
        os.chmod(self.spool, 0o2775)
        self.inbox = os.path.join(self.spool, self.USER)
        with open(self.inbox, 'wb'):
            pass
        os.chown(self.inbox, self.UID, self.mail_gid)
        os.chmod(self.inbox, 0o600)
        # mlock exactly as installed, but with this spool compiled in
        self.mlock = os.path.join(self.dir, 'mlock')
        r = subprocess.run(['cc', '-O2', '-DMLOCK_SPOOL="%s"' % self.spool, '-o', self.mlock,
                            os.path.join(REPO, 'tools', 'mlock.c')],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(r.returncode, 0, r.stdout)
        os.chown(self.mlock, 0, self.mail_gid)
        os.chmod(self.mlock, 0o2755)
        self.log = os.path.join(self.dir, 'log')
        open(self.log, 'w').close()
        os.chmod(self.log, 0o666)
        self.config = os.path.join(self.dir, 'c-client.cf')
        self.home = os.path.join(self.dir, 'home')
        os.mkdir(self.home)
        os.chown(self.home, self.UID, self.UID)
        self.passwd = os.path.join(self.dir, 'passwd')
        self.group = os.path.join(self.dir, 'group')
        with open(self.passwd, 'w') as f:
            f.write('root:x:0:0:root:/root:/bin/sh\n%s:x:%d:%d:nobody:%s:/bin/sh\n'
                    % (self.USER, self.UID, self.UID, self.home))
        with open(self.group, 'w') as f:
            f.write('root:x:0:\nmail:x:%d:\nnogroup:x:%d:\n' % (self.mail_gid, self.UID))
        self.pf = PrivatePostfix(self.spool, self.UID, self.mail_gid, self.USER,
                                 self.USER + '@' + DOMAIN)
        try:
            self.pf.start()
        except Exception:
            self.pf.cleanup()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def tearDown(self):
        self.pf.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def imapd(self, mlock_program):
        with open(self.config, 'w') as f:
            f.write('inbox-path %s\nlock-methods dotlock fcntl\nlock-timeout 20\n'
                    'lock-directory %s\nmlock-program %s\ninbox-migrate no\n'
                    % (self.inbox, self.dir, mlock_program))
        env = {'PATH': '/usr/bin:/bin', 'HOME': self.home, 'USER': self.USER,
               'LOGNAME': self.USER, 'CCLIENT_CONFIG': self.config,
               'CCLIENT_LOG_FILE': self.log,
               # nobody's real home is /nonexistent, and imapd needs one:
               # nss_wrapper gives the same name and uid a home here (the
               # setgid mlock ignores LD_PRELOAD and sees the real nobody)
               'LD_PRELOAD': NSS_WRAPPER,
               'NSS_WRAPPER_PASSWD': self.passwd, 'NSS_WRAPPER_GROUP': self.group,
               'NSS_WRAPPER_DISABLE_DEEPBIND': '1',
               'ASAN_OPTIONS': 'verify_asan_link_order=0:detect_leaks=0:abort_on_error=1',
               'UBSAN_OPTIONS': 'print_stacktrace=1:halt_on_error=1'}

        def drop():
            os.setgroups([])
            os.setgid(self.UID)
            os.setuid(self.UID)
        proc = subprocess.Popen([os.path.join(BIN, 'imapd')], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=env, cwd=self.dir, preexec_fn=drop)
        s = ImapSession(proc=proc)
        greeting = s.greeting()
        self.assertIn(b'PREAUTH', greeting)
        return s

    def send(self, n, tag):
        mids = []
        for i in range(n):
            mid = '%s-%d@%s' % (tag, i, DOMAIN)
            body = ('message %d\n' % i).encode()
            self.assertTrue(self.pf.sendmail('sender@' + DOMAIN, self.USER + '@' + DOMAIN,
                                             make_message(mid, body, tag)))
            mids.append(mid)
        return mids

    def wait_delivered(self, mids):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done, _ = self.pf.delivered()
            if all(m in done for m in mids):
                return
            time.sleep(0.3)
        self.fail('Postfix did not deliver: %s' % self.pf.log()[-3000:])

    def test_mlock_makes_the_session_read_write(self):
        mids = self.send(5, 'first')
        self.wait_delivered(mids)
        s = self.imapd(self.mlock)
        try:
            ut, st = s.cmd('SELECT INBOX')
            self.assertTrue(st.startswith(b'OK [READ-WRITE]'), (ut, st))
            self.assertFalse([l for l in ut if b'vulnerable' in l], ut)
            # Postfix need not deliver in submission order: note which
            # messages 1:2 are before expunging them
            ut, st = s.cmd('FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])')
            self.assertTrue(st.startswith(b'OK'), st)
            gone = set(re.findall(r'<([^>]+)>', b' '.join(ut).decode(errors='replace')))
            self.assertEqual(len(gone), 2, ut)
            # rewrites while Postfix delivers more
            more = self.send(5, 'second')
            _, st = s.cmd('STORE 1:2 +FLAGS (\\Deleted)')
            self.assertTrue(st.startswith(b'OK'), st)
            _, st = s.cmd('EXPUNGE')
            self.assertTrue(st.startswith(b'OK'), st)
            self.wait_delivered(more)
            _, st = s.cmd('NOOP')
            _, st = s.cmd('LOGOUT')
        finally:
            s.close()
        with open(self.inbox, 'rb') as f:
            data = f.read()
        got = [header_mid(h) for h, _ in parse_mbox(data) if header_mid(h)]
        self.assertEqual(sorted(got), sorted(set(mids + more) - gone))
        self.assertFalse(os.path.exists(self.inbox + '.lock'))
        with open(self.log) as f:
            self.assertNotIn('vulnerable', f.read())

    def test_without_mlock_the_session_is_read_only(self):
        mids = self.send(3, 'only')
        self.wait_delivered(mids)
        before = open(self.inbox, 'rb').read()
        s = self.imapd(os.path.join(self.dir, 'no-such-mlock'))
        try:
            ut, st = s.cmd('SELECT INBOX')
            want = ('Mailbox vulnerable - directory %s must have 1777 protection'
                    % self.spool).encode()
            self.assertTrue([l for l in ut if want in l], ut)
            self.assertTrue(st.startswith(b'OK [READ-ONLY]'), (ut, st))
            _, st = s.cmd('STORE 1 +FLAGS (\\Deleted)')
            self.assertFalse(st.startswith(b'OK'), st)
            _, st = s.cmd('LOGOUT')
        finally:
            s.close()
        self.assertEqual(open(self.inbox, 'rb').read(), before)
        with open(self.log) as f:
            self.assertIn('Mailbox vulnerable - directory %s must have 1777 protection'
                          % self.spool, f.read())


if __name__ == '__main__':
    unittest.main()

#!/usr/bin/env python3
"""bench.py - our imapd/ipop3d against Dovecot on the same mailboxes.

Not a timed test: it measures and prints. For every operation it prints
our median, Dovecot's median and the ratio (ours / Dovecot; below 1 means
we are faster), and writes the table with a description of the machine
to docs/performance.md.

    bench/run-bench                      # 10,000 messages, mbox and maildir
    BENCH_COUNTS="10000 100000" bench/run-bench
    BENCH_RUNS=5 BENCH_FORMATS=mbox bench/run-bench
    bench/run-bench --quick              # 2,000 messages, 1 run: does it work?
    BENCH_CORPUS_DIR=/var/tmp/ccbench bench/run-bench --growth
                                         # returning-session rows at 10k/100k/1M
                                         # (~1 KB messages), a growth table

Each run starts from a fresh copy of the generated mailbox (and, for
Dovecot, no index), so "SELECT cold" really is the first open; "SELECT
warm" re-opens the same mailbox in a new session. Runs are interleaved
(ours, Dovecot, ours, ...). Servers listen on 127.0.0.1 only; every loop
is bounded.

The "returning session" rows (issue 16) are timed on another fresh copy:
a first session SELECTs the mailbox once and logs out (for us that writes
the UIDs, for Dovecot it builds the index); then a new session (new
connection and login) times SELECT, UID FETCH 1:* (FLAGS), FETCH 1:*
(ENVELOPE), SORT (SUBJECT), SEARCH SUBJECT, STORE 1:* +FLAGS.SILENT and
its process's peak memory; then one more new session times SELECT after
that STORE. These rows use a lean client (class Raw) that reads to the
tagged answer without parsing the untagged data, so at 1,000,000 messages
they time the server, not Python's imaplib.

Options (each also an environment variable; an option wins):
  --mode full|growth  BENCH_MODE     full (default): every row, writes the doc;
                                     growth: the returning-session rows on
                                     ~1 KB messages, prints a growth table
  --growth                           the same as --mode growth
  --quick             BENCH_QUICK=1  small and short, writes no doc (counts
                                     2000, or 1000 4000 with --growth; 1 run;
                                     5 clients for 3 s)
  --counts "N ..."    BENCH_COUNTS   mailbox sizes (full: 10000; growth:
                                     10000 100000 1000000)
  --formats "F ..."   BENCH_FORMATS  mbox maildir
  --runs N            BENCH_RUNS     interleaved runs per size (3)
  --parts "P ..."     BENCH_PARTS    of: imap returning pop concurrent
                                     (full: all four; growth: returning)
  --corpus-dir DIR    BENCH_CORPUS_DIR  keep generated mailboxes there and
                                     reuse them in later runs (default: a
                                     temporary directory, deleted at the end)
  --work-dir DIR      BENCH_WORK_DIR where the servers' copies live (/tmp)
  --doc FILE|none     BENCH_DOC      the table written in full mode
                                     (docs/performance.md; none with --quick)
  --out FILE          BENCH_OUT      also write the growth table (markdown)
  --maildir-max N     BENCH_MAILDIR_MAX  growth: skip maildir above N (100000)
                      BENCH_CLIENTS, BENCH_CONCURRENT_SECONDS: 50, 30
                      BENCH_TIMEOUT: seconds one command may take (1800)
"""

import argparse
import imaplib
import os
import platform
import poplib
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get('CC_BIN', os.path.join(TOP, 'build', 'bin'))
# set from the options and environment by configure()
RUNS = 3
COUNTS = [10000]
FORMATS = ['mbox', 'maildir']
CONCURRENT = 50
CONCURRENT_SECONDS = 30.0
TIMEOUT = 1800.0
USER, PASSWORD = 'bench', 'benchpw'
PARTS = ('imap', 'returning', 'pop', 'concurrent')
UID = 64010


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError('server exited')
            time.sleep(0.05)
    raise TimeoutError('server did not listen')


def children(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def descendants(pid):
    out = []
    for c in children(pid):
        out.append(c)
        out += descendants(c)
    return out


def vmhwm(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class Server:
    name = ''

    def __init__(self, root, fmt, corpus):
        self.root = root
        self.fmt = fmt
        self.corpus = corpus
        self.home = os.path.join(root, 'home')
        self.proc = None

    def fresh_mailbox(self):
        if os.path.exists(self.home):
            shutil.rmtree(self.home)
        os.makedirs(self.home)
        if self.fmt == 'mbox':
            shutil.copyfile(self.corpus, self.inbox_path())
        else:
            shutil.copytree(self.corpus, self.inbox_path())
        os.makedirs(os.path.join(self.home, 'mail'), exist_ok=True)
        subprocess.run(['chown', '-R', '%d:%d' % (UID, UID), self.home], check=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def session_pid(self):
        """pid of the process serving the single open IMAP session"""
        cands = [p for p in descendants(self.proc.pid)]
        best = 0
        for p in cands:
            try:
                with open('/proc/%d/cmdline' % p, 'rb') as f:
                    cmd = f.read()
            except OSError:
                continue
            if self.session_match(cmd):
                best = max(best, p)
        return best


class Ours(Server):
    name = 'ours'

    def inbox_path(self):
        return os.path.join(self.home, 'INBOX' if self.fmt == 'maildir' else 'inbox')

    def start(self):
        cf = os.path.join(self.root, 'c-client.cf')
        users = os.path.join(self.root, 'users')
        # the session lock files (/tmp/.<dev>.<ino> by default) are made
        # by the user the server runs as: the directory must be like /tmp
        locks = os.path.join(self.root, 'locks')
        os.makedirs(locks, exist_ok=True)
        os.chmod(locks, 0o1777)
        import warnings
        with warnings.catch_warnings():
            # deprecated since 3.11, and the one way to make a SHA-512 crypt
            warnings.simplefilter('ignore', DeprecationWarning)
            import crypt
        with open(users, 'w') as f:
            f.write('%s:%s:%d:%d:%s:\n' % (USER, crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_SHA512)),
                                            UID, UID, self.home))
        with open(cf, 'w') as f:
            f.write('auth-backends passwd-file\npasswd-file %s\nspool-directory %s\n'
                    'inbox-path %s\nlock-directory %s\ndefault-driver %s\n'
                    'imapd-tls-cert /nonexistent\nipop3d-tls-cert /nonexistent\n'
                    % (users, os.path.join(self.root, 'spool'), self.inbox_path(),
                       locks, self.fmt))
        os.makedirs(os.path.join(self.root, 'spool'), exist_ok=True)
        self.port, self.pop_port = free_port(), free_port()
        env = dict(os.environ, CCLIENT_CONFIG=cf)
        self.proc = subprocess.Popen([os.path.join(BIN, 'imapd'), '-l', '127.0.0.1:%d' % self.port],
                                     env=env, stderr=subprocess.DEVNULL)
        self.pop = subprocess.Popen([os.path.join(BIN, 'ipop3d'), '-l', '127.0.0.1:%d' % self.pop_port],
                                    env=env, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        wait_port(self.pop_port, self.pop)

    def stop(self):
        Server.stop(self)
        if getattr(self, 'pop', None) and self.pop.poll() is None:
            self.pop.terminate()
            self.pop.wait()

    def session_match(self, cmd):
        return b'imapd' in cmd

    def session_pid(self):
        kids = children(self.proc.pid)
        return max(kids) if kids else 0


class Dovecot(Server):
    name = 'dovecot'

    def inbox_path(self):
        return os.path.join(self.home, 'Maildir' if self.fmt == 'maildir' else 'inbox')

    def start(self):
        base = os.path.join(self.root, 'run')
        os.makedirs(base, exist_ok=True)
        self.port, self.pop_port = free_port(), free_port()
        pw = os.path.join(self.root, 'passwd')
        with open(pw, 'w') as f:
            f.write('%s:{PLAIN}%s:%d:%d::%s\n' % (USER, PASSWORD, UID, UID, self.home))
        loc = ('maildir:~/Maildir:LAYOUT=fs' if self.fmt == 'maildir'
               else 'mbox:~/mail:INBOX=~/inbox')
        conf = os.path.join(self.root, 'dovecot.conf')
        with open(conf, 'w') as f:
            f.write('''base_dir = %s
state_dir = %s
log_path = %s/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = %s
mbox_write_locks = dotlock fcntl
# the default of 10 sessions per user and address would refuse most of
# the concurrent clients, all one user from 127.0.0.1
mail_max_userip_connections = 1000
default_internal_user = %s
default_login_user = %s
passdb {
  driver = passwd-file
  args = %s
}
userdb {
  driver = passwd-file
  args = %s
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %d
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %d
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
service pop3-login {
  chroot =
}
''' % (base, base, self.root, loc, self.internal_user(), self.internal_user(), pw, pw,
       self.port, self.pop_port))
        self.proc = subprocess.Popen(['/usr/sbin/dovecot', '-F', '-c', conf],
                                     stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        wait_port(self.pop_port, self.proc)

    def internal_user(self):
        for u in ('dovecot', 'dovenull', 'nobody'):
            try:
                pwd.getpwnam(u)
                return u
            except KeyError:
                pass
        return 'nobody'

    def session_match(self, cmd):
        return cmd.startswith(b'dovecot/imap\0') or cmd.startswith(b'dovecot/imap ')


def timed(fn):
    """seconds fn took; an IMAP answer other than OK is an error, never a
    fast result"""
    t = time.monotonic()
    r = fn()
    secs = time.monotonic() - t
    if isinstance(r, tuple) and r and r[0] != 'OK':
        raise RuntimeError('server answered %r' % (r,))
    return secs


def imap_ops(srv, count, results, mem):
    def login():
        m = imaplib.IMAP4('127.0.0.1', srv.port)
        m.login(USER, PASSWORD)
        return m

    def rec(op, secs):
        results.setdefault(op, []).append(secs)

    t = time.monotonic()
    m = login()
    rec('connect+login', time.monotonic() - t)
    rec('SELECT cold', timed(lambda: m.select('INBOX')))
    m.logout()
    m = login()
    rec('SELECT warm', timed(lambda: m.select('INBOX')))
    pid = srv.session_pid()
    rec('UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)',
        timed(lambda: m.uid('FETCH', '1:*', '(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)')))
    rec('FETCH 1:* BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)]',
        timed(lambda: m.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])')))
    rec('FETCH 1:* BODYSTRUCTURE', timed(lambda: m.fetch('1:*', '(BODYSTRUCTURE)')))
    rec('SEARCH TEXT (no hits)', timed(lambda: m.search(None, 'TEXT', 'zzqxnohit')))
    rec('SEARCH TEXT (phrase, some hits)', timed(lambda: m.search(None, 'TEXT', '"coffee deadline"')))
    rec('SEARCH SUBJECT', timed(lambda: m.search(None, 'SUBJECT', 'release')))
    rec('SORT (SUBJECT)', timed(lambda: m.sort('(SUBJECT)', 'UTF-8', 'ALL')))
    rec('THREAD REFERENCES', timed(lambda: m.thread('REFERENCES', 'UTF-8', 'ALL')))
    if pid:
        mem.setdefault('peak memory MiB (SELECT+FETCH+SEARCH)', []).append(vmhwm(pid))
    rec('STORE +FLAGS (\\Flagged) 1:*', timed(lambda: m.store('1:*', '+FLAGS.SILENT', '(\\Flagged)')))
    step = 10
    seqs = ','.join(str(i) for i in range(1, count + 1, step))
    m.store(seqs, '+FLAGS.SILENT', '(\\Deleted)')
    rec('EXPUNGE 10%', timed(lambda: m.expunge()))
    m.create('copies')
    left = count - len(range(1, count + 1, step))
    rec('COPY 1,000', timed(lambda: m.copy('1:%d' % min(1000, left), 'copies')))
    msg = (b'From: a@example.org\r\nTo: b@example.org\r\nSubject: appended\r\n\r\n' + b'x' * 2000 + b'\r\n')

    def appends():
        for i in range(1000):
            r = m.append('copies', None, None, msg)
            if r[0] != 'OK':
                raise RuntimeError('APPEND: %r' % (r,))
    rec('APPEND 1,000', timed(appends))
    if pid:
        # VmHWM is a high-water mark: read at the end it covers the session
        mem.setdefault('peak memory MiB (whole session)', []).append(vmhwm(pid))
    m.logout()


def pop_ops(srv, results):
    def run():
        p = poplib.POP3('127.0.0.1', srv.pop_port, timeout=120)
        p.user(USER)
        p.pass_(PASSWORD)
        n, _ = p.stat()
        p.uidl()
        for i in range(1, n + 1):
            p.retr(i)
        p.quit()
    results.setdefault('POP3 login, STAT, UIDL, RETR all, QUIT', []).append(timed(run))


def concurrent(srv, results, count):
    stop = time.monotonic() + CONCURRENT_SECONDS
    done = [0]
    errors = [0]
    first_errors = []
    lock = threading.Lock()

    def worker(k):
        try:
            m = imaplib.IMAP4('127.0.0.1', srv.port)
            m.login(USER, PASSWORD)
            m.select('INBOX', readonly=True)
            i = 0
            while time.monotonic() < stop and i < 100000:
                i += 1
                n = (k * 7919 + i * 31) % max(1, count - 50) + 1
                m.fetch('%d:%d' % (n, n + 20), '(FLAGS ENVELOPE)')
                m.noop()
                with lock:
                    done[0] += 1
            m.logout()
        except Exception as e:
            with lock:
                errors[0] += 1
                if len(first_errors) < 3:
                    first_errors.append(repr(e)[:200])
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(CONCURRENT)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(CONCURRENT_SECONDS + 60)
    # report seconds per 1,000 command pairs: lower is better like the rest
    rate = done[0] / CONCURRENT_SECONDS
    results.setdefault('%d clients, s per 1000 FETCH+NOOP' % CONCURRENT, []).append(
        1000.0 / rate if rate else float('inf'))
    if errors[0]:
        print('  %s: %d client errors, e.g. %s' % (srv.name, errors[0], '; '.join(first_errors)))


class Raw:
    """A lean IMAP client for the returning-session rows. command() sends
    one command and reads to its tagged answer; the untagged data is not
    parsed (imaplib spends seconds on 1,000,000 FETCH lines): only
    literals are skipped, so that nothing inside one is taken for the
    tagged line, and FETCH answers are counted. Every read is bounded by
    TIMEOUT."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
        # a CRLF "before" the first line: a tagged line is always found as
        # CRLF tag SP, also when it is the first line of an answer
        self.buf = bytearray(b'\r\n')
        self.n = 0
        self.deadline = time.monotonic() + TIMEOUT
        while self.buf.find(b'\r\n', 2) < 0:
            self._more()
        greeting = bytes(self.buf[2:self.buf.find(b'\r\n', 2)])
        if not greeting.startswith(b'* OK'):
            raise RuntimeError('greeting %r' % greeting[:200])
        del self.buf[:self.buf.find(b'\r\n', 2)]

    def _more(self):
        if time.monotonic() > self.deadline:
            raise TimeoutError('no tagged answer within %d s' % TIMEOUT)
        d = self.sock.recv(1 << 20)
        if not d:
            raise ConnectionError('server closed the connection')
        self.buf += d

    def command(self, text, keep=False):
        """(status line, untagged data if keep else b'', FETCH answers)"""
        self.n += 1
        tag = b'R%d' % self.n
        self.deadline = time.monotonic() + TIMEOUT
        self.sock.sendall(tag + b' ' + text.encode() + b'\r\n')
        needle = b'\r\n' + tag + b' '
        buf = self.buf
        p = 0                   # before p: no literal and no tagged line
        fetches = 0
        kept = []
        while True:
            t = buf.find(needle, p)
            lit = buf.find(b'}\r\n', p)
            if lit >= 0 and (t < 0 or lit < t):
                b = buf.rfind(b'{', max(0, lit - 12), lit)
                if b >= 0 and buf[b + 1:lit].isdigit():
                    end = lit + 3 + int(buf[b + 1:lit])
                    while len(buf) < end:
                        self._more()
                    p = end
                else:
                    p = lit + 1
                continue
            if t >= 0:
                eol = buf.find(b'\r\n', t + 2)
                while eol < 0:
                    self._more()
                    eol = buf.find(b'\r\n', t + 2)
                status = bytes(buf[t + 2:eol])
                fetches += buf.count(b' FETCH (', 0, t)
                if keep:
                    kept.append(bytes(buf[:t + 2]))
                del buf[:eol]        # keep the CRLF: it starts the next answer
                return status.decode('utf-8', 'replace'), b''.join(kept), fetches
            # neither yet: drop what is scanned (at a line end, so no
            # " FETCH (" is split), read more
            p = max(p, len(buf) - len(needle))
            if p > (4 << 20):
                cut = buf.rfind(b'\n', 0, p)
                if cut > 0:
                    fetches += buf.count(b' FETCH (', 0, cut)
                    if keep:
                        kept.append(bytes(buf[:cut]))
                    del buf[:cut]
                    p -= cut
            self._more()

    def ok(self, text, keep=False):
        status, data, fetches = self.command(text, keep)
        if status.split(' ', 2)[1:2] != ['OK']:
            raise RuntimeError('%s: server answered %r' % (text[:60], status[:200]))
        return data, fetches

    def login(self):
        self.ok('LOGIN %s %s' % (USER, PASSWORD))

    def logout(self):
        try:
            self.command('LOGOUT')
        except (OSError, RuntimeError):
            pass
        self.sock.close()


def returning_ops(srv, count, results, mem, checks):
    """a returning client: the mailbox was opened once before; each
    command of the next new session timed on its own"""
    def rec(op, secs):
        results.setdefault(op, []).append(secs)

    def timed_ok(c, text, keep=False):
        t = time.monotonic()
        r = c.ok(text, keep)
        return time.monotonic() - t, r

    def select(c, op):
        secs, (data, _) = timed_ok(c, 'SELECT INBOX', keep=True)
        m = re.search(rb'\* (\d+) EXISTS', data)
        if not m or int(m.group(1)) != count:
            raise RuntimeError('%s: %s messages, not %d' % (op, m.group(1).decode() if m else 'no EXISTS', count))
        rec(op, secs)

    def fetch(c, op, text):
        secs, (_, n) = timed_ok(c, text)
        if n != count:
            raise RuntimeError('%s: %d FETCH answers, not %d' % (op, n, count))
        rec(op, secs)

    def numbers(c, op, text, word):
        secs, (data, _) = timed_ok(c, text, keep=True)
        m = re.search(rb'\* ' + word + rb'((?: \d+)*)', data)
        if not m:
            raise RuntimeError('%s: no * %s answer' % (op, word.decode()))
        checks[op] = len(m.group(1).split())
        rec(op, secs)

    c = Raw(srv.port)
    c.login()
    select(c, 'first session: SELECT (cold)')
    c.logout()
    c = Raw(srv.port)
    c.login()
    select(c, 'returning session: SELECT')
    pid = srv.session_pid()
    fetch(c, 'returning session: UID FETCH 1:* (FLAGS)', 'UID FETCH 1:* (FLAGS)')
    fetch(c, 'returning session: FETCH 1:* (ENVELOPE)', 'FETCH 1:* (ENVELOPE)')
    numbers(c, 'returning session: SORT (SUBJECT)', 'SORT (SUBJECT) UTF-8 ALL', b'SORT')
    numbers(c, 'returning session: SEARCH SUBJECT release', 'SEARCH SUBJECT release', b'SEARCH')
    secs, _ = timed_ok(c, 'STORE 1:* +FLAGS.SILENT (\\Flagged)')
    rec('returning session: STORE 1:* +FLAGS.SILENT (\\Flagged)', secs)
    if pid:
        # the high-water mark of the whole returning session so far
        mem.setdefault('returning session: peak memory MiB', []).append(vmhwm(pid))
    c.logout()
    c = Raw(srv.port)
    c.login()
    select(c, 'next new session (after STORE): SELECT')
    # untimed: the STORE did what it was timed for
    data, n = c.ok('FETCH 1:* (FLAGS)', keep=True)
    flagged = data.count(b'\\Flagged')
    if n != count or flagged != count:
        raise RuntimeError('after STORE: %d FETCH answers, %d with \\Flagged, not %d' % (n, flagged, count))
    c.logout()


def corpus_path(cache, work, count, fmt, style, avg):
    """the generated mailbox for these options: from the cache directory
    when an earlier run made it, else generated (into the cache when there
    is one, under a temporary name renamed when complete)"""
    sys.path.insert(0, os.path.join(TOP, 'bench'))
    import genmbox
    name = 'genmbox-v%d-%s-%s-%d-avg%d-seed42' % (genmbox.VERSION, style, fmt, count, avg)
    where = cache or work
    path = os.path.join(where, name)
    if os.path.exists(path):
        print('reusing %s' % path, flush=True)
        return path
    need = count * avg * 1.1
    free = shutil.disk_usage(where).free
    if free < need + (1 << 30):
        raise RuntimeError('%s: %.1f GB free, generating needs %.1f GB + 1 GB spare'
                           % (where, free / 1e9, need / 1e9))
    part = '%s.part%d' % (path, os.getpid())
    print('generating %d messages (%s, %s, ~%d bytes) in %s...' % (count, fmt, style, avg, where), flush=True)
    t = time.monotonic()
    subprocess.run([sys.executable, os.path.join(TOP, 'bench', 'genmbox.py'), '--count',
                    str(count), '--seed', '42', '--avg-size', str(avg), '--format', fmt,
                    '--style', style, part], check=True)
    os.rename(part, path)
    print('  %.1f s' % (time.monotonic() - t), flush=True)
    return path


def tree_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    return total


def run_parts(srv, count, fmt, run, res, mem, checks):
    """one server's share of one run; a part that fails is reported and
    the next one still runs"""
    def part(name, fn, fresh=True):
        if name not in PARTS:
            return
        try:
            if fresh:
                srv.fresh_mailbox()
            fn()
        except Exception as e:
            print('  %s run %d %s failed: %r' % (srv.name, run + 1, name, e), flush=True)
    part('imap', lambda: imap_ops(srv, count, res, mem))
    part('returning', lambda: returning_ops(srv, count, res, mem, checks))
    if count <= 10000:
        part('pop', lambda: pop_ops(srv, res))
    if run == 0:
        # from the full mailbox again: the clients fetch anywhere in 1..count
        part('concurrent', lambda: concurrent(srv, res, count))


def configure():
    global RUNS, COUNTS, FORMATS, CONCURRENT, CONCURRENT_SECONDS, TIMEOUT, PARTS
    env = os.environ.get
    ap = argparse.ArgumentParser(description='our servers against Dovecot; see the top of bench/bench.py')
    ap.add_argument('--mode', choices=('full', 'growth'), default=env('BENCH_MODE', 'full'))
    ap.add_argument('--growth', action='store_const', const='growth', dest='mode')
    ap.add_argument('--quick', action='store_true', default=env('BENCH_QUICK', '') not in ('', '0'))
    ap.add_argument('--counts', default=env('BENCH_COUNTS'))
    ap.add_argument('--formats', default=env('BENCH_FORMATS', 'mbox maildir'))
    ap.add_argument('--runs', type=int, default=env('BENCH_RUNS'))
    ap.add_argument('--parts', default=env('BENCH_PARTS'))
    ap.add_argument('--corpus-dir', default=env('BENCH_CORPUS_DIR'))
    ap.add_argument('--work-dir', default=env('BENCH_WORK_DIR'))
    ap.add_argument('--doc', default=env('BENCH_DOC'))
    ap.add_argument('--out', default=env('BENCH_OUT'))
    ap.add_argument('--maildir-max', type=int, default=int(env('BENCH_MAILDIR_MAX', '100000')))
    a = ap.parse_args()
    growth = a.mode == 'growth'
    if a.counts is None:
        a.counts = ('1000 4000' if growth else '2000') if a.quick else \
                   ('10000 100000 1000000' if growth else '10000')
    COUNTS = [int(x) for x in a.counts.split()]
    FORMATS = a.formats.split()
    for f in FORMATS:
        if f not in ('mbox', 'maildir'):
            sys.exit('unknown format %r' % f)
    RUNS = int(a.runs) if a.runs is not None else (1 if a.quick else 3)
    parts = (a.parts or ('returning' if growth else ' '.join(PARTS))).split()
    for p in parts:
        if p not in PARTS:
            sys.exit('unknown part %r (of %s)' % (p, ' '.join(PARTS)))
    PARTS = tuple(parts)
    CONCURRENT = int(env('BENCH_CLIENTS', '5' if a.quick else '50'))
    CONCURRENT_SECONDS = float(env('BENCH_CONCURRENT_SECONDS', '3' if a.quick else '30'))
    TIMEOUT = float(env('BENCH_TIMEOUT', '1800'))
    if a.doc is None:
        a.doc = 'none' if a.quick or growth else os.path.join(TOP, 'docs', 'performance.md')
    if a.corpus_dir:
        os.makedirs(a.corpus_dir, exist_ok=True)
    return a


def main():
    a = configure()
    if os.geteuid() != 0:
        sys.exit('bench.py must run as root (servers drop to a benchmark uid)')
    growth = a.mode == 'growth'
    # full mode keeps the corpus the existing figures were measured on;
    # growth runs ~1 KB messages at every size (1,000,000 of them ~1 GB)
    style, avg = ('small', 1000) if growth else ('classic', 10000)
    print('mode %s%s: counts %s, formats %s, %d run(s), parts %s, corpus %s' % (
        a.mode, ' (quick)' if a.quick else '', ' '.join(map(str, COUNTS)), ' '.join(FORMATS),
        RUNS, ' '.join(PARTS), a.corpus_dir or '(temporary)'), flush=True)
    work = tempfile.mkdtemp(prefix='ccbench-', dir=a.work_dir)
    os.chmod(work, 0o755)      # Dovecot's auth process reads the passwd file
    table = []
    failed = 0
    try:
        for count in COUNTS:
            for fmt in FORMATS:
                if growth and fmt == 'maildir' and count > a.maildir_max:
                    print('skipping maildir at %d (over --maildir-max %d)' % (count, a.maildir_max))
                    continue
                try:
                    corpus = corpus_path(a.corpus_dir, work, count, fmt, style, avg)
                except (RuntimeError, subprocess.CalledProcessError) as e:
                    print('  no corpus: %s' % e, flush=True)
                    failed += 1
                    continue
                # one server's copy at a time (deleted after its run), plus
                # what the first open adds (our UID headers, Dovecot's index)
                size = tree_size(corpus)
                free = shutil.disk_usage(work).free
                if free < 2 * size + (1 << 30):
                    print('  skipped: %s has %.1f GB free, a run needs %.1f GB' % (
                        work, free / 1e9, (2 * size + (1 << 30)) / 1e9), flush=True)
                    failed += 1
                    continue
                res = {'ours': {}, 'dovecot': {}}
                mem = {'ours': {}, 'dovecot': {}}
                checks = {'ours': {}, 'dovecot': {}}
                for run in range(RUNS):
                    for cls in (Ours, Dovecot):
                        srv = cls(os.path.join(work, '%s-%d-%s' % (cls.name, count, fmt)), fmt, corpus)
                        try:
                            srv.start()
                            run_parts(srv, count, fmt, run, res[cls.name], mem[cls.name],
                                      checks[cls.name])
                        except Exception as e:
                            print('  %s run %d failed: %r' % (cls.name, run + 1, e), flush=True)
                        finally:
                            srv.stop()
                            # the copies of a 1 GB corpus add up: keep one
                            shutil.rmtree(srv.home, ignore_errors=True)
                        print('  run %d %s done' % (run + 1, cls.name), flush=True)
                for op in sorted(set(checks['ours']) | set(checks['dovecot'])):
                    o, d = checks['ours'].get(op), checks['dovecot'].get(op)
                    if o is not None and d is not None and o != d:
                        print('  note: %s: ours answered %s numbers, Dovecot %s' % (op, o, d), flush=True)
                ops = list(res['ours'].keys()) + [k for k in res['dovecot'] if k not in res['ours']]
                ops += list(mem['ours'].keys()) + [k for k in mem['dovecot'] if k not in mem['ours']]
                for op in ops:
                    o = res['ours'].get(op) or mem['ours'].get(op)
                    d = res['dovecot'].get(op) or mem['dovecot'].get(op)
                    # (the concurrent rows are made in the first run only)
                    if not o or not d or len(o) != len(d):
                        failed += 1
                    om = statistics.median(o) if o else None
                    dm = statistics.median(d) if d else None
                    ratio = (om / dm) if om is not None and dm else None
                    table.append((count, fmt, op, om, dm, ratio))
                    print('%7d %-8s %-58s ours %9s  dovecot %9s  ratio %s' % (
                        count, fmt, op, num(om), num(dm),
                        '%.2f' % ratio if ratio is not None else '-'), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if growth:
        text = growth_table(table)
        print(text)
        if a.out:
            with open(a.out, 'w') as f:
                f.write(text)
            print('wrote', a.out)
    if a.doc != 'none':
        write_doc(table, a.doc)
    if failed:
        print('%d row(s) or corpora incomplete (see the failures above)' % failed)
        sys.exit(1)


def num(x):
    """a median for the tables: milliseconds still show below 0.1 s"""
    if x is None:
        return '-'
    return '%.4f' % x if x < 0.1 else '%.3f' % x if x < 100 else '%.0f' % x


def growth_table(table):
    """markdown: per format and operation, ours and Dovecot at each count,
    the ratio, and how much each cost grew from one count to the next"""
    counts = sorted(set(c for c, _, _, _, _, _ in table))
    fmts = [f for f in FORMATS if any(t[1] == f for t in table)]
    cell = {(c, f, op): (om, dm, r) for c, f, op, om, dm, r in table}

    def grow(a, b):
        return '%.1fx' % (b / a) if a and b is not None else '-'
    head = ['| format | operation | | ' + ' | '.join('%d' % c for c in counts) + ' | ' +
            ' | '.join('%d/%d' % (b, a) for a, b in zip(counts, counts[1:])) + ' |',
            '| --- | --- | --- | ' + ' | '.join('---:' for _ in counts) + ' | ' +
            ' | '.join('---:' for _ in counts[1:]) + ' |']
    lines = ['Growth: seconds (memory in MiB) and, in the last columns, the cost at a',
             'size over the cost at the one before (10x the messages: 10.0x is linear).',
             'Median of %d interleaved run(s); ratio = ours / Dovecot.' % RUNS, ''] + head
    for f in fmts:
        ops = []
        for c, ff, op, _, _, _ in table:
            if ff == f and op not in ops:
                ops.append(op)
        for op in ops:
            for who, k in (('ours', 0), ('Dovecot', 1)):
                v = [cell.get((c, f, op), (None, None, None))[k] for c in counts]
                lines.append('| %s | %s | %s | %s | %s |' % (
                    f, op.replace('|', '\\|') if k == 0 else '', who, ' | '.join(num(x) for x in v),
                    ' | '.join(grow(x, y) for x, y in zip(v, v[1:]))))
            r = [cell.get((c, f, op), (None, None, None))[2] for c in counts]
            lines.append('| | | ratio | %s | %s |' % (' | '.join('-' if x is None else '%.2f' % x for x in r),
                                                     ' | '.join('' for _ in counts[1:])))
    return '\n'.join(lines) + '\n'


def write_doc(table, path):
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    dv = subprocess.run(['/usr/sbin/dovecot', '--version'], stdout=subprocess.PIPE).stdout.decode().strip()
    lines = ['# Performance', '',
             'Measured by `bench/run-bench` (see bench/bench.py for what each operation does).',
             'Seconds (memory in MiB), median of %d interleaved runs; ratio = ours / Dovecot,' % RUNS,
             'below 1.00 means we are faster.', '',
             'Machine: %s, %d cores, %s, Linux %s; Dovecot %s.' % (cpu, os.cpu_count(), platform.machine(),
                                                                  platform.release(), dv),
             'Date: %s' % time.strftime('%Y-%m-%d'), '',
             '| messages | format | operation | ours | Dovecot | ratio |',
             '| ---: | --- | --- | ---: | ---: | ---: |']
    for count, fmt, op, om, dm, ratio in table:
        lines.append('| %d | %s | %s | %s | %s | %s |' % (
            count, fmt, op.replace('|', '\\|'), num(om), num(dm),
            '%.2f' % ratio if ratio is not None else '-'))
    old = ''
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    notes = old.split('## Notes', 1)[1] if '## Notes' in old else '\n(to be written after the first full run)\n'
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n\n## Notes' + notes)
    print('wrote', path)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""bench.py - our imapd/ipop3d against Dovecot on the same mailboxes.

Not a timed test: it measures and prints. For every operation it prints
our median, Dovecot's median and the ratio (ours / Dovecot; below 1 means
we are faster), and writes the table with a description of the machine
to docs/performance.md.

    bench/run-bench                      # 10,000 messages, mbox and maildir
    BENCH_COUNTS="10000 100000" bench/run-bench
    BENCH_RUNS=5 BENCH_FORMATS=mbox bench/run-bench

Each run starts from a fresh copy of the generated mailbox (and, for
Dovecot, no index), so "SELECT cold" really is the first open; "SELECT
warm" re-opens the same mailbox in a new session. Runs are interleaved
(ours, Dovecot, ours, ...). Servers listen on 127.0.0.1 only; every loop
is bounded.
"""

import imaplib
import os
import platform
import poplib
import pwd
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
RUNS = int(os.environ.get('BENCH_RUNS', '3'))
COUNTS = [int(x) for x in os.environ.get('BENCH_COUNTS', '10000').split()]
FORMATS = os.environ.get('BENCH_FORMATS', 'mbox maildir').split()
CONCURRENT = int(os.environ.get('BENCH_CLIENTS', '50'))
CONCURRENT_SECONDS = float(os.environ.get('BENCH_CONCURRENT_SECONDS', '30'))
USER, PASSWORD = 'bench', 'benchpw'
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
        if self.pop.poll() is None:
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


def main():
    if os.geteuid() != 0:
        sys.exit('bench.py must run as root (servers drop to a benchmark uid)')
    work = tempfile.mkdtemp(prefix='ccbench-')
    os.chmod(work, 0o755)      # Dovecot's auth process reads the passwd file
    table = []
    try:
        for count in COUNTS:
            for fmt in FORMATS:
                corpus = os.path.join(work, 'corpus-%d.%s' % (count, fmt))
                print('generating %d messages (%s)...' % (count, fmt), flush=True)
                subprocess.run([sys.executable, os.path.join(TOP, 'bench', 'genmbox.py'), '--count',
                                str(count), '--seed', '42', '--avg-size', '10000', '--format', fmt,
                                corpus], check=True)
                res = {'ours': {}, 'dovecot': {}}
                mem = {'ours': {}, 'dovecot': {}}
                for run in range(RUNS):
                    for cls in (Ours, Dovecot):
                        srv = cls(os.path.join(work, '%s-%d-%s' % (cls.name, count, fmt)), fmt, corpus)
                        srv.fresh_mailbox()
                        srv.start()
                        try:
                            imap_ops(srv, count, res[cls.name], mem[cls.name])
                            if count <= 10000:
                                srv.fresh_mailbox()
                                pop_ops(srv, res[cls.name])
                            if run == 0:
                                # from the full mailbox again: the clients
                                # fetch anywhere in 1..count
                                if count > 10000:
                                    srv.fresh_mailbox()
                                concurrent(srv, res[cls.name], count)
                        except Exception as e:
                            print('  %s run %d failed: %r' % (cls.name, run, e), flush=True)
                        finally:
                            srv.stop()
                        print('  run %d %s done' % (run + 1, cls.name), flush=True)
                for op in list(res['ours'].keys()) + [k for k in mem['ours']]:
                    o = res['ours'].get(op) or mem['ours'].get(op)
                    d = res['dovecot'].get(op) or mem['dovecot'].get(op)
                    om = statistics.median(o) if o else None
                    dm = statistics.median(d) if d else None
                    ratio = (om / dm) if om is not None and dm else None
                    table.append((count, fmt, op, om, dm, ratio))
                    print('%7d %-8s %-58s ours %9s  dovecot %9s  ratio %s' % (
                        count, fmt, op, '%.3f' % om if om is not None else '-',
                        '%.3f' % dm if dm is not None else '-',
                        '%.2f' % ratio if ratio is not None else '-'), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_doc(table)


def write_doc(table):
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
            count, fmt, op.replace('|', '\\|'), '%.3f' % om if om is not None else '-',
            '%.3f' % dm if dm is not None else '-', '%.2f' % ratio if ratio is not None else '-'))
    path = os.path.join(TOP, 'docs', 'performance.md')
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

#!/usr/bin/env python3
"""Run the Python end-to-end tests (tests/test_*.py, tests/*/test_*.py).

Each module runs in its own process with a time limit, so one hung test
cannot stall the suite. Prints "PASS name" / "FAIL name" per test and
finally "RESULT passed=N failed=N"."""

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = int(os.environ.get('CC_MODULE_TIMEOUT', '300'))

RUNNER = r'''
import sys, unittest, os
sys.path.insert(0, os.path.join(%(here)r, 'lib'))
sys.path.insert(0, os.path.dirname(%(path)r))
name = os.path.splitext(os.path.basename(%(path)r))[0]
class R(unittest.TextTestResult):
    def addSuccess(self, t):
        super().addSuccess(t); print("PASS %%s" %% t.id(), flush=True)
    def addFailure(self, t, e):
        super().addFailure(t, e); print("FAIL %%s" %% t.id(), flush=True)
    def addError(self, t, e):
        super().addError(t, e); print("FAIL %%s" %% t.id(), flush=True)
    def addSkip(self, t, r):
        super().addSkip(t, r); print("FAIL %%s (skipped: %%s)" %% (t.id(), r), flush=True)
    def addExpectedFailure(self, t, e):
        super().addExpectedFailure(t, e); print("FAIL %%s (expected failure)" %% t.id(), flush=True)
    def addUnexpectedSuccess(self, t):
        super().addUnexpectedSuccess(t); print("FAIL %%s (unexpected success)" %% t.id(), flush=True)
suite = unittest.defaultTestLoader.loadTestsFromName(name)
r = unittest.TextTestRunner(stream=sys.stderr, resultclass=R, verbosity=0).run(suite)
sys.exit(0 if r.wasSuccessful() else 1)
'''


def main():
    pattern = sys.argv[1:] or None
    files = sorted(glob.glob(os.path.join(HERE, 'test_*.py')) +
                   glob.glob(os.path.join(HERE, '*', 'test_*.py')))
    if pattern:
        files = [f for f in files if any(p in f for p in pattern)]
    # CC_EXCLUDE="a b": leave out modules whose path contains a or b
    exclude = os.environ.get('CC_EXCLUDE', '').split()
    files = [f for f in files if not any(x in f for x in exclude)]
    passed = failed = 0
    timings = []
    for path in files:
        t0 = time.monotonic()
        code = RUNNER % {'here': HERE, 'path': path}
        try:
            p = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=LIMIT, cwd=os.path.dirname(HERE))
            out, err, rc = p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace'), p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b'').decode(errors='replace')
            err = (e.stderr or b'').decode(errors='replace') + '\nTIMEOUT after %ds' % LIMIT
            rc = -1
        n_pass = out.count('\nPASS ') + out.startswith('PASS ')
        n_fail = out.count('\nFAIL ') + out.startswith('FAIL ')
        sys.stdout.write(out)
        if rc != 0 and n_fail == 0:
            # import error, crash or timeout: the module failed as a whole
            print('FAIL %s (module)' % os.path.relpath(path, HERE))
            n_fail = 1
        if rc != 0:
            sys.stdout.write(err[-6000:] + '\n')
        passed += n_pass
        failed += n_fail
        timings.append((time.monotonic() - t0, os.path.relpath(path, HERE)))
        sys.stdout.flush()
    for secs, name in sorted(timings, reverse=True):
        print('TIME %6.1fs %s' % (secs, name))
    print('RESULT passed=%d failed=%d' % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Regenerate docs/CONFIG.md from the key table in c-client/lib/config.c, so
the documentation can never drift from the code (test-config checks)."""
import os
import re

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = open(os.path.join(top, 'c-client', 'lib', 'config.c')).read()
table = src[src.index('static const struct config_key keys[]'):]
table = table[:table.index('};')]
rows = []
section = None
# a default may be a macro of config.c: #define NAME "value" (its fallback)
macros = dict(re.findall(r'#define (\w+) "([^"]*)"', src))
for m in re.finditer(r'/\* ([^*]+) \*/|\{\s*"([^"]+)",\s*C_(\w+),\s*(?:"([^"]*)"|(\w+)),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\}', table):
    if m.group(1):
        section = m.group(1).strip()
        rows.append(('section', section))
        continue
    help_text = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(6)))
    default = m.group(4) if m.group(5) is None else macros[m.group(5)]
    rows.append(('key', m.group(2), m.group(3).lower(), default, help_text))

out = ['# Configuration', '',
       'Every program (imapd, ipop3d, mailutil, tmail, dmail) works with no',
       'configuration file on a stock Debian system (seed FAQ 3.2). To change',
       'a default, write `key value` lines into `/etc/c-client.cf` (the file',
       'UW used), or name another file with `-c FILE` or the environment',
       'variable `CCLIENT_CONFIG`. Lines starting with `#` are comments. An',
       'unknown key or a bad value stops the program with an error naming the',
       'file and the line. Booleans are `yes`/`no`; numbers may be octal',
       '(`0600`).', '',
       'This file is generated from the table in `c-client/lib/config.c` by',
       '`tests/gen-config-doc.py`.', '']
for r in rows:
    if r[0] == 'section':
        out += ['## ' + r[1][0].upper() + r[1][1:], '', '| key | type | default | what it changes |',
                '| --- | --- | --- | --- |']
    else:
        _, key, typ, default, helptext = r
        out.append('| `%s` | %s | `%s` | %s |' % (key, typ, default if default else '(empty)',
                                                 helptext.replace('|', '\\|')))
    if r[0] == 'section':
        pass
text = '\n'.join(out) + '\n'
text = re.sub(r'\|\n## ', '|\n\n## ', text)
open(os.path.join(top, 'docs', 'CONFIG.md'), 'w').write(text)

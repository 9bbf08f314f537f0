#!/usr/bin/env python3
"""Per-message self cost by function: (long run - short run) / (messages long - short).
   callgrind-delta.py SHORT.callgrind LONG.callgrind MSGS_SHORT MSGS_LONG [TOP] [--inclusive]"""
import re, subprocess, sys
def table(path, inclusive):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}", path],
                         capture_output=True, text=True).stdout
    t = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in m.group(2):
            name = re.sub(r" \[[^\]]*\]$", "", m.group(2))
            name = name.split(":", 1)[-1] if ":" in name else name
            t[name] = t.get(name, 0) + int(m.group(1).replace(",", ""))
    return t
args = [a for a in sys.argv[1:] if not a.startswith("--")]
inc = "--inclusive" in sys.argv
a, b = table(args[0], inc), table(args[1], inc)
n = int(args[3]) - int(args[2]); top = int(args[4]) if len(args) > 4 else 30
d = sorted(((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b))
d.reverse()
for v, k in d[:top]:
    print(f"{v:8.0f}  {k[:150]}")

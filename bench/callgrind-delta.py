#!/usr/bin/env python3
"""Per-message cost by function: (long run - short run) / (messages long - short), from the
callgrind dumps that bench/cost-per-msg.sh leaves.

    python3 bench/callgrind-delta.py OUT NAME [TOP]          # the dumps and message counts of one
                                                             # cost-per-msg.sh run (all threads)
    python3 bench/callgrind-delta.py SHORT LONG MSGS_SHORT MSGS_LONG [TOP]   # two dump files

Each row is one function's *exclusive* (self) instructions per message, summed over the rows of
callgrind_annotate's flat table that name it (inlined code counts where it was inlined); the
rows not shown are summed into one line, so the rows add up to the total difference, which is
printed with the PROGRAM TOTALS difference as a check.
"""
import glob
import json
import re
import subprocess
import sys


def table(paths):
    """{function: Ir} from the flat table of each dump (summed), and the dumps' PROGRAM TOTALS."""
    t, total = {}, 0
    for path in paths:
        # --auto=no: no source annotation (its `=> file:function (Nx)` call lines are not rows
        # of the flat table, and it prints Perl warnings on some dumps).
        out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", path],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        total += sum(int(l.split()[0].replace(",", "")) for l in out if l.endswith("PROGRAM TOTALS"))
        start = [k for k, l in enumerate(out) if "file:function" in l][0] + 2
        for line in out[start:]:
            if line.startswith("---") or not line.strip():
                break  # the end of the flat table
            m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S.*)", line)
            if not m:
                continue
            name = re.sub(r" \[[^\]]*\]$", "", m.group(2))  # the object file
            name = name[4:] if name.startswith("???:") else name.split(":", 1)[-1]  # the source file
            t[name] = t.get(name, 0) + int(m.group(1).replace(",", ""))
    return t, total


def dumps(out, name, secs):
    files = sorted(glob.glob(f"{out}/{name}.callgrind.{secs}.1-[0-9]*"))  # --separate-threads=yes
    return files or [f"{out}/{name}.callgrind.{secs}.1"]


def main():
    args = sys.argv[1:]
    if len(args) in (2, 3):
        out, name = args[0], args[1]
        secs = sorted({int(s) for s in re.findall(rf"{re.escape(name)}\.callgrind\.(\d+)\.json",
                                                  " ".join(glob.glob(f"{out}/{name}.callgrind.*.json")))})
        if len(secs) != 2:
            sys.exit(f"callgrind-delta: need two runs {out}/{name}.callgrind.SECS.json, found {secs}")
        short, long_ = dumps(out, name, secs[0]), dumps(out, name, secs[1])
        m = [json.load(open(f"{out}/{name}.callgrind.{s}.json"))["msgs"] for s in secs]
        top = int(args[2]) if len(args) > 2 else 30
    elif len(args) in (4, 5):
        short, long_, m = [args[0]], [args[1]], [int(args[2]), int(args[3])]
        top = int(args[4]) if len(args) > 4 else 30
    else:
        sys.exit(__doc__)
    (a, ta), (b, tb) = table(short), table(long_)
    n = m[1] - m[0]
    d = sorted((((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b)), key=lambda x: -abs(x[0]))
    for v, k in d[:top]:
        print(f"{v:10.1f}  {k[:150]}")
    print(f"{sum(v for v, _ in d[top:]):10.1f}  ({max(len(d) - top, 0)} more functions)")
    print(f"{sum(v for v, _ in d):10.1f}  total of the rows")
    print(f"{(tb - ta) / n:10.1f}  PROGRAM TOTALS difference ({tb - ta:,} Ir / {n:,} msgs)")


main()

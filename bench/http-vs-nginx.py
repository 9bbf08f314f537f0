#!/usr/bin/env python3
"""`overlapped http` against nginx, measured by wrk, in one run.

One command, nothing installed by it (install first: `apt-get install nginx wrk`):

    python3 bench/http-vs-nginx.py [--rounds 3] [--secs 10] [--models event,routine,port]
        [--rows all|rps,mib,100mib,cpu] [--base-binary PATH] [--base-args ARGS]
        [--backends auto,epoll]

`--model port` runs with `--threads 1` (the server has one CPU). `--base-binary`
adds the same models run from another build of `overlapped` (labelled
"base"), for a before/after ratio in the same run; `--base-args '--nonblocking false'`
runs the base with those options (this build, unless `--base-binary` names another). `--backends auto,epoll` runs
every model on the library's own choice and on epoll (labelled "epoll").

Both servers serve the same generated root, each pinned to CPU 0 (`taskset -c 0`);
wrk runs pinned to CPU 1. nginx: one worker, `sendfile on`, `tcp_nopush on`,
access log off, keep-alive (its defaults otherwise). Rows (the issue's):

  1. 1 KiB file, 64 connections: requests/s and p99 latency
  2. 1 MiB file, 16 connections: MB/s
  3. 100 MiB file, 4 connections: MB/s, and wrk's own CPU (user + system) per
     100 MiB answer: wrk on its one CPU is this row's limit, and on loopback
     part of the TCP work lands on whichever side's system call sends the
     bytes (a sender that queues more than the client's window has them sent
     from the client's acknowledgements, in the client's reads)
  4. server CPU per request at a fixed rate below both servers' capacity
     (wrk paced by a Lua `delay()`: 50 connections, one request each per
     50 ms = about 1,000 requests/s; CPU = utime + stime of the whole
     server process (every thread, io_uring's workers included) over the run)

Rounds are interleaved (nginx, then each model, in an order that rotates
every round); the table gives the median of the rounds and the ratio to
nginx's median. Prints Markdown.
"""

import argparse
import math
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""

PACED_LUA = """\
function delay()
   return 50
end
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (whole process)
    return total / TICK


def client_cpu():
    """CPU seconds (user + system) of every finished child so far (wrk)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def unit_seconds(text):
    m = re.match(r"([\d.]+)\s*(us|ms|s|m)", text)
    if not m:
        return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[u]


def wrk(url, conns, secs, lua=None):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency"]
    if lua:
        cmd += ["-s", lua]
    out = sh(cmd + [url]).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"99%\s+(\S+)", out)
    p99 = unit_seconds(m.group(1)) if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"wrk saw errors against {url}:\n{out}")
    return rps, p99, total


# `--sched batch`: the server runs SCHED_BATCH (chrt -b 0), nginx and ours alike.
BATCH = ["chrt", "--batch", "0"]


class Server:
    def __init__(self, name, cmd, pids_of, port_of, sched=()):
        self.name = name
        self.proc = subprocess.Popen(
            list(sched) + ["taskset", "-c", "0"] + cmd,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.port = port_of(self.proc)
        self.pids = pids_of(self.proc)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_ours(binary, root, model, label="", sched=(), backend="auto", extra=()):
    def port_of(p):
        line = p.stdout.readline()
        return int(line.strip().rsplit(":", 1)[1])

    threads = ["--threads", "1"] if model == "port" else []
    # The library's own choice is labelled as before; a forced backend is named.
    forced = [] if backend == "auto" else ["--backend", backend]
    if forced:
        label = f" {backend}{label}"
    return Server(
        f"overlapped {model}{label}",
        [binary, "http", "--root", root, "--port", "0", "--model", model] + forced + threads
        + list(extra),
        lambda p: [p.pid],
        port_of,
        sched,
    )


def start_nginx(work, root, label="", sched=()):
    port = free_port()
    work = os.path.join(work, "nginx" + label.replace(" ", "-"))
    os.makedirs(work, exist_ok=True)
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(work=work, port=port, root=root))

    def pids_of(p):
        for _ in range(100):
            kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True)
            if kids.stdout.split():
                return [p.pid] + [int(k) for k in kids.stdout.split()]
            time.sleep(0.05)
        sys.exit("nginx did not start a worker")

    def port_of(p):
        import socket

        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return port
            except OSError:
                time.sleep(0.05)
        sys.exit(f"nginx did not listen; see {work}/nginx-error.log")

    return Server("nginx" + label, ["nginx", "-c", conf, "-p", work], pids_of, port_of, sched)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--models", default="event,routine,port")
    ap.add_argument("--base-args", default="",
                    help="options for the base servers' `overlapped http` (e.g. "
                         "'--nonblocking false'); without --base-binary, the base is this build")
    ap.add_argument("--backends", default="auto",
                    help="the library's backends to run each model on: auto (its own choice, "
                         "unlabelled), uring, epoll, or a list (auto,epoll); forced ones are "
                         "named in the labels")
    ap.add_argument("--rows", default="all", help="all, or some of rps,mib,100mib,cpu")
    ap.add_argument("--binary", default=None,
                    help="the overlapped binary (default: build target/release/overlapped first)")
    ap.add_argument("--base-binary", default=None,
                    help="also run the models from this build (labelled base)")
    ap.add_argument("--sched", default="normal", choices=["normal", "batch", "both"],
                    help="scheduling policy of every server: normal, batch (chrt -b 0), "
                         "or both (each server twice; ratios against nginx of the same policy)")
    args = ap.parse_args()
    wanted = {"rps", "mib", "100mib", "cpu"} if args.rows == "all" else set(args.rows.split(","))
    if not wanted or wanted - {"rps", "mib", "100mib", "cpu"}:
        sys.exit(f"--rows: {args.rows!r}: all, or a list of rps, mib, 100mib, cpu")
    for tool in ["nginx", "wrk", "taskset"]:
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install nginx wrk util-linux")
    if args.binary is None:
        # Always the current source (a no-op when up to date).
        subprocess.run(["cargo", "build", "--release", "--bin", "overlapped"], cwd=REPO, check=True)
        args.binary = os.path.join(REPO, "target/release/overlapped")
    work = tempfile.mkdtemp(prefix="http-bench-")
    os.chmod(work, 0o755)  # nginx's worker runs as another user
    root = os.path.join(work, "root")
    os.makedirs(root, mode=0o755)
    for name, size in [("1k.bin", 1024), ("1m.bin", 1 << 20), ("100m.bin", 100 << 20)]:
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(size))
        os.chmod(os.path.join(root, name), 0o644)
    lua = os.path.join(work, "paced.lua")
    with open(lua, "w") as f:
        f.write(PACED_LUA)
    models = [m for m in args.models.split(",") if m]
    policies = {"normal": [("", ())], "batch": [(" batch", BATCH)],
                "both": [("", ()), (" batch", BATCH)]}[args.sched]
    servers = []
    for suffix, sched in policies:
        servers.append(start_nginx(work, root, suffix, sched))
        backends = [b for b in args.backends.split(",") if b]
        servers += [start_ours(args.binary, root, m, suffix, sched, b)
                    for b in backends for m in models]
        if args.base_binary or args.base_args:
            base = args.base_binary or args.binary
            extra = args.base_args.split()
            servers += [start_ours(base, root, m, " base" + suffix, sched, b, extra)
                        for b in backends for m in models]
    rows = {}
    if "rps" in wanted:
        rows["1 KiB, 64 conn: req/s"] = []
        rows["1 KiB, 64 conn: p99 ms"] = []
    if "mib" in wanted:
        rows["1 MiB, 16 conn: MB/s"] = []
    if "100mib" in wanted:
        rows["100 MiB, 4 conn: MB/s"] = []
        rows["100 MiB, 4 conn: wrk CPU ms per 100 MiB"] = []
    if "cpu" in wanted:
        rows["CPU µs/request at ~1,000 req/s"] = []
    results = {s.name: {r: [] for r in rows} for s in servers}
    tick_us = []
    try:
        for rnd in range(args.rounds):
            order = servers[rnd % len(servers):] + servers[: rnd % len(servers)]
            for s in order if "rps" in wanted else []:
                rps, p99, _ = wrk(s.url("1k.bin"), 64, args.secs)
                results[s.name]["1 KiB, 64 conn: req/s"].append(rps)
                results[s.name]["1 KiB, 64 conn: p99 ms"].append(p99 * 1e3)
            for s in order if "mib" in wanted else []:
                rps, _, _ = wrk(s.url("1m.bin"), 16, args.secs)
                results[s.name]["1 MiB, 16 conn: MB/s"].append(rps * (1 << 20) / 1e6)
            for s in order if "100mib" in wanted else []:
                before = client_cpu()
                rps, _, total = wrk(s.url("100m.bin"), 4, args.secs)
                used = client_cpu() - before
                results[s.name]["100 MiB, 4 conn: MB/s"].append(rps * (100 << 20) / 1e6)
                # The client (one CPU) is this row's limit: its CPU per byte says why.
                results[s.name]["100 MiB, 4 conn: wrk CPU ms per 100 MiB"].append(
                    used / max(total, 1) * 1e3)
            for s in order if "cpu" in wanted else []:
                before = cpu_seconds(s.pids)
                _, _, total = wrk(s.url("1k.bin"), 50, args.secs, lua)
                used = cpu_seconds(s.pids) - before
                results[s.name]["CPU µs/request at ~1,000 req/s"].append(used / max(total, 1) * 1e6)
                tick_us.append(1e6 / TICK / max(total, 1))  # the row's resolution: one clock tick
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for s in servers:
            s.stop()
    lower_is_better = {"1 KiB, 64 conn: p99 ms", "CPU µs/request at ~1,000 req/s",
                       "100 MiB, 4 conn: wrk CPU ms per 100 MiB"}
    names = [s.name for s in servers]
    ours = [n for n in names if not n.startswith("nginx")]

    def ref(n):
        return "nginx batch" if n.endswith(" batch") else "nginx"

    print(f"rounds: {args.rounds} × {args.secs} s; medians; ratio = overlapped ÷ nginx "
          f"(for p99 and CPU: nginx ÷ overlapped, so > 1.0 is better everywhere)\n")
    print("| row | " + " | ".join(names) + " | " + " | ".join(f"{m} ratio" for m in ours) + " |")
    print("|---" * (1 + len(names) + len(ours)) + "|")
    for r in rows:
        med = {n: statistics.median(results[n][r]) for n in names}
        cells = [f"{med[n]:,.2f}" if med[n] < 100 else f"{med[n]:,.0f}" for n in names]
        ratios = []
        for n in ours:
            if r in lower_is_better:
                ratios.append(f"{med[ref(n)] / med[n]:.2f}×" if med[n] else "-")
            else:
                ratios.append(f"{med[n] / med[ref(n)]:.2f}×" if med[ref(n)] else "-")
        print(f"| {r} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    if tick_us:  # CPU time is counted in clock ticks: at a short --secs one tick is a large step
        least = min(statistics.median(results[n]["CPU µs/request at ~1,000 req/s"]) for n in names)
        if max(tick_us) > 0.02 * least:
            print(f"\nwarning: the CPU row moves in steps of one clock tick ({1e3 / TICK:.0f} ms), here "
                  f"{max(tick_us):.2f} µs/request, over 2 % of {least:.2f} µs: use --secs "
                  f"{math.ceil(args.secs * max(tick_us) / (0.02 * least))} or more for that row")
    print(f"\nall rounds: {results}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

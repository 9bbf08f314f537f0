#!/usr/bin/env bash
# Do the two load generators agree? The same servers, loaded in one run by echo-peers'
# `echo-load` and by this project's `overlapped bench` (the client `compare` starts),
# interleaved (every server x client once per round), server pinned to CPU 0, client to CPU 1,
# the server's CPU and the client CPU's idle time read at the client's window markers (as echo-peers and compare both do).
# Prints one Markdown table per scenario: medians over the rounds of msgs/s (and the ratio to
# tokio-ct under the same client), p99, server CPU µs/msg, the client CPU's busy µs/msg and how
# busy the client's CPU was (100 % - idle: a client near 100 % is the bottleneck, and then msgs/s is the
# pair's figure, not the server's).
#   bench/clients-agree.sh                       # SECS=2 ROUNDS=3 SCEN="50 500"
# Env: P (overlapped binary, default target/release/overlapped), E (echo-peers release dir:
# required, e.g. E=../echo-peers/target/release), SECS, ROUNDS, WARMUP (0.5), SCEN (conns
# per scenario, 64 B, depth 1), SERVERS (names below), OUT (raw lines and each server's
# output, OUT/server-ROUND-CONNS-SERVER-CLIENT.log; default /tmp/clients-agree).
# A run starts its client only once the server has printed `listening on` and its port
# listens; a server that never does is a FAIL row, with its log's tail on stderr.
# Ports: this project's servers take --port 0 and print the port they got; echo-peers' servers
# get a free port below the ephemeral range (so no client connection can hold it).
set -u
P=${P:-target/release/overlapped}
E=${E:-}; [ -n "$E" ] && [ -x "$E/echo-load" ] || {
  echo "clients-agree: set E to echo-peers' release directory (with echo-load, echo-tokio, echo-uring): E=${E:-unset}" >&2; exit 2; }
SECS=${SECS:-2}; ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-0.5}; SCEN=${SCEN:-"50 500"}
SERVERS=${SERVERS:-"tokio-ct serve-tokio uring routine event"}
OUT=${OUT:-/tmp/clients-agree}; mkdir -p "$OUT"; : >"$OUT/runs.tsv"
ulimit -n 65536 2>/dev/null || true
declare -A CMD=(
  [tokio-ct]="$E/echo-tokio --port {port}"                       # echo-peers' tokio current_thread
  [serve-tokio]="$P serve-tokio --addr 127.0.0.1 --port {port}"  # compare's tokio row
  [uring]="$E/echo-uring --port {port}"                          # echo-peers' hand-written io_uring loop
  [serve-uring]="$P serve-uring --addr 127.0.0.1 --port {port}"  # compare's uring row
  [routine]="$P serve --model routine --addr 127.0.0.1 --port {port}"
  [event]="$P serve --model event --addr 127.0.0.1 --port {port}"
)
tck=$(getconf CLK_TCK)
# Shell builtins only (no fork: the reading is quick, before a client that ends can go away).
cpu() { local line f; read -r line 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
  f=(${line##*) }); echo $((f[11] + f[12])); } # utime + stime, clock ticks
idle1() { local name u n s i w rest; while read -r name u n s i w rest; do
  [ "$name" = cpu1 ] && { echo $((i + w)); return; }; done </proc/stat; } # client CPU idle+iowait
listening() { awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p {f = 1} END {exit !f}' /proc/net/tcp; }
read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range
free() { python3 -c 'import socket,sys;s=socket.socket();s.bind(("127.0.0.1",int(sys.argv[1])))' "$1" 2>/dev/null; }
peer_port=$((eph_lo - 12000 + RANDOM % 10000)); [ $peer_port -ge 1024 ] || peer_port=$((1024 + RANDOM % 1000))
for round in $(seq "$ROUNDS"); do
  for conns in $SCEN; do
    for s in $SERVERS; do
      for client in echo-load bench; do
        log="$OUT/server-$round-$conns-$s-$client.log"
        if [[ ${CMD[$s]} == "$P "* ]]; then want=0; else # echo-peers' servers print the port asked for
          peer_port=$((peer_port + 1)); while listening $peer_port || ! free $peer_port; do peer_port=$((peer_port + 1)); done
          want=$peer_port
        fi
        taskset -c 0 bash -c "exec ${CMD[$s]//\{port\}/$want}" >"$log" 2>&1 &
        spid=$!
        port=
        for _ in $(seq 200); do # up to 10 s
          if [ -z "$port" ]; then
            port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
            [ "$want" != 0 ] && [ -n "$port" ] && port=$want
          fi
          [ -n "$port" ] && [ "$port" != 0 ] && listening "$port" && break
          kill -0 $spid 2>/dev/null || break
          sleep 0.05
        done
        if [ -z "$port" ] || [ "$port" = 0 ] || ! listening "$port"; then
          printf '%s\t%s\t%s\t%s\tFAIL\tserver never listened (%s)\t-\t-\t-\n' \
            "$round" "$conns" "$s" "$client" "$log" >>"$OUT/runs.tsv"
          { tail -1 "$OUT/runs.tsv"; echo "  $s's output ($log), last lines:"; tail -5 "$log" | sed 's/^/    /'; } >&2
          kill $spid 2>/dev/null; wait $spid 2>/dev/null
          continue
        fi
        if [ $client = echo-load ]; then
          cl=(taskset -c 1 "$E/echo-load" --addr 127.0.0.1:$port --conns $conns --size 64 --depth 1
              --secs "$SECS" --warmup "$WARMUP" --marks)
        else
          cl=(taskset -c 1 "$P" bench --addr 127.0.0.1:$port --conns $conns --size 64 --depth 1
              --secs "$SECS" --warmup "$WARMUP" --json --markers)
        fi
        rm -f "$OUT/marks"
        # The client's stderr carries the window markers; at each, read both processes' CPU
        # time, the client CPU's idle time and the clock (taskset execs: $! is the client).
        "${cl[@]}" >"$OUT/json" 2> >(while read -r line; do
          case $line in *"mark measure"*|*"measure start"*|*"mark end"*|*"measure end"*)
            echo "$(cpu $spid) $(idle1) $EPOCHREALTIME" >>"$OUT/marks";; esac; done)
        sleep 0.2
        kill $spid 2>/dev/null; wait $spid 2>/dev/null
        mapfile -t m <"$OUT/marks" 2>/dev/null
        python3 - "$round" "$conns" "$s" "$client" "${m[0]:-0 0 0}" "${m[1]:-0 0 1}" "$tck" \
          "$(tail -1 "$OUT/json")" >>"$OUT/runs.tsv" <<'EOF'
import json, sys
r, conns, s, client, m0, m1, tck, j = sys.argv[1:]
(s0, i0, t0), (s1, i1, t1) = [[float(x) for x in m.split()] for m in (m0, m1)]
tck = int(tck)
try:
    d = json.loads(j)
except ValueError:
    print(f"{r}\t{conns}\t{s}\t{client}\tFAIL\t-\t-\t-\t-"); sys.exit()
msgs = d["msgs"]; rate = d.get("msgs_per_s", d.get("msgs_per_sec"))
if not msgs:  # nothing echoed (the client could not connect, or the server failed): a failed run
    print(f"{r}\t{conns}\t{s}\t{client}\tFAIL\terrors={d.get('errors')}\t-\t-\t-"); sys.exit()
per = lambda a, b: (b - a) * 1e6 / tck / msgs if msgs else float("nan")
busy = 100 - (i1 - i0) / tck / (t1 - t0) * 100
# The client's CPU: the busy time of CPU 1 (the client and the softirq work of what it sends).
ccpu = (t1 - t0) * busy / 100 * 1e6 / msgs if msgs else float("nan")
print(f"{r}\t{conns}\t{s}\t{client}\t{rate:.0f}\t{d['p99_us']}\t{per(s0, s1):.2f}\t{ccpu:.2f}\t{busy:.0f}")
EOF
        tail -1 "$OUT/runs.tsv" >&2
        case $(tail -1 "$OUT/runs.tsv") in *FAIL*)
          { echo "  $s's output ($log), last lines:"; tail -5 "$log" | sed 's/^/    /'; } >&2;; esac
      done
    done
  done
done
if grep -q FAIL "$OUT/runs.tsv"; then
  echo "failed runs (left out of the medians; each server's output is in $OUT/server-*.log):" >&2
  grep FAIL "$OUT/runs.tsv" >&2
fi
python3 - "$OUT/runs.tsv" "$SERVERS" "$SCEN" <<'EOF'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if "FAIL" not in l]
servers, scen = sys.argv[2].split(), sys.argv[3].split()
def med(conns, s, client, col):
    v = [float(r[col]) for r in rows if r[1] == conns and r[2] == s and r[3] == client]
    return st.median(v) if v else float("nan")
for conns in scen:
    print(f"\n{conns} conns x 64 B, depth 1 (medians; each cell: echo-load / bench)\n")
    print("| server | msgs/s (x tokio-ct) | p99 us | server CPU us/msg | client CPU us/msg | client CPU busy % |")
    print("|---|---|---|---|---|---|")
    base = {c: med(conns, "tokio-ct", c, 4) for c in ("echo-load", "bench")}
    for s in servers:
        cell = lambda col, f: " / ".join(f.format(med(conns, s, c, col)) for c in ("echo-load", "bench"))
        rates = " / ".join(f"{med(conns, s, c, 4):,.0f} ({med(conns, s, c, 4) / base[c]:.2f})"
                           for c in ("echo-load", "bench"))
        print(f"| {s} | {rates} | {cell(5, '{:,.0f}')} | {cell(6, '{:.2f}')} | {cell(7, '{:.2f}')} | {cell(8, '{:.0f}')} |")
EOF
! grep -q FAIL "$OUT/runs.tsv" # exit 1 when a run failed

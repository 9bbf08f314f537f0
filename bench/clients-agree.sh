#!/usr/bin/env bash
# Do the two load generators agree? The same servers, loaded in one run by echo-peers'
# `echo-load` and by this project's `overlapped bench` (the client `compare` starts),
# interleaved (every server x client once per round), server pinned to CPU 0, client to CPU 1,
# the server's CPU read at each client's window markers (as echo-peers and compare both do).
# Prints one Markdown table: medians over the rounds of msgs/s, p99 and server CPU µs/msg per
# client, each server's ratio to tokio-ct under each client, and how busy the client's CPU was
# (100 % - idle: a client near 100 % is the bottleneck, and then the figure is the pair's).
#   bench/clients-agree.sh                       # SECS=2 ROUNDS=3 SCEN="50 500"
# Env: P (overlapped binary, default target/release/overlapped), E (echo-peers release dir,
# default /work/bench/echo-peers/target/release), SECS, ROUNDS, WARMUP (0.5), SCEN (conns
# per scenario, 64 B, depth 1), SERVERS (names below), OUT (raw lines, default /tmp/clients-agree).
set -u
P=${P:-target/release/overlapped}; E=${E:-/work/bench/echo-peers/target/release}
SECS=${SECS:-2}; ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-0.5}; SCEN=${SCEN:-"50 500"}
SERVERS=${SERVERS:-"tokio-ct serve-tokio uring routine event"}
OUT=${OUT:-/tmp/clients-agree}; mkdir -p "$OUT"; : >"$OUT/runs.tsv"
ulimit -n 65536 2>/dev/null || true
declare -A CMD=(
  [tokio-ct]="$E/echo-tokio --port {port}"            # echo-peers' tokio current_thread
  [serve-tokio]="$P serve-tokio --addr 127.0.0.1 --port {port}"  # compare's tokio row
  [uring]="$E/echo-uring --port {port}"               # echo-peers' hand-written io_uring loop
  [serve-uring]="$P serve-uring --addr 127.0.0.1 --port {port}"  # compare's uring row
  [routine]="$P serve --model routine --addr 127.0.0.1 --port {port}"
  [event]="$P serve --model event --addr 127.0.0.1 --port {port}"
)
tck=$(getconf CLK_TCK)
cpu() { local f; read -r -a f <<<"$(sed 's/.*) //' /proc/$1/stat)"; echo $((f[11] + f[12])); }
idle1() { awk '$1 == "cpu1" {print $5 + $6}' /proc/stat; } # the client CPU's idle + iowait ticks
listening() { awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p {f = 1} END {exit !f}' /proc/net/tcp; }
port=$((21000 + RANDOM % 20000))
for round in $(seq "$ROUNDS"); do
  for conns in $SCEN; do
    for s in $SERVERS; do
      for client in echo-load bench; do
        port=$((port + 1)); while listening $port; do port=$((port + 1)); done
        taskset -c 0 bash -c "exec ${CMD[$s]//\{port\}/$port}" >/dev/null 2>&1 &
        spid=$!
        for _ in $(seq 100); do listening $port && break; sleep 0.05; done
        if [ $client = echo-load ]; then
          cl=(taskset -c 1 "$E/echo-load" --addr 127.0.0.1:$port --conns $conns --size 64 --depth 1
              --secs "$SECS" --warmup "$WARMUP" --marks)
        else
          cl=(taskset -c 1 "$P" bench --addr 127.0.0.1:$port --conns $conns --size 64 --depth 1
              --secs "$SECS" --warmup "$WARMUP" --json --markers)
        fi
        marks=()
        # The client's stderr carries the window markers; read the server's CPU at each.
        json=$("${cl[@]}" 2> >(while read -r line; do
          case $line in *"mark measure"*|*"measure start"*|*"mark end"*|*"measure end"*)
            echo "$(cpu $spid) $(idle1) $EPOCHREALTIME" >>"$OUT/marks.$$";; esac; done) | tail -1)
        sleep 0.2
        kill $spid 2>/dev/null; wait $spid 2>/dev/null
        mapfile -t m <"$OUT/marks.$$"; rm -f "$OUT/marks.$$"
        read -r c0 i0 t0 <<<"${m[0]:-0 0 0}"; read -r c1 i1 t1 <<<"${m[1]:-0 0 1}"
        python3 - "$round" "$conns" "$s" "$client" "$c0" "$c1" "$i0" "$i1" "$t0" "$t1" "$tck" "$json" >>"$OUT/runs.tsv" <<'EOF'
import json, sys
r, conns, s, client, c0, c1, i0, i1, t0, t1, tck, j = sys.argv[1:]
try:
    d = json.loads(j)
except ValueError:
    print(f"{r}\t{conns}\t{s}\t{client}\tFAIL\t-\t-\t-"); sys.exit()
msgs = d["msgs"]; rate = d.get("msgs_per_s", d.get("msgs_per_sec"))
us = (int(c1) - int(c0)) * 1e6 / int(tck) / msgs if msgs else float("nan")
busy = 100 - (int(i1) - int(i0)) / int(tck) / (float(t1) - float(t0)) * 100
print(f"{r}\t{conns}\t{s}\t{client}\t{rate:.0f}\t{d['p99_us']}\t{us:.2f}\t{busy:.0f}")
EOF
        tail -1 "$OUT/runs.tsv" >&2
      done
    done
  done
done
python3 - "$OUT/runs.tsv" "$SERVERS" "$SCEN" <<'EOF'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if "FAIL" not in l]
servers, scen = sys.argv[2].split(), sys.argv[3].split()
def med(conns, s, client, col):
    v = [float(r[col]) for r in rows if r[1] == conns and r[2] == s and r[3] == client]
    return st.median(v) if v else float("nan")
for conns in scen:
    print(f"\n{conns} conns x 64 B, depth 1 (medians)\n")
    print("| server | echo-load msgs/s (x tokio-ct) | bench msgs/s (x tokio-ct) | p99 us echo-load / bench | server CPU us/msg echo-load / bench | client CPU busy % echo-load / bench |")
    print("|---|---|---|---|---|---|")
    base = {c: med(conns, "tokio-ct", c, 4) for c in ("echo-load", "bench")}
    for s in servers:
        e, b = med(conns, s, "echo-load", 4), med(conns, s, "bench", 4)
        print(f"| {s} | {e:,.0f} ({e / base['echo-load']:.2f}) | {b:,.0f} ({b / base['bench']:.2f}) | "
              f"{med(conns, s, 'echo-load', 5):,.0f} / {med(conns, s, 'bench', 5):,.0f} | "
              f"{med(conns, s, 'echo-load', 6):.2f} / {med(conns, s, 'bench', 6):.2f} | "
              f"{med(conns, s, 'echo-load', 7):.0f} / {med(conns, s, 'bench', 7):.0f} |")
EOF

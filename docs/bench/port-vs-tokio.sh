#!/usr/bin/env bash
# The completion-port server against tokio at the same thread count, with
# the team's independent yardstick (echo-peers: its load generator checks
# every byte and reads the server's CPU over the measured window):
#
#   1. serve --model port --threads 1  vs  tokio current_thread   (server CPU 0, load CPU 1)
#   2. serve --model port --threads 2  vs  tokio multi_thread, 2 workers
#                                          (server CPU 0, load CPU 1, as echo-peers pins
#                                           tokio-mt2; with SERVER_CPU2=0-1 CLIENT_CPU2=0-1
#                                           the 2-thread servers get both CPUs, shared with the
#                                           load: msgs/s and server_cpu_us_per_msg stay valid,
#                                           the per-CPU busy columns do not)
#
# scenarios a (50 conns x 64 B) and b (500 x 64 B), closed loop, ROUNDS
# interleaved rounds, medians. Each pair runs in one run.sh invocation, so its
# ratio is a same-run ratio.
#
# usage: docs/bench/port-vs-tokio.sh      (from the repository root)
#   PEERS=/path/to/echo-peers (required: the echo-peers source tree) SECS=5 ROUNDS=3
#   SERVER_CPU2=0 CLIENT_CPU2=1
set -euo pipefail
PEERS=${PEERS:-}
[ -n "$PEERS" ] && [ -x "$PEERS/run.sh" ] || {
  echo "port-vs-tokio: set PEERS to the echo-peers source tree (with run.sh): PEERS=${PEERS:-unset}" >&2; exit 2; }
PEERS=$(cd "$PEERS" && pwd)
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SERVER_CPU2=${SERVER_CPU2:-0}
CLIENT_CPU2=${CLIENT_CPU2:-1}
OUT=${OUT:-$ROOT/target/port-vs-tokio/$(date +%Y%m%d-%H%M%S)}

cargo build --release --bin overlapped
work=$(mktemp -d)
cp -r "$PEERS" "$work/"
cd "$work/echo-peers"
cargo build --release
mkdir -p "$OUT"
BIN="$ROOT/target/release/overlapped serve --addr 127.0.0.1 --port {port} --model port"

NOBUILD=1 SERVERS=tokio-ct SCENARIOS="a b" SECS=$SECS ROUNDS=$ROUNDS \
  EXTRA="$BIN --threads 1" EXTRA_NAME=port-t1 OUT="$OUT/threads1" ./run.sh
NOBUILD=1 SERVERS=tokio-mt2 SCENARIOS="a b" SECS=$SECS ROUNDS=$ROUNDS \
  SERVER_CPU=$SERVER_CPU2 CLIENT_CPU=$CLIENT_CPU2 \
  EXTRA="$BIN --threads 2" EXTRA_NAME=port-t2 OUT="$OUT/threads2" ./run.sh

echo
echo "== 1 thread: port-t1 vs tokio-ct"
./table.sh "$OUT/threads1/results.tsv" tokio-ct
echo
echo "== 2 threads: port-t2 vs tokio-mt2"
./table.sh "$OUT/threads2/results.tsv" tokio-mt2
rm -rf "$work"

# The README's table: medians over the rounds, same-run ratios (msgs/s: ours
# / tokio, > 1 = faster; CPU per message: tokio / ours, > 1 = cheaper).
summary() { # results.tsv ours tokio label
  awk -F'\t' -v ours="$2" -v tok="$3" -v label="$4" '
  function med(str,   n, a, i, j, t) {
    n = split(str, a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  NR == 1 { next }
  $4 == "FAIL" { fail[$2, $3] = 1; next }
  { k = $2 SUBSEP $3; tp[k] = (k in tp) ? tp[k] " " $4 : $4; if ($15 != "-") cpu[k] = (k in cpu) ? cpu[k] " " $15 : $15; sc[$3] = 1 }
  END {
    name["a"] = "50 conns x 64 B"; name["b"] = "500 conns x 64 B"
    for (s in sc) {
      o = ours SUBSEP s; t = tok SUBSEP s
      if ((ours, s) in fail || (tok, s) in fail || !(o in tp) || !(t in tp)) { printf "| %s | %s | FAIL | | | | | |\n", label, name[s]; continue }
      mo = med(tp[o]); mt = med(tp[t]); co = med(cpu[o]); ct = med(cpu[t])
      printf "| %s | %s | %d | %d | %.2fx | %.2f | %.2f | %.2fx |\n", label, (s in name ? name[s] : s), mo, mt, mo / mt, co, ct, (co > 0 ? ct / co : 0)
    }
  }' "$1" | sort
}
echo
echo "| pair | load | ours msgs/s | tokio msgs/s | msgs/s ratio | ours CPU us/msg | tokio CPU us/msg | CPU ratio (tokio/ours) |"
echo "|---|---|---|---|---|---|---|---|"
summary "$OUT/threads1/results.tsv" port-t1 tokio-ct "port --threads 1 vs tokio current_thread"
summary "$OUT/threads2/results.tsv" port-t2 tokio-mt2 "port --threads 2 vs tokio multi_thread (2)"
echo
echo "(SECS=$SECS ROUNDS=$ROUNDS, medians; 1-thread pair: server CPU 0, load CPU 1; 2-thread pair:"
echo " server CPU $SERVER_CPU2, load CPU $CLIENT_CPU2; results: $OUT)"

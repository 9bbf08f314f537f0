#!/usr/bin/env bash
# CPU and wake-ups per request of one HTTP server under a fixed, low request rate.
#
#   bench/http-cpu-probe.sh [BINARY|nginx] [MODEL] [SECS]
#   (defaults: target/release/overlapped event 6; needs perf, wrk, nginx for `nginx`)
#   SCHED=batch in the environment runs the server SCHED_BATCH (chrt --batch 0).
#   ARGS="..." in the environment: more options for `overlapped http` (e.g.
#   "--backend epoll", "--nonblocking false"); ignored for nginx.
#
# The server runs under `perf stat` (so every thread it ever has counts, io_uring's
# workers included), pinned to CPU 0; wrk (pinned to CPU 1) keeps 50 connections,
# each sending one request for a 1 KiB file every 50 ms (~1,000 requests/s).
# Prints one line: requests, task-clock per request (µs), context switches,
# system calls (all threads), io_uring_enter calls and io-wq hand-overs per request. Run it several times,
# alternating servers: the machine's noise is larger than most differences.
set -euo pipefail
B=${1:-$(dirname "$0")/../target/release/overlapped}; M=${2:-event}; S=${3:-6}
P=(); [ "${SCHED:-normal}" = batch ] && P=(chrt --batch 0)
W=$(mktemp -d /tmp/http-cpu-probe.XXXXXX); trap 'rm -rf "$W"' EXIT
chmod 755 "$W"; mkdir -m 755 "$W/root"; head -c 1024 /dev/urandom > "$W/root/1k.bin"; chmod 644 "$W/root/1k.bin"
printf 'function delay()\n   return 50\nend\n' > "$W/paced.lua"
EV='task-clock,context-switches,raw_syscalls:sys_enter'
if [ "$B" = nginx ]; then
  PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
  cat > "$W/nginx.conf" <<NG
worker_processes 1; daemon off; master_process on; pid $W/nginx.pid; error_log $W/err.log warn;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000;
  default_type application/octet-stream; server { listen 127.0.0.1:$PORT; root $W/root; } }
NG
  "${P[@]}" taskset -c 0 perf stat -e "$EV" -o "$W/perf.txt" -- nginx -c "$W/nginx.conf" -p "$W" & PP=$!
  sleep 1
else
  EV="$EV,syscalls:sys_enter_io_uring_enter,io_uring:io_uring_queue_async_work"
  T=(); [ "$M" = port ] && T=(--threads 1)
  "${P[@]}" taskset -c 0 perf stat -e "$EV" -o "$W/perf.txt" -- "$B" http --root "$W/root" --port 0 \
    --model "$M" "${T[@]}" ${ARGS:-} > "$W/out" 2>/dev/null & PP=$!
  for _ in $(seq 50); do [ -s "$W/out" ] && break; sleep 0.1; done
  PORT=$(head -1 "$W/out" | sed 's/.*://')
fi
R=$(taskset -c 1 wrk -t1 -c50 -d"${S}s" -s "$W/paced.lua" "http://127.0.0.1:$PORT/1k.bin" \
  | grep -oE "[0-9]+ requests in" | cut -d' ' -f1)
kill -TERM $(pgrep -P $PP); wait $PP || true
TC=$(grep task-clock "$W/perf.txt" | awk '{print $1}' | tr -d ,)
printf '%s %s %s%s requests=%s cpu_us_per_request=%s' "$(basename "$B")" "$M" "${SCHED:-normal}" \
  "$([ "$B" = nginx ] || echo "${ARGS:+ $ARGS}")" "$R" \
  "$(python3 -c "print(round($TC*1000/$R,2))")"
grep -E "switch|enter|async" "$W/perf.txt" \
  | sed 's/raw_syscalls:sys_enter/syscalls/; s/syscalls:sys_enter_//; s/io_uring:io_uring_//' \
  | awk -v r="$R" '{gsub(",","",$1); printf " %s/request=%.2f", $2, $1/r}'
echo

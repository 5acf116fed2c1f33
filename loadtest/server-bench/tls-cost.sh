#!/usr/bin/env bash
# The server CPU that TLS adds: one sluice (1 worker thread) with RTMPS and HTTPS-FLV on a throwaway
# self-signed certificate, then four load-generator runs one after the other against it (RTMP, RTMPS,
# HTTP-FLV, HTTPS-FLV players of one stream). Server CPU is utime+stime of the sluice process over each
# run, per Gbit the players received. Loopback only; stops by itself.
# Usage: npm run build && bash loadtest/server-bench/tls-cost.sh [players] [duration]
set -euo pipefail
cd "$(dirname "$0")/../.."
PLAYERS=${1:-200}
DURATION=${2:-10s}
DIR=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$DIR/key" -out "$DIR/crt" \
  -days 1 -subj /CN=localhost 2>/dev/null
node dist/src/cli.js serve --workers 1 --port 19350 --admin-port 19351 --log-level error --set http.port=19352 \
  --set rtmps.port=19353 --set "rtmps.certFile=$DIR/crt" --set "rtmps.keyFile=$DIR/key" \
  --set https.port=19354 --set "https.certFile=$DIR/crt" --set "https.keyFile=$DIR/key" &
PID=$!
sleep 2
TICK=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
printf '%-10s %8s %10s %12s %18s\n' transport Mbit/s CPU-s CPU-s/Gbit 'lat p50/p99 ms'
run() { # name target play-protocol url-template
  local before after
  before=$(cpu)
  node dist/src/cli.js loadtest --target "$2" --play-protocol "$3" --play-url-template "$4" --players "$PLAYERS" \
    --duration "$DURATION" --ramp 2s --threads 1 --quiet --insecure --out "$DIR/$1" >/dev/null
  after=$(cpu)
  node -e '
    const [name, file, ticks, tck] = process.argv.slice(1);
    const s = require(file);
    const cpu = Number(ticks) / Number(tck);
    const l = s.latencyMs.latency;
    console.log(`${name.padEnd(10)} ${s.throughput.steadyMbpsIn.toFixed(0).padStart(8)} ${cpu.toFixed(2).padStart(10)} ${(cpu / (s.throughput.mbitIn / 1000)).toFixed(3).padStart(12)} ${(l.p50.toFixed(1) + "/" + l.p99.toFixed(1)).padStart(18)}`);
  ' "$1" "$DIR/$1/summary.json" "$((after - before))" "$TICK"
}
run rtmp rtmp://127.0.0.1:19350/live rtmp x
run rtmps rtmps://127.0.0.1:19353/live rtmp x
run http-flv rtmp://127.0.0.1:19350/live http-flv 'http://{host}:19352/{app}/{stream}.flv'
run https-flv rtmp://127.0.0.1:19350/live http-flv 'https://{host}:19354/{app}/{stream}.flv'

#!/bin/bash
# Training speed by CPU threads and OpenMP wait policy (docs/usage.md, "CPU threads").
#
#   benchmarks/threads.sh [ring8|mnist] [STEPS]      # GANCORE_DATA must point at MNIST for mnist
#
# Runs `gan run` for 2 threads spinning (torch's old default), 2 threads passive (the default now)
# and 1 thread, alternated twice so that a change of load shows as a spread, then the same with a
# second training competing for the cores. Prints the mean it/s of metrics.jsonl after its first row.
set -u
what=${1:-ring8}
steps=${2:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

one() {  # threads, wait policy ("" for OpenMP's own)
  rm -rf "$work/out"
  OMP_NUM_THREADS=$1 OMP_WAIT_POLICY=$2 gan run --device cpu --dataset "$what" --steps "$steps" \
    --batch-size 64 --log-every 25 --out "$work/out" >/dev/null 2>&1
  python -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][1:]; print(round(sum(x['it_s'] for x in r)/len(r),1))" \
    "$work/out/metrics.jsonl"
}

for load in none busy; do
  busy=""
  if [ "$load" = busy ]; then
    OMP_WAIT_POLICY= gan run --device cpu --dataset ring8 --steps 100000000 --out "$work/busy" >/dev/null 2>&1 &
    busy=$!
    sleep 8
  fi
  for rep in 1 2; do
    for setting in "2 " "2 PASSIVE" "1 PASSIVE"; do
      set -- $setting
      echo "$what load=$load rep=$rep threads=$1 wait=${2:-spin} it/s=$(one "$1" "${2:-}") loadavg=$(cut -d' ' -f1 /proc/loadavg)"
    done
  done
  if [ -n "$busy" ]; then kill "$busy"; wait "$busy" 2>/dev/null; fi
done

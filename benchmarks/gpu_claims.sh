#!/usr/bin/env bash
# Issue 15's claims table on a lent GPU in one call: every configuration of docs/results.md's claims
# table, three seeds, at the reports' length (100 epochs), all side by side on the one card.
#
#   STOP_AT=470 OUT=gpu-out bash benchmarks/gpu_claims.sh
#
# The runs are small (batch 64, ~150 tiny kernels a step), so one run uses a sliver of the card; CUDA
# MPS lets the runs' kernels share it at once instead of taking turns. Where MPS does not start, the
# plan shrinks to what time-slicing can finish: 30 epochs, seeds 1-2 (seed 0 exists on the CPU).
# f-GAN KL follows report 000's recipe: 30 epochs of fgan-js, then 30 of fgan-kl warm-started from it.
# At $STOP_AT seconds the runs get SIGTERM (they save and stop), DRS and MH-GAN sample the WGAN-GP
# runs, and everything comes back as one tar (the device tool returns at most 8 files). The test
# files for --cuda-graphs and the suite run beside the runs.
#
# Locally, to try the plumbing: DEVICE=cpu FLAGS= EPOCHS=1 KL_EPOCHS=1 SEEDS=0 CONFIGS=vanilla \
#   GANCORE_DATA=../shared/data SKIP_INSTALL=1 SKIP_TESTS=1 STOP_AT=200 bash benchmarks/gpu_claims.sh
set -u
FINAL=${OUT:-gpu-out}
W=/tmp/claims
rm -rf "$W"
mkdir -p "$W/runs" "$FINAL"
START=$(date +%s)
t() { echo $(($(date +%s) - START)); }
say() { echo "[$(t) s] $*" | tee -a "$W/timeline.txt"; }
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
PY=python3
STOP_AT=${STOP_AT:-470} DEVICE=${DEVICE:-cuda} FLAGS=${FLAGS---cuda-graphs}
CONFIGS=${CONFIGS:-vanilla lsgan cn-lsgan wgan-gp wgan-gp-conv vanilla-diffaugment lsgan-icr vanilla-modeseek ours}

if [ -z "${SKIP_INSTALL:-}" ]; then
  source benchmarks/gpu_prepare.sh
  prepare_gpu_machine "$W/install.log" || say "install FAILED: $(tail -3 "$W/install.log")"
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
    nproc
    free -g
  } >"$W/machine.txt" 2>&1
  say "installed: $($PY -m gancore plugins 2>&1 | grep -c ' ok ') plugins ok"
fi

mps=off
if [ "$DEVICE" = cuda ] && command -v nvidia-cuda-mps-control >/dev/null; then
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  probe="import torch; x = torch.ones(64, 64, device='cuda'); g = torch.cuda.CUDAGraph()
s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
with torch.cuda.stream(s): y = x @ x
torch.cuda.current_stream().wait_stream(s)
with torch.cuda.graph(g): y = x @ x
g.replay(); torch.cuda.synchronize(); print('mps probe', float(y.sum()))"
  if nvidia-cuda-mps-control -d >>"$W/mps.txt" 2>&1 && timeout 60 $PY -c "$probe" >>"$W/mps.txt" 2>&1; then
    mps=on
  else
    echo quit | nvidia-cuda-mps-control >>"$W/mps.txt" 2>&1
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  fi
fi
# the daemon changes how the card is shared: stop it however the script ends
[ "$mps" = on ] && trap 'echo quit | nvidia-cuda-mps-control' EXIT
if [ "$mps" = on ] || [ "$DEVICE" != cuda ]; then
  EPOCHS=${EPOCHS:-100} SEEDS=${SEEDS:-0 1 2}
else
  EPOCHS=${EPOCHS:-30} SEEDS=${SEEDS:-1 2}
fi
KL_EPOCHS=${KL_EPOCHS:-30}
say "MPS $mps: $EPOCHS epochs, seeds $SEEDS, configs $CONFIGS"

train() {  # config seed epochs [extra flags...]: one run, its wall time appended to its log
  local name=$1 seed=$2 epochs=$3 began
  shift 3
  began=$(date +%s)
  # shellcheck disable=SC2086  # FLAGS is a list of flags
  $PY -m gancore run --config "experiments/$name.toml" --epochs "$epochs" --seed "$seed" --eval-every 5 \
    --device "$DEVICE" $FLAGS --out "$W/runs/$name-s$seed" "$@" >"$W/runs/$name-s$seed.log" 2>&1
  local rc=$?
  echo "exit $rc after $(($(date +%s) - began)) s" >>"$W/runs/$name-s$seed.log"
  return $rc # fgan-kl starts only from a fgan-js run that finished
}
for seed in $SEEDS; do
  for name in $CONFIGS; do train "$name" "$seed" "$EPOCHS" & done
  (train fgan-js "$seed" "${JS_EPOCHS:-30}" && [ ! -e "$W/stop" ] && train fgan-kl "$seed" "$KL_EPOCHS" --init-from "$W/runs/fgan-js-s$seed") &
done
say "started $(jobs -r | wc -l) training jobs"

tests=
if [ -z "${SKIP_TESTS:-}" ]; then
  # the graphed step against eager (CUDA only), then the whole suite (the lint test needs ruff and
  # lint-imports, which that machine lacks)
  (
    timeout -s INT -k 15 240 $PY -m pytest tests/test_cuda_graphs.py -n 4 -q -p no:cacheprovider \
      --junitxml="$W/graphs.xml" >"$W/graphs.log" 2>&1
    say "graph tests: $(tail -1 "$W/graphs.log")"
    left=$((STOP_AT - $(t) - 15))
    if [ "$left" -lt 30 ]; then say "suite: skipped, ${left} s left"; exit 0; fi
    timeout -s INT -k 15 "$left" nice -n 5 $PY -m pytest -n 4 -q -p no:cacheprovider \
      --ignore=tests/test_lint.py --ignore=tests/test_cuda_graphs.py -rf --tb=line \
      --junitxml="$W/suite.xml" >"$W/suite.log" 2>&1
    say "suite: $(tail -1 "$W/suite.log")"
  ) &
  tests=$!
fi

while [ "$(t)" -lt "$STOP_AT" ] && [ -n "$(pgrep -f 'gancore run --config')" ]; do
  sleep 10
  [ $(($(t) % 60)) -lt 10 ] && say "gpu $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null) · runs $(pgrep -fc 'gancore run --config') · load $(cut -d' ' -f1 /proc/loadavg)"
done
touch "$W/stop" # no fgan-kl starts from here on
# SIGTERM: each run saves a checkpoint and stops; what is still running 30 s later is killed
pkill -TERM -f "gancore run --config"
for _ in $(seq 30); do pgrep -f "gancore run --config" >/dev/null || break; sleep 1; done
pkill -KILL -f "gancore run --config"
[ -n "$tests" ] && wait "$tests" # its limits end it by STOP_AT
say "runs: $(tail -qn1 "$W"/runs/*.log | sort | uniq -c | tr '\n' ';')"

# DRS and MH-GAN on the trained WGAN-GP (report 003's claims), each seed at once
evals=()
for run in "$W"/runs/wgan-gp-s*/; do
  seed=${run%/}
  seed=${seed##*-}
  for sampler in drs mh; do
    timeout 60 $PY -m gancore eval "$run" --sampler "$sampler" --device "$DEVICE" \
      --out "$W/$sampler-wgan-gp-$seed.json" >"$W/$sampler-wgan-gp-$seed.log" 2>&1 &
    evals+=($!)
  done
done
wait "${evals[@]}"
say "samplers: $(ls "$W"/*-wgan-gp-*.json 2>/dev/null | wc -l) evaluations"

# keep the grids at epochs 30 and 100 and the last one; no weights
for s in "$W"/runs/*/samples; do
  last=$(ls "$s" | tail -1)
  find "$s" -name '*.png' ! -name epoch-0030.png ! -name epoch-0100.png ! -name "$last" -delete
done
cat "$W/timeline.txt"
for m in "$W"/runs/*/metrics.jsonl; do
  echo "$(basename "$(dirname "$m")") $(grep -h eval/fid "$m" | $PY -c "
import json, sys
print(' '.join(f\"{r['epoch']:g}:{r['eval/fid']:.1f}\" for r in map(json.loads, sys.stdin)))")"
done
tar -czf "$FINAL/gpu-claims.tar.gz" --exclude='*.safetensors' --exclude=samplers -C /tmp claims

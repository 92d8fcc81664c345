#!/usr/bin/env bash
# Issue 24's readings at the reports' length on a lent GPU, in one call: each configuration of
# docs/results.md's claims table as it now reads (the sigmoid LSGANs, report 001's WGAN, the conv
# critic against the MLP critic under wgan-gp's recommendations, report 002's own conv critic, the
# tuned vanillas), three seeds, 100 epochs, evaluated every 5, all side by side on the one card
# through CUDA MPS (see gpu_claims.sh, which this follows). At $STOP_AT seconds the runs get SIGTERM
# (they save and stop where they are), DRS samples the card's runs and the sigmoid LSGAN's, and
# everything but the weights comes back as one tar.
#
#   STOP_AT=470 OUT=gpu-out bash benchmarks/gpu_repro.sh
#   PLAN_FILE=benchmarks/screens/class-balance.txt EPOCHS=30 SEEDS=0 SKIP_TESTS=1 STOP_AT=150 bash benchmarks/gpu_repro.sh
#
# Locally, to try the plumbing: DEVICE=cpu FLAGS= EPOCHS=1 SEEDS=0 GANCORE_DATA=../shared/data \
#   SKIP_INSTALL=1 SKIP_TESTS=1 STOP_AT=120 ONLY=card-conv bash benchmarks/gpu_repro.sh
set -u
FINAL=${OUT:-gpu-out}
W=/tmp/repro
rm -rf "$W"
mkdir -p "$W/runs" "$FINAL"
START=$(date +%s)
t() { echo $(($(date +%s) - START)); }
say() { echo "[$(t) s] $*" | tee -a "$W/timeline.txt"; }
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
PY=python3
[ -n "${SKIP_INSTALL:-}" ] && PY=${PY_LOCAL:-.venv/bin/python}
STOP_AT=${STOP_AT:-470} DEVICE=${DEVICE:-cuda} FLAGS=${FLAGS---cuda-graphs}
EPOCHS=${EPOCHS:-100} SEEDS=${SEEDS:-0 1 2}

# name|flags of `gan run` (the claims table's readings)
PLAN=(
  "lsgan-sigmoid|--config experiments/lsgan-sigmoid.toml"
  "cn-lsgan-sigmoid|--config experiments/cn-lsgan-sigmoid.toml"
  "wgan-gp-001|--config experiments/wgan-gp-001.toml"
  "card-conv|--loss wgan-gp --critic conv"
  "card-mlp|--loss wgan-gp --critic mlp"
  "wgan-gp-conv-002|--config experiments/wgan-gp-conv-002.toml"
  "vanilla-dropout-nc2|--config experiments/vanilla-dropout.toml --n-critic 2"
  "vanilla-tuned|--config experiments/vanilla-tuned.toml"
)

# PLAN_FILE: another plan, one "name|flags" line each (a screen: benchmarks/screens/*.txt)
if [ -n "${PLAN_FILE:-}" ]; then mapfile -t PLAN <"$PLAN_FILE"; fi

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
  if nvidia-cuda-mps-control -d >>"$W/mps.txt" 2>&1 &&
    timeout 60 $PY -c "import torch; print('mps probe', float((torch.ones(64, 64, device='cuda') @ torch.ones(64, 64, device='cuda')).sum()))" >>"$W/mps.txt" 2>&1; then
    mps=on
  else
    echo quit | nvidia-cuda-mps-control >>"$W/mps.txt" 2>&1
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  fi
fi
[ "$mps" = on ] && trap 'echo quit | nvidia-cuda-mps-control' EXIT
say "MPS $mps: $EPOCHS epochs, seeds $SEEDS, ${#PLAN[@]} configurations"

train() {  # name seed flags: one run; if it fails within 90 s with graphs, once more without them
  local name=$1 seed=$2 flags=$3 began out=$W/runs/$1-s$2 rc
  began=$(date +%s)
  # shellcheck disable=SC2086  # flags and FLAGS are lists of flags
  $PY -m gancore run $flags --epochs "$EPOCHS" --seed "$seed" --eval-every 5 --device "$DEVICE" \
    $FLAGS --out "$out" >"$out.log" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && [ -n "$FLAGS" ] && [ $(($(date +%s) - began)) -lt 90 ] && [ ! -e "$W/stop" ]; then
    echo "exit $rc with $FLAGS; again without" >>"$out.log"
    rm -rf "$out"
    # shellcheck disable=SC2086
    $PY -m gancore run $flags --epochs "$EPOCHS" --seed "$seed" --eval-every 5 --device "$DEVICE" \
      --out "$out" >>"$out.log" 2>&1
    rc=$?
  fi
  echo "exit $rc after $(($(date +%s) - began)) s" >>"$out.log"
}
for seed in $SEEDS; do
  for entry in "${PLAN[@]}"; do
    name=${entry%%|*}
    [ -n "${ONLY:-}" ] && [ "$name" != "$ONLY" ] && continue
    train "$name" "$seed" "${entry#*|}" &
  done
done
say "started $(jobs -r | wc -l) training jobs"

tests=
if [ -z "${SKIP_TESTS:-}" ]; then
  # the graphed step against eager on CUDA, after issue 26's bare step (CUDA only)
  (
    timeout -s INT -k 15 240 $PY -m pytest tests/test_cuda_graphs.py -n 2 -q -p no:cacheprovider \
      --junitxml="$W/graphs.xml" >"$W/graphs.log" 2>&1
    say "graph tests: $(tail -1 "$W/graphs.log")"
  ) &
  tests=$!
fi

while [ "$(t)" -lt "$STOP_AT" ] && [ -n "$(pgrep -f 'gancore run')" ]; do
  sleep 10
  [ $(($(t) % 60)) -lt 10 ] && say "gpu $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null) · runs $(pgrep -fc 'gancore run') · load $(cut -d' ' -f1 /proc/loadavg)"
done
touch "$W/stop"
# SIGTERM: each run saves a checkpoint and stops; what is still running 30 s later is killed
pkill -TERM -f "gancore run"
for _ in $(seq 30); do pgrep -f "gancore run" >/dev/null || break; sleep 1; done
pkill -KILL -f "gancore run"
[ -n "$tests" ] && wait "$tests"
say "runs: $(tail -qn1 "$W"/runs/*.log | cut -d' ' -f1-2 | sort | uniq -c | tr '\n' ';')"

# DRS on the trained card runs (the card's sampler) and the sigmoid LSGAN (report 001's DRS claim)
evals=()
for run in "$W"/runs/card-conv-s*/ "$W"/runs/lsgan-sigmoid-s*/; do
  [ -d "$run/checkpoints" ] || continue
  base=$(basename "$run")
  timeout 75 $PY -m gancore eval "$run" --sampler drs --device "$DEVICE" \
    --out "$W/drs-$base.json" >"$W/drs-$base.log" 2>&1 &
  evals+=($!)
done
[ ${#evals[@]} -gt 0 ] && wait "${evals[@]}"
say "DRS: $(ls "$W"/drs-*.json 2>/dev/null | wc -l) evaluations"

# keep the grids at epochs 30 and 100 and the last one; no weights
for s in "$W"/runs/*/samples; do
  last=$(ls "$s" | tail -1)
  find "$s" -name '*.png' ! -name epoch-0030.png ! -name epoch-0100.png ! -name "$last" -delete
done
for m in "$W"/runs/*/metrics.jsonl; do
  echo "$(basename "$(dirname "$m")") $(grep -h eval/fid "$m" | $PY -c "
import json, sys
print(' '.join(f\"{r['epoch']:g}:{r['eval/fid']:.1f}\" for r in map(json.loads, sys.stdin)))")"
done | tee "$W/fids.txt"
tar -czf "$FINAL/gpu-repro.tar.gz" --exclude='*.safetensors' --exclude=samplers -C /tmp repro
say "archived: $(du -h "$FINAL/gpu-repro.tar.gz" | cut -f1)"

#!/usr/bin/env bash
# Issue 18's checks in one call on a lent GPU machine (its lease is minutes, so everything runs
# from this one script, each part under its own time limit, its log kept under $OUT):
#
#   1. install gancore and its plugins into the machine's Python (wheels carried in .whl/, MNIST
#      carried gzipped in .mnist/), no network;
#   2. tests/test_cuda_graphs.py: graphed vs eager runs for every component, resume, refusal;
#   3. torch.profiler of the vanilla and WGAN-GP steps, eager and graphed;
#   4. the benchmarks' CUDA cases (targets first, then the compiled ones, then the rest);
#   5. 100-epoch runs of the best report technique and of ours, with the test suite beside them.
#
#   OUT=gpu-out bash benchmarks/gpu_session.sh      # where $OUT is unset
#
# Prepared on the development machine (the GPU machine has torch but no network): the packages it
# lacks as wheels in .whl/ (`pip download --no-deps --only-binary=:all: --python-version 3.12
# -d .whl tomli-w prdc submitit`), MNIST's four files gzipped in .mnist/, both ignored through
# .git/info/exclude and carried with the call. benchmarks/gpu_runs100.sh is the 100-epoch part alone.
set -u
# the device tool returns at most 8 files: everything is written to /tmp/gpu-session and comes back
# as one tar
FINAL=${OUT:-gpu-out}
OUT=/tmp/gpu-session
mkdir -p "$OUT" "$FINAL"
START=$(date +%s)
t() { echo $(($(date +%s) - START)); }
say() { echo "[$(t) s] $*" | tee -a "$OUT/timeline.txt"; }
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
PY=python3
source benchmarks/gpu_prepare.sh

prepare_gpu_machine "$OUT/install.log" || say "install FAILED: $(tail -3 "$OUT/install.log")"
{
  nvidia-smi
  $PY -c "import torch, sys; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
  nproc
} >"$OUT/machine.txt" 2>&1
say "data ready; $(grep -m1 -o 'NVIDIA H[0-9]*[^|]*' "$OUT/machine.txt" | head -1)"
$PY -m gancore plugins >>"$OUT/install.log" 2>&1
say "installed: $(grep -c ' ok ' "$OUT/install.log") plugins ok"

# 2. --cuda-graphs against eager
timeout -s INT -k 15 150 $PY -m pytest tests/test_cuda_graphs.py -n 8 -q -p no:cacheprovider \
  --junitxml="$OUT/graphs.xml" >"$OUT/graphs.log" 2>&1
say "graph tests: $(tail -1 "$OUT/graphs.log")"

# 3. where the step's time goes
for args in "vanilla mlp 64" "vanilla mlp 64 --cuda-graphs" "wgan-gp mlp 64" "wgan-gp mlp 64 --cuda-graphs"; do
  timeout -k 5 40 $PY -m benchmarks.profile_step $args --steps 200 >>"$OUT/profile.txt" 2>&1
done
say "profiles: $(grep -c '^==' "$OUT/profile.txt") of 4"

# 4. benchmarks, in three groups so that a time limit loses at most one group's table
S=benchmarks/test_step_throughput.py
bench() {  # name, seconds, node ids...
  local name=$1 limit=$2
  shift 2
  timeout -s INT -k 15 "$limit" $PY -m pytest "$@" --benchmark-only -p no:cacheprovider \
    --benchmark-json="$OUT/bench-$name.json" >"$OUT/bench-$name.log" 2>&1
  say "bench $name: $(tail -1 "$OUT/bench-$name.log")"
}
bench targets 110 "$S::test_plain_loop_step[cuda-64-mlp]" "$S::test_gancore_step[cuda-vanilla-64-mlp]" \
  "$S::test_gancore_step_cuda_graphs[eager-vanilla-64-mlp]" "$S::test_gancore_step[cuda-wgan-gp-64-mlp]" \
  "$S::test_gancore_step_cuda_graphs[eager-wgan-gp-64-mlp]" \
  "benchmarks/test_eval_speed.py::test_evaluate_10k[cuda-2.0]"
bench compiled 120 "$S::test_gancore_step_compiled[cuda-vanilla-64-mlp]" \
  "$S::test_gancore_step_cuda_graphs[compiled-vanilla-64-mlp]" \
  "$S::test_gancore_step_compiled[cuda-wgan-gp-64-mlp]" "$S::test_gancore_step_cuda_graphs[compiled-wgan-gp-64-mlp]"
# a time limit that lands inside a benchmark loses its group's JSON (pytest-benchmark cannot write a
# case with no rounds): on 2026-11-26 the 12 cases below took longer than 70 s together
bench conv-bf16 60 "$S::test_gancore_step_bf16[cuda-64-mlp]" "$S::test_plain_loop_step[cuda-64-conv]" \
  "$S::test_gancore_step[cuda-vanilla-64-conv]" "$S::test_gancore_step_cuda_graphs[eager-vanilla-64-conv]"
bench pipelines 60 "$S::test_gancore_step[cuda-fgan-kl-64-mlp]" \
  "$S::test_gancore_step_cuda_graphs[eager-fgan-kl-64-mlp]" "$S::test_gancore_step[cuda-lsgan+icr-64-mlp]" \
  "$S::test_gancore_step_cuda_graphs[eager-lsgan+icr-64-mlp]"
bench batch512 60 "$S::test_plain_loop_step[cuda-512-mlp]" "$S::test_gancore_step[cuda-vanilla-512-mlp]" \
  "$S::test_gancore_step_cuda_graphs[eager-vanilla-512-mlp]" "$S::test_gancore_epoch[cuda]"

# 5. the reports' length, while the test suite runs beside it (CPU tests; ruff and lint-imports are
#    not on that machine, so the lint test is left out)
STOP_AT=${STOP_AT:-555}  # seconds after the start; the call's limit is 600
graphs_ok() { $PY benchmarks/gpu_session_report.py passed "$OUT/graphs.xml" "test_graphed_run_logs_what_the_eager_run_logs[$1]"; }
mkdir -p /tmp/runs100
for job in "hinge-r1-ema:hinge r1 ema" "wgan-gp:wgan-gp"; do
  name=${job%%:*} case=${job#*:} flags=()
  graphs_ok "$case" && flags=(--cuda-graphs)
  (
    began=$(date +%s)
    $PY -m gancore run --config "experiments/$name.toml" --epochs 100 --seed 0 --eval-every 10 \
      --device cuda "${flags[@]}" --out "/tmp/runs100/$name-s0" >"/tmp/runs100/$name.log" 2>&1
    echo "exit $? after $(($(date +%s) - began)) s ${flags[*]}" >>"/tmp/runs100/$name.log"
  ) &
  say "started $name (${flags[*]:-eager})"
done
timeout -s INT -k 15 $((STOP_AT - $(t) - 20)) $PY -m pytest -n 6 -q -p no:cacheprovider \
  --ignore=tests/test_lint.py >"$OUT/suite.log" 2>&1
say "suite: $(tail -1 "$OUT/suite.log")"
while [ "$(t)" -lt "$STOP_AT" ] && [ -n "$(jobs -r)" ]; do sleep 5; done
pkill -TERM -f "gancore run --config" && sleep 8  # SIGTERM: the runs save a checkpoint and stop
say "runs: $(tail -qn1 /tmp/runs100/*.log | tr '\n' ';')"
tar -czf "$OUT/runs100.tar.gz" --exclude="*.safetensors" --exclude=samplers -C /tmp runs100
tar -czf "$FINAL/gpu-session.tar.gz" -C /tmp gpu-session

echo "== summary"
cat "$OUT/timeline.txt"
grep -h -E "batch [0-9]+ cuda" "$OUT"/bench-*.log
$PY benchmarks/gpu_session_report.py bench "$OUT"/bench-*.json
grep -h "^==" "$OUT/profile.txt"
grep -h "launches per step" "$OUT/profile.txt"
grep -E "FAILED|Error" "$OUT/graphs.log" | head -20
grep -E "^FAILED" "$OUT/suite.log" | head -20

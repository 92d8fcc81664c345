#!/usr/bin/env bash
# The reports' length on a lent GPU: 100-epoch runs with --cuda-graphs, side by side on the one card,
# stopped (SIGTERM, which saves) at $STOP_AT seconds; metrics, configs and grids come back as one tar.
#   STOP_AT=225 OUT=gpu-out bash benchmarks/gpu_runs100.sh hinge-r1-ema:0 hinge-r1-ema:1 wgan-gp:0
set -u
OUT=${OUT:-gpu-out} STOP_AT=${STOP_AT:-225}
mkdir -p "$OUT" /tmp/runs100
START=$(date +%s)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
source benchmarks/gpu_prepare.sh
prepare_gpu_machine /tmp/runs100/install.log
nvidia-smi --query-gpu=name,driver_version --format=csv >/tmp/runs100/machine.txt
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" >>/tmp/runs100/machine.txt
echo "installed at $(($(date +%s) - START)) s"
for job in "$@"; do
  name=${job%%:*} seed=${job#*:}
  (
    began=$(date +%s)
    python3 -m gancore run --config "experiments/$name.toml" --epochs 100 --seed "$seed" --eval-every 10 \
      --device cuda --cuda-graphs --out "/tmp/runs100/$name-s$seed" >"/tmp/runs100/$name-s$seed.log" 2>&1
    echo "exit $? after $(($(date +%s) - began)) s" >>"/tmp/runs100/$name-s$seed.log"
  ) &
done
while [ $(($(date +%s) - START)) -lt "$STOP_AT" ] && [ -n "$(jobs -r)" ]; do sleep 3; done
pkill -TERM -f "gancore run --config" && sleep 6
tail -qn1 /tmp/runs100/*.log
for m in /tmp/runs100/*/metrics.jsonl; do echo "$m"; grep eval "$m" | python3 -c "
import json, sys
for line in sys.stdin:
    r = json.loads(line); print(r['epoch'], round(r['eval/fid'], 1), r.get('eval/classes_covered'), round(r.get('eval/class_kl', -1), 4))"; done
tar -czf "$OUT/runs100.tar.gz" --exclude="*.safetensors" --exclude=samplers -C /tmp runs100

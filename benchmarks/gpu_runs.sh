#!/usr/bin/env bash
# The GPU runs behind the shipped base model and the README's GPU figures (2026-11-25, one lent
# NVIDIA H100), as one script. Not run by CI: it needs `--device cuda` and about 25 minutes there.
# Phase 1 runs five trainings side by side (the GPU is far from full with one 28×28 network);
# phase 2 distils three students from the phase-1 teachers; phase 3 warm-restarts the kept run;
# phase 4 tries CPU-budget schedules (their CPU minutes come from this machine's epoch times).
#
#     FASHION_MNIST_DIR=/path/to/idx bash benchmarks/gpu_runs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
mkdir -p runs
T="python3 -m backend.cli train --device cuda --patience 999 --batch-size 512 --lr 0.2"

# phase 1: width-64 teachers (7.7 M parameters, not shippable) and the plain width-32 recipe
for s in 0 1 2; do $T --threads 3 --out-dir runs/t64s$s --epochs 150 --width 64 --seed $s > runs/t64s$s.log 2>&1 & done
for s in 0 1; do $T --threads 3 --out-dir runs/g32s$s --epochs 250 --width 32 --seed $s > runs/g32s$s.log 2>&1 & done
wait  # (the session started phase 2 as soon as the teachers were done)

# phase 2: students distilled from the three teachers' mean tempered probabilities
K="$T --threads 4 --epochs 160 --teacher runs/t64s0/model.pt --teacher runs/t64s1/model.pt --teacher runs/t64s2/model.pt"
$K --out-dir runs/k32a --width 32 --distill-weight 0.9 --distill-temperature 2 > runs/k32a.log 2>&1 &
$K --out-dir runs/k32b --width 32 --distill-weight 0.7 --distill-temperature 4 --seed 1 > runs/k32b.log 2>&1 &
$K --out-dir runs/k32c --width 32 --distill-weight 1.0 --distill-temperature 1 --seed 2 > runs/k32c.log 2>&1 &
wait

# phase 3: 50-epoch warm restarts of the kept run, plain and distilled
R="python3 -m backend.cli train --device cuda --patience 999 --threads 6 --batch-size 512 --lr 0.05 --epochs 50 --init-from runs/g32s1/best.pt --erase-p 0.3"
$R --out-dir runs/r32 > runs/r32.log 2>&1 &
$R --out-dir runs/r32kd --teacher runs/t64s0/model.pt --teacher runs/t64s1/model.pt --teacher runs/t64s2/model.pt \
   --distill-weight 0.5 > runs/r32kd.log 2>&1 &
wait

# phase 4: CPU-budget schedules (this CPU: width 16 31 s an epoch, 20 59 s, 24 63 s, 32 97 s)
F="python3 -m backend.cli train --device cuda --threads 2"
$F --out-dir runs/f1 --width 24 --epochs 12 --erase-p 0.25 --lr 0.2 > runs/f1.log 2>&1 &
$F --out-dir runs/f2 --width 24 --epochs 12 --erase-p 0.25 --lr 0.1 --batch-size 128 > runs/f2.log 2>&1 &
$F --out-dir runs/f3 --width 24 --epochs 12 --erase-p 0 --lr 0.4 > runs/f3.log 2>&1 &
$F --out-dir runs/f4 --width 16 --epochs 25 --erase-p 0.25 --lr 0.2 > runs/f4.log 2>&1 &
$F --out-dir runs/f5 --width 32 --epochs 8 --erase-p 0.25 --lr 0.2 > runs/f5.log 2>&1 &
$F --out-dir runs/f6 --width 20 --epochs 16 --erase-p 0.25 --lr 0.2 > runs/f6.log 2>&1 &
$F --out-dir runs/f7 --width 24 --epochs 12 --erase-p 0.1 --lr 0.2 --batch-size 128 > runs/f7.log 2>&1 &
$F --out-dir runs/f8 --width 16 --epochs 25 --erase-p 0.1 --lr 0.1 --batch-size 128 > runs/f8.log 2>&1 &
wait

grep -h '"test_accuracy"' runs/{t64s,g32s,k32,r32}*/result.json runs/f*/result.json || true

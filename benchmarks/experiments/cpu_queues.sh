#!/usr/bin/env bash
# Every grid of docs/results.md on a 2-core CPU, at the sizes the results page needs (64 videos per cell,
# Table 1 at 2x 256): two queues of `maskbench experiment` commands, one thread each. Table 1 is most of
# the work (its FM, DF and RDM cells) and one variant folder, which takes one invocation at a time, so it
# has a queue of its own, the headline cells (2x) first; the other queue runs every other grid, cheap MGM
# cells first, each cell shared between grids measured once (a later grid copies it: Table 3's and Table
# 2's frame-level MGM cells are Table 4's), and then takes turns with the first on Table 1's 10x cells.
#
# Results go to benchmarks/experiments/cpu-runs/<grid>/<variant>/ (RUNS to change it), a tracked folder:
# a session commits it when it stops (finished cells, their features, and the finished batches of a
# cell in progress under partial/), and the next session reruns this script, which skips finished
# cells and resumes a cell at its first missing batch. Samples and GIFs stay untracked (.gitignore).
# Then: python benchmarks/experiments/results.py --collect benchmarks/experiments/cpu-runs --readme README.md
# Usage: bash benchmarks/experiments/cpu_queues.sh   (logs in logs/queue1.log, logs/queue2.log)
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
X=benchmarks/experiments
RUNS=${RUNS:-$X/cpu-runs}
# One invocation at a time per variant folder (maskbench refuses a second one into the same folder): a
# queue that reaches variants the other one is running waits for them (flock) instead of skipping them.
run() {
  local grid=$1 variants=all; shift
  local args=("$@")
  for ((i = 0; i < ${#args[@]} - 1; i++)); do [[ ${args[i]} == --variants ]] && variants=${args[i + 1]}; done
  mkdir -p "$RUNS"
  flock "$RUNS/.$grid-$variants.lock" maskbench experiment "$X/$grid.yaml" --out "$RUNS/$grid" "$@"
}

queue1() {  # Table 1, the headline grid and most of the work: one variant folder, so one queue
  run table1 --videos 256 --samplers mgm --extrap 2
  run table1 --videos 256 --samplers fm --extrap 2
  run table1 --videos 256 --samplers df,rdm --extrap 2
  run table1 --videos 64 --samplers mgm --extrap 5,10
  run table1 --videos 64 --samplers fm,df,rdm --extrap 5
  run table1 --videos 64 --samplers fm,df,rdm --extrap 10
}

queue2() {  # every other grid, MGM cells first, then the FM and autoregressive ones
  run table4 --videos 64 --variants time-dependent-model --samplers mgm
  run table4 --videos 64 --variants time-independent-model
  run table3 --videos 64 --variants frame-level --samplers mgm
  run table3 --videos 64 --variants constant --samplers mgm
  run table2 --videos 64 --variants full-sequence
  run figure4 --videos 64 --variants mgm-5,mgm-10,mgm-20,mgm-50,mgm-100
  run table4 --videos 64 --variants time-dependent-model --samplers fm
  run table3 --videos 64 --variants frame-level --samplers fm
  run table3 --videos 64 --variants constant --samplers fm
  run table2 --videos 64 --variants autoregressive
  run figure4 --videos 64 --variants fm-25,fm-50,fm-100,fm-250,fm-500
  run table1 --videos 64 --samplers fm,df,rdm --extrap 10  # takes turns with queue 1 (one invocation per folder)
}

mkdir -p logs
queue1 > logs/queue1.log 2>&1 &
queue2 > logs/queue2.log 2>&1 &
wait

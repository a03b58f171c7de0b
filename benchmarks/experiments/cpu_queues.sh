#!/usr/bin/env bash
# Every grid of docs/results.md on a 2-core CPU, at the sizes the results page needs (64 videos per cell,
# Table 1 at 2x 256): two queues of `maskbench experiment` commands, one thread each. Table 1 is most of
# the work (its FM, DF and RDM cells) and one variant folder, which takes one invocation at a time, so it
# has a queue of its own, the headline cells (2x) first, which moves to two threads once the other queue is
# done; the other queue runs every other grid, cheap MGM cells first, each cell shared between grids
# measured once (a later grid copies it: Table 3's and Table 2's frame-level MGM cells are Table 4's).
#
# Results go to benchmarks/experiments/cpu-runs/<grid>/<variant>/ (RUNS to change it), a tracked folder:
# a session commits it when it stops (finished cells, their features, and the finished batches of a
# cell in progress under partial/), and the next session reruns this script, which skips finished
# cells and resumes a cell at its first missing batch. Samples and GIFs stay untracked (.gitignore).
# Then: python benchmarks/experiments/results.py --collect benchmarks/experiments/cpu-runs --readme README.md
# Usage: bash benchmarks/experiments/cpu_queues.sh [queue1|queue2]   (both when none is named; logs in
# logs/queue1.log, logs/queue2.log)
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

queue1() {  # Table 1, the headline grid and most of the work; one cell per command, the headline 2x first
  # MGM 5x/10x right after the 2x FM cell: minutes (its batches are kept), then the long DF and RDM cells
  for cell in "256 mgm 2" "256 fm 2" "64 mgm 5,10" "256 df 2" "256 rdm 2" "64 fm 5" "64 df 5" "64 rdm 5" \
              "64 fm 10" "64 df 10" "64 rdm 10"; do
    set -- $cell
    # both cores once the other queue is done: one invocation per variant folder, so two threads, not two queues
    OMP_NUM_THREADS=$([[ -e logs/queue2.done ]] && echo 2 || echo 1) \
      run table1 --videos "$1" --samplers "$2" --extrap "$3"
  done
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
  run table4 --videos 64 --variants time-independent-model --samplers fm  # the fourth row, not in the paper
  run table2 --videos 64 --variants autoregressive
  run figure4 --videos 64 --variants fm-25,fm-50,fm-100,fm-250,fm-500
  run table2-last16 --videos 64  # Table 2's rows scored beyond the context (ours, not in the paper)
  touch logs/queue2.done
}

mkdir -p logs
case ${1:-both} in
  queue1) queue1 > logs/queue1.log 2>&1 ;;
  queue2) rm -f logs/queue2.done; queue2 > logs/queue2.log 2>&1 ;;
  both) rm -f logs/queue2.done; queue1 > logs/queue1.log 2>&1 & queue2 > logs/queue2.log 2>&1 & wait ;;
  *) echo "usage: bash $0 [queue1|queue2]" >&2; exit 2 ;;
esac

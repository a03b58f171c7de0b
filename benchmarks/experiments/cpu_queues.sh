#!/usr/bin/env bash
# Every grid of docs/results.md on a 2-core CPU: two queues of `maskbench experiment` commands, one
# thread each, ordered so that both cores stay busy and every cell shared between grids is measured
# once (a later grid copies it: Table 3's frame-level cells are Table 1's and Figure 4's). Resumable:
# rerun after an interruption and finished cells are skipped. Then:
#   python benchmarks/experiments/results.py --collect runs/experiments --readme README.md
# Usage: VIDEOS=16 bash benchmarks/experiments/cpu_queues.sh   (logs in logs/queue1.log, logs/queue2.log)
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
X=benchmarks/experiments
run() { maskbench experiment --videos "${VIDEOS:-256}" "$@"; }

queue1() {
  run $X/figure4.yaml
  run $X/table1.yaml --samplers mgm,fm --extrap 2
  run $X/table1.yaml --samplers mgm,fm --extrap 5
  run $X/table2.yaml --variants autoregressive --extrap 2
  run $X/table1.yaml --samplers df,rdm --extrap 2
  run $X/table2.yaml --variants autoregressive --extrap 5
  run $X/table1.yaml --samplers mgm --extrap 10
  run $X/table1.yaml --samplers fm --extrap 10
}

queue2() {
  run $X/table4.yaml --variants time-independent-model
  run $X/table3.yaml --variants constant --samplers mgm
  run $X/table3.yaml --variants constant --samplers fm
  run $X/table1.yaml --samplers df,rdm --extrap 5
  run $X/table3.yaml --variants frame-level
  run $X/table4.yaml --variants time-dependent-model
  run $X/table2.yaml --variants full-sequence
  run $X/table1.yaml --samplers df --extrap 10
  run $X/table1.yaml --samplers rdm --extrap 10
}

mkdir -p logs
queue1 > logs/queue1.log 2>&1 &
queue2 > logs/queue2.log 2>&1 &
wait

#!/usr/bin/env bash
# Equal-budget comparison of fused-SNR loss weighting on/off (docs/fidelity.md, fused SNR), by held-out masked
# cross-entropy (unweighted, paired: both models scored on the same clips and masks).
#
#   benchmarks/experiments/snr_comparison.sh                 # 3000 steps per arm, both arms at once
#   STEPS=6000 PARALLEL=0 benchmarks/experiments/snr_comparison.sh
#
# Two runs from scratch, same config, seed and data, differing only in the loss weights:
#   off: $CONFIG snr_weighting=false   (what the shipped models were trained with)
#   on:  $CONFIG snr_weighting=true snr_formula=authors snr_clip=6 snr_decay=0.8   (the authors' command)
# Only the weighting changes: the rest of the paper's recipe (lr 1e-4, grad clip 2, EMA 0.9999) stays at
# the CPU config's values, so that a difference is the weighting's and not four changes at once.
# (The weights, in [0, 6], scale the gradient: grad_clip 1.0 binds more often in the on arm; that is part
# of what turning the weighting on does under this config, and the paper arm shows it with clip 2.)
# ARMS="off on paper" adds a third run with configs/vizdoom-frame-paper.yaml, the whole recipe.
#
# Resumable: rerun the same command after any interruption (train.py --resume, evaluations already
# written are kept). Each run uses one core (OMP_NUM_THREADS=1); PARALLEL=0 runs them one after another.
# Checkpoints every 100 steps; the EMA weights of the checkpoints at every $EVAL_EVERY steps (and the
# last) are scored on $TEST_CACHE with frame-level and constant masking ($MASKINGS).
# Writes $OUT/eval/<masking>-step<N>.json, $OUT/results.csv and a summary line per checkpoint.
#
# Environment: STEPS (3000), OUT (runs/snr-comparison), CONFIG (configs/vizdoom-frame.yaml), SEED (0),
#   TEST_CACHE (data/vizdoom-tokens/test), CLIPS (256), EVAL_EVERY (1000), MASKINGS ("frame constant"),
#   ARMS ("off on"), PARALLEL (1), EXTRA (KEY=VALUE overrides for every run, e.g. a tiny smoke test:
#   "preset=tiny frames=8 stride=6 micro_batch=4 cache=runs/x tokenizer=synthetic checkpoint_every=10" with a
#   synthetic cache written beforehand, as tests/training/test_heldout.py does: parallel arms would both
#   write it), FULL_STEPS (3000: the run length the time estimate is printed for), PYTHON (python).
set -euo pipefail
cd "$(dirname "$0")/../.."

STEPS=${STEPS:-3000}
OUT=${OUT:-runs/snr-comparison}
CONFIG=${CONFIG:-configs/vizdoom-frame.yaml}
SEED=${SEED:-0}
TEST_CACHE=${TEST_CACHE:-data/vizdoom-tokens/test}
CLIPS=${CLIPS:-256}
EVAL_EVERY=${EVAL_EVERY:-1000}
MASKINGS=${MASKINGS:-frame constant}
ARMS=${ARMS:-off on}
PARALLEL=${PARALLEL:-1}
EXTRA=${EXTRA:-}
FULL_STEPS=${FULL_STEPS:-3000}
PYTHON=${PYTHON:-python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

if [ ! -f "$TEST_CACHE/meta.json" ]; then
  echo "snr_comparison: error: no held-out token cache at $TEST_CACHE; build it with" \
       "\`maskbench tokenize --data data/vizdoom --split test --out $TEST_CACHE\`" >&2
  exit 2
fi
mkdir -p "$OUT/eval"

arm_args() {  # the config and overrides of one arm
  case "$1" in
    off) echo "--config $CONFIG snr_weighting=false" ;;
    on) echo "--config $CONFIG snr_weighting=true snr_formula=authors snr_clip=6 snr_decay=0.8" ;;
    paper) echo "--config configs/vizdoom-frame-paper.yaml" ;;
    *) echo "snr_comparison: error: unknown arm $1 (off, on, paper)" >&2; exit 2 ;;
  esac
}

train_arm() {
  local arm=$1
  # shellcheck disable=SC2046  # word splitting of the arm's arguments is intended
  nice "$PYTHON" train.py $(arm_args "$arm") --out "$OUT/$arm" --resume seed="$SEED" steps="$STEPS" \
    checkpoint_every=100 $EXTRA >>"$OUT/$arm.log" 2>&1
}

# 1. Train every arm (resumes what an interrupted invocation left).
started=$(date +%s)
pids=()
for arm in $ARMS; do
  arm_args "$arm" >/dev/null
  echo "training $arm -> $OUT/$arm (log $OUT/$arm.log)"
  if [ "$PARALLEL" = 1 ]; then train_arm "$arm" & pids+=($!); else train_arm "$arm"; fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || { echo "snr_comparison: error: a training run failed; see $OUT/*.log" >&2; exit 1; }
done
echo "training done in $(( $(date +%s) - started )) s"

# 2. Score the checkpoints every EVAL_EVERY steps and the last, on the same draws for every arm.
models=()
for arm in $ARMS; do models+=(--model "$OUT/$arm"); done
steps=$(seq "$EVAL_EVERY" "$EVAL_EVERY" "$STEPS"; echo "$STEPS")
for step in $(echo "$steps" | sort -nu); do
  first=${ARMS%% *}
  if [ ! -d "$OUT/$first/checkpoints/step$(printf %08d "$step")" ]; then
    echo "no checkpoint at step $step (checkpoints every 100 steps): not scored"; continue
  fi
  for masking in $MASKINGS; do
    file="$OUT/eval/$masking-step$(printf %08d "$step").json"
    [ -f "$file" ] && continue
    nice "$PYTHON" -m maskbench.training.heldout "${models[@]}" --step "$step" --cache "$TEST_CACHE" \
      --clips "$CLIPS" --seed "$SEED" --masking "$masking" --out "$file" >/dev/null
  done
done

# 3. One CSV over all checkpoints, a summary line each, and the time a full run takes at the measured rate.
"$PYTHON" - "$OUT" "$FULL_STEPS" "$PARALLEL" $ARMS <<'EOF'
import csv, json, sys
from pathlib import Path

out, full_steps, parallel, arms = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4:]
rows = []
for file in sorted((out / "eval").glob("*.json")):
    result = json.loads(file.read_text())
    for record, arm in zip(result["models"], arms):
        diff = record.get("minus_first", {}).get("overall", {})
        rows.append({"step": result["step"], "masking": result["masking"], "arm": arm, "clips": record["clips"],
                     "ce": record["mean"], "ce_low": record["low"], "ce_high": record["high"],
                     f"minus_{arms[0]}": diff.get("mean", ""), "diff_low": diff.get("low", ""),
                     "diff_high": diff.get("high", ""),
                     **{f"ce_t{b['t_low']:.1f}-{b['t_high']:.1f}": b["mean"] for b in record["by_t"]}})
rows.sort(key=lambda r: (r["masking"], r["step"], arms.index(r["arm"])))
if rows:
    with (out / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
for row in rows:
    if row["arm"] == arms[0]:
        continue
    lo, hi = row["diff_low"], row["diff_high"]
    verdict = f"{row['arm']} better" if hi < 0 else f"{arms[0]} better" if lo > 0 else "not resolved"
    print(f"step {row['step']} {row['masking']} masking: {row['arm']} - {arms[0]} held-out CE {row[f'minus_{arms[0]}']:+.4f} "
          f"[{lo:+.4f}, {hi:+.4f}] (95%, {row['clips']} paired clips; {row['arm']} {row['ce']:.4f}) -> {verdict}")
rates = {}
for arm in arms:
    records = [json.loads(line) for line in (out / arm / "metrics.jsonl").read_text().splitlines()]
    rates[arm] = records[-1]["wall_s"] / records[-1]["step"]
per_arm = max(rates.values()) * full_steps / 60
print("measured s/step: " + ", ".join(f"{a} {s:.3f}" for a, s in rates.items()) +
      f"; a {full_steps}-step comparison takes ~{per_arm:.0f} min per arm, ~{per_arm * (1 if parallel else len(arms)):.0f} min "
      f"wall ({'arms in parallel, one core each' if parallel else 'arms one after another'}) plus the evaluations")
print(f"wrote {out / 'results.csv'}")
EOF

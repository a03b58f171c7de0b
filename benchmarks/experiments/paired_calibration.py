"""How often a paired difference is called *resolved* when there is none, by videos per cell.

Two samplers whose generated features come from one Gaussian, against a real set from the same one:
the true difference is 0, so a 95% interval should exclude 0 in about 5% of trials. Prints the rate
for FVD and KVD at each N (``maskbench.report.paired.MIN_PAIRED_VIDEOS`` is set from it).

    python benchmarks/experiments/paired_calibration.py [--trials 60] [--resamples 300] [--sizes 4,8,16,32,64]
"""

from __future__ import annotations

import argparse

import numpy as np

from maskbench.metrics.stats import paired_difference


def false_resolution(n: int, trials: int, resamples: int, dim: int = 400) -> tuple[float, float]:
    fvd = kvd = 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        real, a, b = (rng.normal(size=(n, dim)) for _ in range(3))
        diff = paired_difference(real, a, b, seed=seed, resamples=resamples)
        fvd += diff.fvd.excludes_zero
        kvd += diff.kvd.excludes_zero
    return fvd / trials, kvd / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--resamples", type=int, default=300)
    parser.add_argument("--sizes", default="4,8,16,32,64")
    args = parser.parse_args()
    print("videos per cell | FVD called resolved | KVD called resolved (no true difference; nominal 5%)")
    for n in map(int, args.sizes.split(",")):
        fvd, kvd = false_resolution(n, args.trials, args.resamples)
        print(f"{n} | {fvd:.0%} | {kvd:.0%}", flush=True)


if __name__ == "__main__":
    main()

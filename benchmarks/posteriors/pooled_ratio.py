"""The variance ratio base / default SRMC on one suite model, pooled over seeds: for a kernel that mixes slowly,
where one seed's 32 chains give a ratio that a few chains decide.

    nice -n 10 python benchmarks/posteriors/pooled_ratio.py --model garch11 --kernel mala --steps 20000 --seeds 6

Per seed, the suite's two runs (`run_suite.run_one`: the same key, starts and default warm-up, base and
``srmc.wrap(kernel, alpha)``); its ratio of the chains' means' variances with its delta-method standard error.
Pooled: every chain's mean of the unconstrained coordinates divided by the reference sd (one scale for all
coordinates) and centred on its own seed's mean over chains, then the same ratio over all seeds' chains, and per
coordinate.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import numpy as np

from srmc.tools.benchmark import variance_ratio_with_stderr

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import run_suite  # noqa: E402
from make_references import load_reference  # noqa: E402
from models import MODELS, build_target  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="garch11", choices=list(MODELS))
    parser.add_argument("--kernel", default="mala", choices=["mala", "hmc", "nuts"])
    parser.add_argument("--alpha", type=float, default=10.0)
    parser.add_argument("--chains", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args(argv)
    kernel, params = run_suite.kernels()[args.kernel]
    with jax.enable_x64(MODELS[args.model].float64):
        target = build_target(args.model)
        sd = np.asarray(load_reference(args.model)["unconstrained"]["sd"])
        base, wrapped = [], []
        for seed in range(args.seeds):
            for alpha, store in ((0.0, base), (args.alpha, wrapped)):
                result = run_suite.run_one(jax.random.key(seed), kernel, params, alpha, target, args.steps,
                                           args.chains, args.warmup)
                store.append(np.asarray(result.chain_estimates["x"], np.float64) / sd)
            ratio, stderr = variance_ratio_with_stderr(base[-1], wrapped[-1])
            print(f"seed {seed}: ratio {ratio:.2f} ± {stderr:.2f}", flush=True)
    pooled_base = np.concatenate([means - means.mean(0) for means in base])
    pooled_wrapped = np.concatenate([means - means.mean(0) for means in wrapped])
    ratio, stderr = variance_ratio_with_stderr(pooled_base, pooled_wrapped)
    per_coordinate = pooled_base.var(0) / pooled_wrapped.var(0)
    print(f"{args.model} {args.kernel} alpha {args.alpha:g}, {args.seeds} seeds x {args.chains} chains x "
          f"{args.steps} steps: pooled ratio {ratio:.2f} ± {stderr:.2f}; per coordinate "
          f"{np.array2string(per_coordinate, precision=2)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

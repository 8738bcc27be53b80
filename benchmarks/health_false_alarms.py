"""How often each health warning fires on healthy runs (false alarms), and on the runs built to provoke it (detection).

    python benchmarks/health_false_alarms.py                 # the table of docs/benchmarks/health.md
    python benchmarks/health_false_alarms.py --quick         # a smoke run (measures nothing)

Healthy runs: registry targets with an exact sampler on which the base kernel mixes (unimodal; MALA with the
default warm-up, a dense mass matrix on the correlated Gaussian; Gibbs on the binary targets), each run started from
exact draws of the target, long enough (``--steps`` counted steps, 5 x on Ising, ``--chains`` chains, draws stored
every 10 steps), for three algorithms: the base kernel, srmc.wrap's default (bounded tilt, alpha = 1) and the same at
alpha = 10; one run per (target, algorithm, seed). A warning on such a run is a false alarm (every run's estimates
are right). Provoked runs: the constructions of tests/srmc/test_health.py and tests/srmc/test_safe_srmc.py, one
per seed.

Output: per code, the healthy runs it fired on (rate and its one-sided 95% upper bound, Clopper-Pearson) and the
provoked runs it fired on; the last line says whether every code stays <= 5% on healthy runs and fires on every
provoked run.
"""

from __future__ import annotations

import argparse
import collections
import time

import jax
import jax.numpy as jnp
from scipy import stats

import srmc
from srmc import samplers, targets
from srmc.engine.warmup import Warmup

MAX_FALSE_ALARM = 0.05

HEALTHY = {  # target -> (kernel, its parameters, warm-up): targets the kernel mixes on, with an exact sampler
    "iid_gaussian": (samplers.mala, {}, None),
    "correlated_gaussian": (samplers.mala, {}, Warmup(1000, mass="dense")),
    "ill_conditioned_gaussian": (samplers.mala, {}, None),
    "banana": (samplers.mala, {}, None),
    "bernoulli": (samplers.gibbs, {}, None),
    "ising": (samplers.gibbs, {}, None),
}
ALGORITHMS = {"base": None, "srmc alpha=1": 1.0, "srmc alpha=10": 10.0}
LONGER = {"ising": 5}  # Gibbs on the Ising model needs 5 x --steps for ~50 effective draws per chain (R-hat's own bias)


def healthy_run(seed: int, name: str, algorithm_name: str, steps: int, chains: int, warmup_steps: int | None
                ) -> set[str]:
    """The warning codes of one healthy run (`warmup_steps`: None for the default warm-up)."""
    target = targets.get(name)
    kernel, params, warmup = HEALTHY[name]
    if warmup_steps is not None:
        warmup = Warmup(warmup_steps, mass=warmup.mass) if isinstance(warmup, Warmup) else warmup_steps
    alpha = ALGORITHMS[algorithm_name]
    algorithm = srmc.base(kernel, **params) if alpha is None else srmc.wrap(kernel, alpha=alpha, **params)
    key, start_key = jax.random.split(jax.random.key(seed))
    starts = target.sample(start_key, chains)
    result = srmc.sample(key, algorithm, target, steps * LONGER.get(name, 1), chains, initial_position=starts,
                         warmup=warmup,
                         options=srmc.RunOptions(thin=10, progress=False))
    return {warning.code for warning in result.warnings}


# --- provocations (as in tests/srmc/test_health.py and tests/srmc/test_safe_srmc.py), one per seed ---------------

GAUSSIAN_4 = dict(dim=4, rho=0.5)


def _codes(result) -> set[str]:
    return {warning.code for warning in result.warnings}


def provoke_step_too_large(key):
    target = targets.get("correlated_gaussian", **GAUSSIAN_4)
    return _codes(srmc.sample(key, srmc.base(samplers.mala, step_size=5.0), target, 300, 8, warmup=0))


def provoke_step_too_small(key):
    target = targets.get("correlated_gaussian", **GAUSSIAN_4)
    return _codes(srmc.sample(key, srmc.base(samplers.mala, step_size=1e-5), target, 300, 8, warmup=0))


def provoke_nonfinite_proposals(key):
    def half_space(x):
        return jnp.where(x[0] > 0, -0.5 * jnp.sum(x**2), -jnp.inf)

    target = targets.from_logdensity(half_space, 2)
    return _codes(srmc.sample(key, srmc.base(samplers.rwm, step_size=1.0), target, 400, 4,
                              initial_position=jnp.array([0.5, 0.0]), warmup=0))


def provoke_nonfinite_estimates(key):
    import warnings

    target = targets.get("correlated_gaussian", **GAUSSIAN_4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _codes(srmc.sample(key, srmc.base(samplers.mala, step_size=0.3), target, 50, 2,
                                  functions={"log": lambda x: jnp.log(x[0])}, warmup=0))


def provoke_stuck_modes(key):
    target = targets.get("gaussian_mixture_9")
    starts = jnp.asarray(target.mixture.means[:8])
    return _codes(srmc.sample(key, srmc.base(samplers.rwm, step_size=0.3), target, 2000, 8, initial_position=starts,
                              options=srmc.RunOptions(thin=10), warmup=0))


def provoke_few_draws(key):
    target = targets.get("correlated_gaussian", **GAUSSIAN_4)
    return _codes(srmc.sample(key, srmc.base(samplers.mala, step_size=0.3), target, 200, 2,
                              options=srmc.RunOptions(thin=20), warmup=0))


def provoke_runaway_history(key):
    target = targets.get("ill_conditioned_gaussian", dim=10)
    algorithm = srmc.wrap(samplers.hmc, alpha=10.0, tilt="linear", step_size=0.25, num_integration_steps=10,
                          step_jitter=0.0)
    return _codes(srmc.sample(key, algorithm, target, 2000, 16, initial_position=target.sample(key, 16), warmup=0))


def provoke_short_warmup(key):
    target = targets.get("correlated_gaussian", **GAUSSIAN_4)
    return _codes(srmc.sample(key, srmc.base(samplers.mala, step_size=1e4), target, 200, 4,
                              warmup=Warmup(4, mass="none")))


def provoke_collapsing_surrogate(key):
    algorithm = srmc.wrap(samplers.mala, alpha=10.0, tilt="score", step_size=0.3, guard=True)
    return _codes(srmc.sample(key, algorithm, targets.get("eight_schools"), 1500, 16, warmup=500,
                              options=srmc.RunOptions(progress=False)))


def provoke_far_start(key):
    target = targets.get("iid_gaussian", dim=2)
    return _codes(srmc.sample(key, srmc.base(samplers.mala, step_size=0.2), target, 400, 256,
                              initial_position=jnp.full((256, 2), 4.0), options=srmc.RunOptions(progress=False),
                              warmup=0))


PROVOCATIONS = {  # code -> the construction that must trigger it
    "acceptance_low": provoke_step_too_large,
    "frozen_chains": provoke_step_too_large,
    "acceptance_high": provoke_step_too_small,
    "nonfinite_proposals": provoke_nonfinite_proposals,
    "nonfinite_estimates": provoke_nonfinite_estimates,
    "r_hat": provoke_stuck_modes,
    "mcse_disagree": provoke_stuck_modes,
    "low_ess": provoke_few_draws,
    "theta_growing": provoke_runaway_history,
    "warmup_acceptance": provoke_short_warmup,
    "guard_backoff": provoke_collapsing_surrogate,
    "bias_exceeds_mcse": provoke_far_start,
}
QUICK_PROVOCATIONS = ("acceptance_low", "low_ess", "mcse_disagree")


def upper_bound(fired: int, runs: int, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound on a rate seen `fired` times in `runs`."""
    return 1.0 if fired >= runs else float(stats.beta.ppf(level, fired + 1, runs - fired))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="healthy runs per (target, algorithm)")
    parser.add_argument("--provoked", type=int, default=10, help="provoked runs per code")
    parser.add_argument("--steps", type=int, default=4000, help="counted steps per healthy run")
    parser.add_argument("--chains", type=int, default=16, help="chains per healthy run")
    parser.add_argument("--targets", default=",".join(HEALTHY), help="comma-separated healthy targets")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS),
                        help="comma-separated, of: " + ", ".join(ALGORITHMS))
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps of the healthy runs (default: srmc's)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 target, 1 seed, short, 3 provocations")
    args = parser.parse_args()
    names = args.targets.split(",")
    provoked_codes = list(PROVOCATIONS)
    if args.quick:
        names, args.seeds, args.provoked, args.steps, args.chains, args.warmup = ["iid_gaussian"], 1, 1, 400, 8, 100
        provoked_codes = list(QUICK_PROVOCATIONS)
    unknown = sorted(set(names) - set(HEALTHY))
    if unknown:
        parser.error(f"--targets {', '.join(unknown)}: choose from {', '.join(HEALTHY)}")
    algorithms = args.algorithms.split(",")
    if set(algorithms) - set(ALGORITHMS):
        parser.error(f"--algorithms {args.algorithms}: choose from {', '.join(ALGORITHMS)}")
    start = time.perf_counter()

    fired: collections.Counter = collections.Counter()
    runs = 0
    by_config: dict = collections.defaultdict(collections.Counter)
    for name in names:
        for algorithm_name in algorithms:
            seen: collections.Counter = collections.Counter()
            for seed in range(args.seeds):
                codes = healthy_run(seed, name, algorithm_name, args.steps, args.chains, args.warmup)
                fired.update(codes)
                seen.update(codes)
                runs += 1
                for code in codes:
                    by_config[code][f"{name} {algorithm_name}"] += 1
            print(f"healthy: {name} {algorithm_name}: {args.seeds} runs, warnings {dict(seen) or 'none'} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)

    detected: dict[str, int] = {}
    cache: dict = {}
    for code in provoked_codes:
        construction = PROVOCATIONS[code]
        hits = 0
        for seed in range(args.provoked):
            if (construction, seed) not in cache:
                cache[(construction, seed)] = construction(jax.random.key(1000 + seed))
            hits += code in cache[(construction, seed)]
        detected[code] = hits
        print(f"provoked: {code}: {hits}/{args.provoked} ({time.perf_counter() - start:.0f} s)", flush=True)

    print(f"\nhealth report on {runs} healthy runs ({len(names)} targets x {len(algorithms)} algorithms x {args.seeds} "
          f"seeds; {args.chains} chains x {args.steps} steps from exact draws) and {args.provoked} provoked runs per "
          f"code; {time.perf_counter() - start:.0f} s")
    print(f"{'code':<24}{'healthy: fired':>16}{'rate':>8}{'95% upper':>11}  {'provoked: fired':>16}  where it fired")
    codes = list(dict.fromkeys(list(PROVOCATIONS) + sorted(fired)))
    worst = 0.0
    missed = []
    for code in codes:
        rate = fired[code] / runs
        worst = max(worst, rate)
        provoked = f"{detected[code]}/{args.provoked}" if code in detected else "-"
        if code in detected and detected[code] < args.provoked:
            missed.append(code)
        where = ", ".join(f"{config} {count}" for config, count in by_config[code].most_common(3))
        print(f"{code:<24}{fired[code]:>9}/{runs:<6}{rate:>8.1%}{upper_bound(fired[code], runs):>11.1%}  "
              f"{provoked:>16}  {where}")
    verdict = "yes" if worst <= MAX_FALSE_ALARM and not missed else "NO"
    print(f"worst false-alarm rate {worst:.1%} over {runs} healthy runs (goal <= {MAX_FALSE_ALARM:.0%}); provoked "
          f"runs missed: {', '.join(missed) or 'none'}; every code within the goal and detected: {verdict}")


if __name__ == "__main__":
    main()

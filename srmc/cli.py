"""The `srmc` command line: list targets, sample one, benchmark alpha against the base kernel."""

from __future__ import annotations

import argparse
import ast
import sys
from typing import Sequence

import jax

import samplers
import srmc
import targets
from srmc.benchmark import format_table, variance_benchmark

DEFAULT_KERNEL_PARAMS = {
    "rwm": {"step_size": 0.15},
    "mala": {"step_size": 0.05},
    "hmc": {"step_size": 0.15, "num_integration_steps": 10},
    "kinetic_langevin": {"step_size": 0.15, "damping": 0.5, "num_integration_steps": 1},
    "gibbs": {},
    "discrete_metropolis": {},
}


def _parse_target_params(pairs: Sequence[str]) -> dict:
    params = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--param expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def _kernel(args: argparse.Namespace) -> tuple[object, dict]:
    if not hasattr(samplers, args.kernel) or args.kernel not in DEFAULT_KERNEL_PARAMS:
        raise SystemExit(f"unknown kernel {args.kernel!r}; choose from {sorted(DEFAULT_KERNEL_PARAMS)}")
    params = dict(DEFAULT_KERNEL_PARAMS[args.kernel])
    for name in ("step_size", "num_integration_steps", "damping"):
        value = getattr(args, name, None)
        if value is not None and name in params:
            params[name] = value
    return getattr(samplers, args.kernel), params


def _alpha(args: argparse.Namespace, alpha: float):
    return srmc.schedules.linear_warmup(alpha, args.alpha_warmup) if args.alpha_warmup and alpha else alpha


def cmd_targets(args: argparse.Namespace) -> None:
    """Print the registry: name, kind, dim and what ground truth is known."""
    print(f"{'name':<26}{'kind':<13}{'dim':>5}  {'ground truth':<22}description")
    for name in targets.names():
        target = targets.get(name)
        truth = target.ground_truth
        known = "none" if truth is None else ("exact" if truth.exact else "reference run")
        known += ", exact sampler" if target.sample is not None else ""
        print(f"{name:<26}{target.kind:<13}{target.dim:>5}  {known:<22}{targets.describe(name)}")


def cmd_run(args: argparse.Namespace) -> None:
    """Sample one target and print the summary table."""
    target = targets.get(args.target, **_parse_target_params(args.param))
    kernel, params = _kernel(args)
    if args.alpha == 0:
        algorithm = srmc.base(kernel, **params)
    else:
        algorithm = srmc.wrap(kernel, alpha=_alpha(args, args.alpha), tilt=args.tilt, gradient=args.gradient, **params)
    result = srmc.sample(
        jax.random.key(args.seed), algorithm, target, args.steps, args.chains, burn_in=args.burn_in,
        thin=args.thin, progress=not args.quiet and None,
    )
    truth = None if target.ground_truth is None else target.ground_truth.mean
    print(result.summary(max_rows=args.rows, truth=truth))


def cmd_bench(args: argparse.Namespace) -> None:
    """Replicate-based MSE of the mean estimate for each alpha (0 = base kernel), as a table."""
    target = targets.get(args.target, **_parse_target_params(args.param))
    kernel, params = _kernel(args)
    alphas = [float(a) for a in args.alpha.split(",")]
    rows = variance_benchmark(
        jax.random.key(args.seed), target, kernel, params, alphas, num_steps=args.steps,
        num_replicates=args.replicates, tilts=args.tilt.split(","), gradient=args.gradient,
        alpha_warmup=args.alpha_warmup, progress=not args.quiet and None,
    )
    print(f"{target.name}, {args.kernel} {params}, {args.replicates} replicates x {args.steps} steps, "
          f"alpha warm-up {args.alpha_warmup} steps; MSE of the mean averaged over coordinates "
          f"(ratio = base MSE / MSE)")
    print(format_table(rows))


def _add_sampler_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="registered target name (see `srmc targets`)")
    parser.add_argument("--param", action="append", default=[], help="target parameter key=value (repeatable)")
    parser.add_argument("--kernel", default="mala", help="base kernel: rwm, mala, hmc, kinetic_langevin")
    parser.add_argument("--tilt", default="score", help="score or linear (bench: a comma-separated list)")
    parser.add_argument("--gradient", default="exact", choices=["exact", "shifted"])
    parser.add_argument("--alpha-warmup", type=int, default=500,
                        help="linear warm-up of alpha over this many steps (0: constant alpha)")
    parser.add_argument("--step-size", type=float, dest="step_size")
    parser.add_argument("--num-integration-steps", type=int, dest="num_integration_steps")
    parser.add_argument("--damping", type=float)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `srmc` command."""
    parser = argparse.ArgumentParser(prog="srmc", description="Score-Repellent Monte Carlo in JAX")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("targets", help="list the target registry").set_defaults(func=cmd_targets)
    run = commands.add_parser("run", help="sample a target and print the summary")
    _add_sampler_options(run)
    run.add_argument("--alpha", type=float, default=1.0)
    run.add_argument("--chains", type=int, default=16)
    run.add_argument("--burn-in", type=int, default=500, dest="burn_in")
    run.add_argument("--thin", type=int, default=10)
    run.add_argument("--rows", type=int, default=10)
    run.set_defaults(func=cmd_run)
    bench = commands.add_parser("bench", help="MSE of the mean vs alpha over independent replicates")
    _add_sampler_options(bench)
    bench.add_argument("--alpha", default="0,1,10", help="comma-separated alphas; 0 is the base kernel")
    bench.add_argument("--replicates", type=int, default=100)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `srmc` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, TypeError, KeyError) as error:
        print(f"srmc: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

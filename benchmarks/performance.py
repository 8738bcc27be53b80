"""srmc against hand-written loops of the same kernels: compile time and time per chain-step, ratios in one run.

    python benchmarks/performance.py [--chains 1,1024] [--steps 1000] [--warmup 500] [--hmc-steps 200]
                                     [--lr-steps 200] [--graph-steps 2000] [--walks 20] [--repeats 2] [--quick]

Continuous (the main job's kernels): MALA and HMC (10 leapfrog steps) on the 20-d correlated Gaussian (rho 0.9)
and on the breast-cancer logistic regression. Per (target, kernel, chains) four programs run the same chains,
warm-up steps and steps from the same starts:

- ``blackjax``: a hand-written loop, one ``jax.jit`` of BlackJAX's warm-up then a ``lax.scan`` of the
  ``jax.vmap``-ed kernel. HMC warms up with ``blackjax.window_adaptation`` (step size and diagonal mass,
  vmapped over chains); BlackJAX's MALA takes no mass matrix, so window_adaptation does not support it: its
  warm-up is the same number of MALA steps at the given step size (no adaptation: BlackJAX does less work there);
- ``srmc base``: ``srmc.sample(key, srmc.base(kernel), ...)`` with ``warmup=W`` (step size and mass adapted);
- ``srmc default``: ``srmc.sample`` of ``srmc.wrap(kernel, alpha=1)``, the default (bounded tilt) SRMC;
- compile: the seconds JAX spends tracing, lowering and compiling during the first call (`jax.monitoring`'s
  compile events, `srmc.engine.timing`); time per chain-step: the best wall time of `--repeats` further calls
  (nothing compiles again) divided by chains x (warm-up + steps), srmc's per-call setup and health report
  included;
- time per counted step: the same programs run again with more steps (twice as many; 20 times at 1 chain, where
  the jitter of a call's fixed cost would swamp the difference), the warm-up unchanged, and the difference of the
  two best wall times divided by chains x the extra steps: what one more sampling step costs, without the
  warm-up and the fixed cost of a call (the issue's "per counted step"). srmc's wall times here are its own
  `result.wall_time` (warm-up and sampling chunks), which leaves out the health report: a short run may draw
  warnings whose checks a long run skips, and its fixed cost would then differ between the two lengths.

srmc's default warm-up gives MALA and HMC a dense mass on the correlated Gaussian (``mass="auto"``), which
BlackJAX's loop does not have. So every row is run a second time with the mass form of the BlackJAX loop
(``srmc.Warmup(W, mass=...)``: "none" for MALA, whose BlackJAX kernel takes no mass; "diagonal" for HMC, as
`window_adaptation`): the same kernel on both sides, per counted step.

Graph samplers: SRRW (`srmc.srrw`, MHRW base) and HDT (`srmc.hdt`, NBRW base) on the karate club, and walk-jump
(`srmc.walk_jump_algorithm`, MALA inside, one draw per walk stored) on the two-mode mixture, through
``srmc.sample`` against a plain loop of the same algorithm's ``init``/``step`` in a jitted ``lax.scan`` (no
running means: the plain loop only steps). A walk-jump "step" is one stage (K inner MALA steps).

``--dense-costs`` prints instead what a dense mass costs per chain at 1024 chains and d = 20: a Cholesky
factorisation, a triangular solve and a matrix-vector product, each with one matrix per chain (as after srmc's
warm-up, which adapts every chain's parameters) and with one matrix shared by all chains.

Ratios are srmc / the hand-written loop (compile goal <= 1.5, default / base per step goal <= 1.1). The machine
may be shared: times are the best of `--repeats`, and what compile time is depends on the machine's load.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

import blackjax
import jax

import srmc
from srmc import samplers, targets
from srmc.engine.timing import compile_seconds

HMC_LEAPFROG = 10
KERNELS = {"mala": (samplers.mala, blackjax.mala), "hmc": (samplers.hmc, blackjax.hmc)}


def timed(call: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(compile seconds of the first call, best wall seconds of `repeats` later calls)."""
    before = compile_seconds()
    jax.block_until_ready(call())
    compiled = compile_seconds() - before
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(call())
        best = min(best, time.perf_counter() - start)
    return compiled, best


def blackjax_program(name: str, logdensity: Callable, dim: int, step_size: float, warmup: int, steps: int
                     ) -> Callable:
    """The hand-written BlackJAX loop: warm-up (window_adaptation for HMC, fixed-step MALA steps) then `steps`
    steps of the vmapped kernel; returns the final positions' mean and the mean acceptance."""
    module = KERNELS[name][1]

    def run(key: jax.Array, positions: jax.Array) -> tuple[jax.Array, jax.Array]:
        num_chains = positions.shape[0]
        warm_key, run_key = jax.random.split(key)
        if name == "hmc":
            adaptation = blackjax.window_adaptation(module, logdensity, num_integration_steps=HMC_LEAPFROG,
                                                    initial_step_size=step_size, target_acceptance_rate=0.8)
            (states, params), _ = jax.vmap(lambda k, x: adaptation.run(k, x, warmup))(
                jax.random.split(warm_key, num_chains), positions)
            kernel = module.build_kernel()

            def step(k, s, p):
                return kernel(k, s, logdensity, **p)  # p: step size, mass, num_integration_steps
        else:
            states, params = jax.vmap(lambda x: module.init(x, logdensity))(positions), None
            kernel = module.build_kernel()

            def step(k, s, p):
                return kernel(k, s, logdensity, step_size=step_size)

        def one_step(states: Any, key: jax.Array) -> tuple[Any, jax.Array]:
            states, info = jax.vmap(step, in_axes=(0, 0, 0 if params is not None else None))(
                jax.random.split(key, num_chains), states, params)
            return states, info.acceptance_rate.mean()

        if name == "mala":  # the warm-up's steps at the given step size (window_adaptation does not take MALA)
            states, _ = jax.lax.scan(one_step, states, jax.random.split(warm_key, warmup))
        states, acceptance = jax.lax.scan(one_step, states, jax.random.split(run_key, steps))
        return states.position.mean(axis=0), acceptance.mean()

    return jax.jit(run)


EQUAL_MASS = {"mala": "none", "hmc": "diagonal"}  # the mass form of the BlackJAX loop's kernel
LONG_FACTOR, LONG_FACTOR_ONE_CHAIN = 2, 20  # the longer run's steps / the run's (1 chain: a call's jitter)


def marginal_us(short_seconds: float, long_seconds: float, work: int) -> float:
    """Microseconds per counted chain-step: the best wall seconds of a run with more steps minus the run's, over
    `work` = chains x the extra steps."""
    return 1e6 * (long_seconds - short_seconds) / work


def continuous_rows(target: targets.Target, name: str, chains: int, warmup: int, steps: int, repeats: int,
                    step_size: float, mass: str = "auto") -> dict[str, tuple[float, float, float]]:
    """{program: (compile s, us per chain-step with the warm-up, us per counted step)} for the three programs of
    one (target, kernel, chains); srmc's warm-up adapts a mass of form `mass`."""
    ours = KERNELS[name][0]
    params = {"step_size": step_size}
    if name == "hmc":
        params["num_integration_steps"] = HMC_LEAPFROG
    positions = (target.sample or target.initial_position)(jax.random.key(1), chains)
    key = jax.random.key(0)
    work = chains * (warmup + steps)
    rows = {}
    more = steps * (LONG_FACTOR if chains > 1 else LONG_FACTOR_ONE_CHAIN)  # counted steps of the longer run
    extra_work = chains * (more - steps)
    programs = {n: blackjax_program(name, target.logdensity, target.dim, step_size, warmup, n)
                for n in (steps, more)}
    short, long = (timed(lambda n=n: programs[n](key, positions), repeats) for n in (steps, more))
    rows["blackjax"] = (short[0], 1e6 * short[1] / work, marginal_us(short[1], long[1], extra_work))
    warm = srmc.Warmup(warmup, mass=mass)
    for label, algorithm in (("srmc base", srmc.base(ours, **params)),
                             ("srmc default", srmc.wrap(ours, alpha=1.0, **params))):
        sampled = {}  # counted steps -> the best `result.wall_time` (warm-up and chunks: no setup, no health report)

        def run(n: int) -> jax.Array:
            result = srmc.sample(key, algorithm, target, n, chains, initial_position=positions, warmup=warm,
                                 options=srmc.RunOptions(progress=False))
            sampled[n] = min(sampled.get(n, float("inf")), result.wall_time)
            return result.estimates

        short = timed(lambda: run(steps), repeats)
        timed(lambda: run(more), repeats)  # fills sampled[more]
        rows[label] = (short[0], 1e6 * short[1] / work, marginal_us(sampled[steps], sampled[more], extra_work))
    return rows


def engine_rows(algorithm: srmc.Algorithm, target: targets.Target, chains: int, steps: int, repeats: int,
                options: srmc.RunOptions) -> dict[str, tuple[float, float]]:
    """{program: (compile s, us per chain-step)}: ``srmc.sample`` of `algorithm` against a plain jitted
    ``lax.scan`` of its vmapped ``init``/``step`` from the same starts (no running means: the plain loop only
    steps)."""
    positions = target.initial_position(jax.random.key(1), chains)
    key = jax.random.key(0)

    def plain(key: jax.Array, positions: jax.Array) -> jax.Array:
        states = jax.vmap(algorithm.init, in_axes=(0, None))(positions, target)

        def one_step(states: Any, key: jax.Array) -> tuple[Any, jax.Array]:
            states, info = jax.vmap(algorithm.step, in_axes=(0, 0, None))(jax.random.split(key, chains), states,
                                                                           target)
            return states, info.acceptance_rate.mean()

        return jax.lax.scan(one_step, states, jax.random.split(key, steps))[1].mean()

    program = jax.jit(plain)
    rows = {}
    compiled, best = timed(lambda: program(key, positions), repeats)
    rows["plain loop"] = (compiled, 1e6 * best / (chains * steps))
    compiled, best = timed(lambda: srmc.sample(key, algorithm, target, steps, chains, initial_position=positions,
                                               warmup=0, options=options).estimates, repeats)
    rows["srmc.sample"] = (compiled, 1e6 * best / (chains * steps))
    return rows


def graph_rows(chains: int, steps: int, repeats: int) -> dict[str, dict[str, tuple[float, float]]]:
    """{algorithm: {program: (compile s, us per chain-step)}} for SRRW and HDT on the karate club."""
    target = targets.get("karate_club")
    return {label: engine_rows(algorithm, target, chains, steps, repeats, srmc.RunOptions(progress=False))
            for label, algorithm in (("srrw[mhrw]", srmc.srrw(samplers.mhrw, alpha=5.0)),
                                     ("hdt[nbrw]", srmc.hdt(samplers.nbrw, alpha=5.0)))}


def walk_jump_rows(chains: int, walks: int, repeats: int) -> dict[str, dict[str, tuple[float, float]]]:
    """{algorithm: {program: (compile s, us per chain-stage)}} for walk-jump (MALA inside) on the paper's two-mode
    mixture (`benchmarks/walk_jump.py`'s claim target): `walks` walks of M stages per chain, one draw per walk
    stored (thin M), as ``srmc.walk_jump`` runs it."""
    target = targets.get("two_component_mixture", separation=10.0, weights=(0.7, 0.3))
    algorithm = srmc.walk_jump_algorithm(target)
    stages = int(algorithm.params.num_measurements)
    options = srmc.RunOptions(thin=stages, progress=False)
    return {f"walk_jump (M={stages})": engine_rows(algorithm, target, chains, walks * stages, repeats, options)}


def print_engine_table(title: str, chain_counts: list[int], steps: int, repeats: int, rows_of: Callable) -> None:
    """One line per (algorithm, chains): compile and per-step time of the plain loop and of srmc.sample, ratios."""
    print(f"\n{title:<22}{'chains':>7}{'steps':>7}{'compile s: plain':>18}{'srmc':>7}"
          f"{'us: plain':>11}{'srmc':>8}{'compile x':>10}{'step x':>8}")
    for chains in chain_counts:
        for label, rows in rows_of(chains, steps, repeats).items():
            plain, ours = rows["plain loop"], rows["srmc.sample"]
            print(f"{label:<22}{chains:>7}{steps:>7}{plain[0]:>18.2f}{ours[0]:>7.2f}{plain[1]:>11.3f}"
                  f"{ours[1]:>8.3f}{ours[0] / plain[0]:>10.2f}{ours[1] / plain[1]:>8.2f}", flush=True)


def dense_costs(chains: int = 1024, dim: int = 20, repeats: int = 50) -> None:
    """Print microseconds per chain of the dense-mass operations of a step, per-chain and shared matrices."""
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular

    rows = jax.random.normal(jax.random.key(0), (dim, dim))
    matrix = rows @ rows.T / dim + jnp.eye(dim)
    factor = jnp.linalg.cholesky(matrix)
    vectors = jax.random.normal(jax.random.key(1), (chains, dim))
    operations = {"cholesky": lambda m, v: jnp.linalg.cholesky(m),
                  "triangular solve": lambda m, v: solve_triangular(m, v, lower=True),
                  "matrix-vector product": lambda m, v: m @ v}
    print(f"{jax.devices()[0].platform}: us per chain, {chains} chains, d = {dim}")
    print(f"{'operation':<24}{'per-chain matrices':>20}{'one shared matrix':>19}")
    for name, operation in operations.items():
        operand = matrix if name == "cholesky" else factor
        times = []
        for batched in (True, False):
            program = jax.jit(jax.vmap(operation, in_axes=(0 if batched else None, 0)))
            argument = jnp.broadcast_to(operand, (chains, dim, dim)) if batched else operand
            jax.block_until_ready(program(argument, vectors))
            start = time.perf_counter()
            for _ in range(repeats):
                out = program(argument, vectors)
            jax.block_until_ready(out)
            times.append(1e6 * (time.perf_counter() - start) / repeats / chains)
        print(f"{name:<24}{times[0]:>20.3f}{times[1]:>19.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", default="1,1024")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--hmc-steps", type=int, default=200, dest="hmc_steps")
    parser.add_argument("--lr-steps", type=int, default=200, dest="lr_steps", help="steps on the logistic "
                        "regression (its warm-up: the same number)")
    parser.add_argument("--graph-steps", type=int, default=2000, dest="graph_steps")
    parser.add_argument("--walks", type=int, default=20, help="walk-jump: walks per chain")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps, 1 and 128 chains")
    parser.add_argument("--dense-costs", action="store_true", dest="dense_costs",
                        help="only what a dense mass's operations cost per chain")
    args = parser.parse_args()
    if args.dense_costs:
        dense_costs()
        return
    chain_counts = [int(c) for c in args.chains.split(",")]
    if args.quick:
        chain_counts = [1, 128]
        args.steps, args.warmup, args.hmc_steps, args.lr_steps, args.graph_steps, args.walks = 100, 50, 20, 30, 200, 4
    print(f"{jax.devices()[0].platform} ({jax.device_count()} device), jax {jax.__version__}, blackjax "
          f"{blackjax.__version__}; best of {args.repeats}; us = microseconds per chain-step, warm-up included")
    print(f"{'target':<24}{'kernel':<7}{'mass':<9}{'chains':>7}{'steps':>11}"
          f"{'compile s: blackjax':>21}{'base':>7}{'default':>8}{'us: blackjax':>14}{'base':>8}{'default':>8}"
          f"{'counted us: blackjax':>22}{'base':>8}{'default':>8}{'compile x':>10}{'step x':>8}{'dflt/base':>10}")
    summary = []
    cases = [(targets.get("correlated_gaussian", dim=20, rho=0.9), 0.05, args.warmup, args.steps, args.hmc_steps),
             (targets.get("logistic_breast_cancer"), 0.005, args.lr_steps, args.lr_steps, max(args.lr_steps // 5, 10))]
    for target, step_size, warmup, steps, hmc_steps in cases:
        for name in KERNELS:
            n, w = (steps, warmup) if name == "mala" else (hmc_steps, max(hmc_steps, 50))
            for mass in ("auto", EQUAL_MASS[name]):
                for chains in chain_counts:
                    repeats = args.repeats if chains > 1 else max(args.repeats, 5)  # 1 chain: a call's jitter
                    rows = continuous_rows(target, name, chains, w, n, repeats, step_size, mass)
                    bj, base, default = rows["blackjax"], rows["srmc base"], rows["srmc default"]
                    compile_ratio = max(base[0], default[0]) / bj[0]
                    step_ratio, overhead = base[2] / bj[2], default[2] / base[2]
                    summary.append((target.name.split("(")[0], name, mass, chains, compile_ratio, step_ratio,
                                    overhead))
                    print(f"{target.name.split('(')[0]:<24}{name:<7}{mass:<9}{chains:>7}{f'{w}+{n}':>11}"
                          f"{bj[0]:>21.2f}{base[0]:>7.2f}{default[0]:>8.2f}{bj[1]:>14.3f}{base[1]:>8.3f}"
                          f"{default[1]:>8.3f}{bj[2]:>22.3f}{base[2]:>8.3f}{default[2]:>8.3f}{compile_ratio:>10.2f}"
                          f"{step_ratio:>8.2f}{overhead:>10.2f}", flush=True)
    print("mass: the form srmc's warm-up adapts (auto: srmc's default; none / diagonal: the BlackJAX loop's); "
          "compile x: the slower of srmc's two programs / blackjax; us: per chain-step, warm-up and call included; "
          "counted us: per counted step (a longer run minus the run); step x: srmc base / blackjax per counted "
          "step; dflt/base: default SRMC / srmc base per counted step")
    print_engine_table("graph sampler", chain_counts, args.graph_steps, args.repeats, graph_rows)
    print_engine_table("walk-jump (walks)", chain_counts, args.walks, args.repeats, walk_jump_rows)
    print("\nsrmc / hand-written (goals: compile <= 1.5x, default <= 1.1x base per counted step): " + "; ".join(
        f"{t} {k} mass {m} {c} ch compile {cr:.2f}x step {sr:.2f}x default/base {o:.2f}x"
        for t, k, m, c, cr, sr, o in summary))


if __name__ == "__main__":
    main()

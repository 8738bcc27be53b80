"""Where srmc's compile time goes: compilations counted and timed per phase of `srmc.sample`, for the main job.

    python benchmarks/compile_profile.py [--steps 5000] [--replicates 100] [--tilts score,linear,bounded]
                                         [--alphas 0,1,10] [--repeat]
    python benchmarks/compile_profile.py --fusion-check
    python benchmarks/compile_profile.py --first-call [--repeats 3]
    python benchmarks/compile_profile.py --backend-levels [--repeats 3]

Runs the README's main job (``srmc bench correlated_gaussian --kernel mala --alpha 0,1,10 --tilt
score,linear,bounded --steps 5000 --replicates 100``) in this process with JAX's compile logging on
(``jax_log_compiles``, set inside `main` only) and a `jax.monitoring` listener, and attributes every
compilation to the phase of `srmc.sample` that asked for it:

- setup: checking the arguments, initial positions and states, the algorithm's first step checked (`_prepare`);
- warm-up: the warm-up's chunks, its end (step size, mass, the tilt's reference, alpha's prediction) (`_run_warmup`);
- sampling chunks: the compiled chunks of the run (`_run_chunks`);
- estimators: the result, its counters and health report (`_collect`);
- outside sample: what the benchmark itself compiles (evaluation counts, control variates).

Per phase it prints the XLA compilations (programs handed to the backend), the seconds spent tracing, lowering
and compiling them (`jax.monitoring`'s compile events), and the programs compiled most often. ``--repeat``
runs the job a second time in the same process and prints the same for that run: every compilation there is a
program that was traced again instead of reused. The last line prints the totals.

``--fusion-check`` prints, instead, why srmc's setup and warm-up end stay op by op: the same float arithmetic run
op by op (each operation its own program, as `srmc.sample` runs its setup) and compiled as one program (as a
``jax.jit`` of the setup would run it) gives different last bits, because XLA fuses a compiled program's
operations (on CPU it contracts ``a * b + c`` into one fused multiply-add, rounded once) and may reorder a fused
reduction; a run's results for a given key would change. It counts differing entries for three expressions on
1024 x 20 standard normals.

``--first-call [--repeats 3]`` prints what a user's first call compiles, each measurement in a fresh Python
process (nothing compiled before it, no persistent cache): the hand-written BlackJAX loop of `performance.py`
against ``srmc.sample`` of the base kernel and of the default SRMC with the BlackJAX loop's mass form (MALA
"none", HMC "diagonal"; 1024 chains on the 20-d correlated Gaussian, MALA 500 + 1000 steps, HMC 200 + 200),
each srmc run once as it is and once with its setup compiled: the initial states, the warm-up's end (`finish`:
the pooled moments, the tilt's reference, alpha's prediction) and the restart after it as jitted programs instead
of op by op. The second is a what-if, patched in here and nowhere in srmc: its draws differ from srmc's in their
last bits (``--fusion-check``), which issue 31 rules out; it measures what keeping them costs. Columns: the
first call's compile and wall seconds, a second identical call's wall seconds, the XLA compilations, compile /
BlackJAX's, and whether the results' bits are those of the first variant.

``--backend-levels`` runs the same first calls with every program of the process compiled at XLA's default
backend optimisation level (LLVM's -O3 on CPU) and at levels 2 and 1 (``XLA_FLAGS=--xla_backend_optimization_level``,
BlackJAX's loop at the same level): another what-if, as it changes srmc's draws in their last bits.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import logging
import re
import time
from typing import Any, Callable, Iterator

import jax

PHASES = {"_prepare": "setup", "_run_warmup": "warm-up", "_run_chunks": "sampling chunks", "_collect": "estimators"}
OUTSIDE = "outside sample"
COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration")
_XLA_MESSAGE = re.compile(r"Finished XLA compilation of (\S+)")


class Profile:
    """Compile seconds and XLA compilations (by program name) per phase, filled by listeners."""

    def __init__(self) -> None:
        self.phase = [OUTSIDE]
        self.seconds: collections.Counter = collections.Counter()
        self.compiles: collections.Counter = collections.Counter()
        self.programs: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def on_duration(self, event: str, duration: float, **kwargs: Any) -> None:
        if event in COMPILE_EVENTS:
            self.seconds[self.phase[-1]] += duration

    def on_log(self, message: str) -> None:
        match = _XLA_MESSAGE.search(message)
        if match:
            self.compiles[self.phase[-1]] += 1
            self.programs[self.phase[-1]][match.group(1)] += 1

    @contextlib.contextmanager
    def within(self, phase: str) -> Iterator[None]:
        self.phase.append(phase)
        try:
            yield
        finally:
            self.phase.pop()

    def reset(self) -> None:
        self.seconds.clear()
        self.compiles.clear()
        self.programs.clear()


class _Handler(logging.Handler):
    def __init__(self, profile: Profile) -> None:
        super().__init__(level=logging.DEBUG)
        self.profile = profile

    def emit(self, record: logging.LogRecord) -> None:
        self.profile.on_log(record.getMessage())


def listen(profile: Profile) -> None:
    """Send JAX's compile log (on once ``jax_log_compiles`` is set) to `profile` instead of the terminal."""
    logger = logging.getLogger("jax")
    logger.addHandler(_Handler(profile))
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def instrument(profile: Profile) -> None:
    """Wrap the runner's phase functions so that compilations inside them are attributed to their phase."""
    from srmc.engine import runner

    def wrapped(name: str, fn: Callable) -> Callable:
        def phase_fn(*args: Any, **kwargs: Any) -> Any:
            with profile.within(PHASES[name]):
                return fn(*args, **kwargs)
        return phase_fn

    for name in PHASES:
        setattr(runner, name, wrapped(name, getattr(runner, name)))


def report(profile: Profile, title: str, wall: float) -> tuple[int, float]:
    """Print one run's table; return its total compilations and compile seconds."""
    print(f"\n{title} (wall {wall:.1f} s)")
    print(f"{'phase':<18}{'XLA compiles':>14}{'compile s':>11}  most compiled programs")
    for phase in (*PHASES.values(), OUTSIDE):
        top = ", ".join(f"{name} x{count}" for name, count in profile.programs[phase].most_common(5))
        print(f"{phase:<18}{profile.compiles[phase]:>14}{profile.seconds[phase]:>11.2f}  {top}")
    total_compiles, total_seconds = sum(profile.compiles.values()), sum(profile.seconds.values())
    print(f"{'total':<18}{total_compiles:>14}{total_seconds:>11.2f}")
    return total_compiles, total_seconds


def fusion_check() -> None:
    """Print how many entries differ between op-by-op and compiled evaluation of three float expressions."""
    import jax.numpy as jnp

    a, b, c = (jax.random.normal(key, (1024, 20)) for key in jax.random.split(jax.random.key(0), 3))
    expressions = {"a * b + c": lambda a, b, c: a * b + c,
                   "tanh(a) * b - exp(c) / (a + 3)": lambda a, b, c: jnp.tanh(a) * b - jnp.exp(c) / (a + 3.0),
                   "sum(log1p(exp(a)), axis=1)": lambda a, b, c: jnp.sum(jnp.log1p(jnp.exp(a)), axis=1)}
    print(f"{jax.devices()[0].platform}, jax {jax.__version__}: op by op against one compiled program")
    for text, expression in expressions.items():
        op_by_op, compiled = expression(a, b, c), jax.jit(expression)(a, b, c)
        print(f"  {text:<34} {int(jnp.sum(op_by_op != compiled)):>6} of {op_by_op.size} entries differ")


FIRST_CALL_CASES = (("mala", "none", 500, 1000), ("hmc", "diagonal", 200, 200))  # kernel, mass, warm-up, steps
FIRST_CALL_CHAINS = 1024


def compile_setup_as_programs() -> None:
    """The ``--first-call`` what-if: srmc's op-by-op setup and warm-up end run as jitted programs in this process
    (draws change in their last bits; never done by srmc itself)."""
    from srmc.engine import adaptation, runner, warmup

    def initial_states(algorithm: Any, target: Any, positions: Any, params: Any, params_axis: Any) -> Any:
        return jax.jit(lambda x, p: jax.vmap(algorithm.init_fn, in_axes=(0, None, params_axis))(x, target, p))(
            positions, params)

    def apply_warmup(algorithm: Any, target: Any, states: Any, params: Any, kernel_states: Any, result: Any) -> Any:
        states, params = adaptation._handover(states, params, kernel_states, result, kernel=algorithm.kernel,
                                              adaptation=algorithm.adaptation, target=target)
        if algorithm.adaptation is not None:
            restart = jax.vmap(algorithm.adaptation.restart, in_axes=(0, None, 0))
            states = jax.jit(lambda s, p: restart(s, target, p))(states, params)
        return states, params

    runner.initial_states = adaptation.initial_states = initial_states
    adaptation.finish = jax.jit(warmup.finish, static_argnums=0)
    adaptation.apply_warmup = apply_warmup


def first_call(side: str, kernel: str, mass: str, compiled_setup: bool) -> None:
    """Print ``compile_s wall_s second_call_s programs digest`` for one first call (run in a fresh process by
    `first_call_table`); the digest identifies the result's bits."""
    import hashlib

    import numpy as np
    import performance

    import srmc
    from srmc import samplers, targets
    from srmc.engine.timing import compile_seconds

    if compiled_setup:
        compile_setup_as_programs()
    profile = Profile()
    listen(profile)
    target = targets.get("correlated_gaussian", dim=20, rho=0.9)
    positions = jax.block_until_ready(target.sample(jax.random.key(1), FIRST_CALL_CHAINS))
    warmup, steps = next((w, n) for k, _, w, n in FIRST_CALL_CASES if k == kernel)
    params = {"step_size": 0.05} | ({"num_integration_steps": performance.HMC_LEAPFROG} if kernel == "hmc" else {})
    if side == "blackjax":
        program = performance.blackjax_program(kernel, target.logdensity, target.dim, 0.05, warmup, steps)

        def call() -> Any:
            return program(jax.random.key(0), positions)
    else:
        module = getattr(samplers, kernel)
        algorithm = srmc.base(module, **params) if side == "base" else srmc.wrap(module, alpha=1.0, **params)

        def call() -> Any:
            return srmc.sample(jax.random.key(0), algorithm, target, steps, FIRST_CALL_CHAINS,
                               initial_position=positions, warmup=srmc.Warmup(warmup, mass=mass),
                               options=srmc.RunOptions(progress=False)).estimates
    jax.config.update("jax_log_compiles", True)
    profile.reset()
    before, start = compile_seconds(), time.perf_counter()
    out = jax.block_until_ready(call())
    compiled, wall = compile_seconds() - before, time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(call())
    again = time.perf_counter() - start
    digest = hashlib.sha256(b"".join(np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(out))).hexdigest()[:12]
    print(f"{compiled:.3f} {wall:.3f} {again:.3f} {sum(profile.compiles.values())} {digest}")


def _measure(side: str, kernel: str, mass: str, compiled_setup: bool, level: int | None) -> tuple:
    """`first_call` in a fresh process (XLA's backend optimisation level `level` where given)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    if level is not None:
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_backend_optimization_level={level}".strip()
    command = [sys.executable, __file__, "--one", side, kernel, mass] + (["--compiled-setup"] * compiled_setup)
    *numbers, digest = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout.split()[-5:]
    return (*(float(v) for v in numbers), digest)


def first_call_table(repeats: int, levels: bool) -> None:
    """Each (side, kernel, variant) `repeats` times, alternating, each in a fresh process; medians and ratios.
    Variants: srmc's setup as it is and compiled (``levels`` False), or XLA's backend optimisation level at its
    default, 2 and 1 for every program of the process (``levels`` True)."""
    import statistics

    variants = ([("", False, None), (" (setup compiled)", True, None)] if not levels else
                [(" (XLA default)", False, None), (" (XLA level 2)", False, 2), (" (XLA level 1)", False, 1)])
    measured = [(kernel, mass, side, label, compiled, level) for kernel, mass, _, _ in FIRST_CALL_CASES
                for side in ("blackjax", "base", "default") for label, compiled, level in variants
                if not (side == "blackjax" and compiled)]  # BlackJAX has no setup to compile
    found: dict = collections.defaultdict(list)
    for _ in range(repeats):
        for kernel, mass, side, label, compiled, level in measured:
            found[side, kernel, label].append(_measure(side, kernel, mass, compiled, level))
    print(f"first call in a fresh process, {FIRST_CALL_CHAINS} chains, median of {repeats}; "
          f"{jax.devices()[0].platform}, jax {jax.__version__}")
    print(f"{'kernel':<8}{'mass':<10}{'program':<30}{'compile s':>10}{'wall s':>8}{'again s':>8}{'programs':>9}"
          f"{'x blackjax':>11}  same bits as the first variant")
    for kernel, mass, side, label, _, _ in measured:
        rows = found[side, kernel, label]
        median = [statistics.median(r[i] for r in rows) for i in range(4)]
        reference = statistics.median(r[0] for r in found["blackjax", kernel, label if levels else ""])
        same = {r[4] for r in rows} == {r[4] for r in found[side, kernel, variants[0][0]]}
        print(f"{kernel:<8}{mass:<10}{side + label:<30}{median[0]:>10.2f}{median[1]:>8.2f}{median[2]:>8.2f}"
              f"{median[3]:>9.0f}{median[0] / reference:>11.2f}  {'yes' if same else 'NO'}")
    print("setup compiled, XLA levels: what-ifs (draws change in their last bits), not what srmc does")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="correlated_gaussian")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--tilts", default="score,linear,bounded")
    parser.add_argument("--alphas", default="0,1,10")
    parser.add_argument("--repeat", action="store_true", help="run the job twice; the second run should compile "
                        "nothing")
    parser.add_argument("--fusion-check", action="store_true", dest="fusion_check",
                        help="only show that compiling float operations together changes their last bits")
    parser.add_argument("--first-call", action="store_true", dest="first_call",
                        help="only the first call's compile time in fresh processes, against BlackJAX, with srmc's "
                        "setup as it is and compiled (a what-if)")
    parser.add_argument("--backend-levels", action="store_true", dest="backend_levels",
                        help="only the first call in fresh processes at XLA's default backend optimisation level "
                        "and at levels 2 and 1 (a what-if)")
    parser.add_argument("--repeats", type=int, default=3, help="--first-call, --backend-levels: fresh processes "
                        "per measurement")
    parser.add_argument("--one", nargs=3, metavar=("SIDE", "KERNEL", "MASS"), help=argparse.SUPPRESS)
    parser.add_argument("--compiled-setup", action="store_true", dest="compiled_setup", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        first_call(*args.one, args.compiled_setup)
        return
    if args.first_call or args.backend_levels:
        first_call_table(args.repeats, args.backend_levels)
        return
    if args.fusion_check:
        fusion_check()
        return
    jax.config.update("jax_log_compiles", True)  # here only: never at import time
    profile = Profile()
    jax.monitoring.register_event_duration_secs_listener(profile.on_duration)
    listen(profile)
    instrument(profile)

    from srmc.tools import cli

    command = ["bench", args.target, "--kernel", "mala", "--alpha", args.alphas, "--tilt", args.tilts, "--steps",
               str(args.steps), "--replicates", str(args.replicates), "--quiet"]

    def job() -> float:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the job's own table is not what this measures
            cli.main(command)
        return time.perf_counter() - start

    print(f"main job: srmc {' '.join(command)}; {jax.devices()[0].platform}, jax {jax.__version__}")
    wall = job()
    first = report(profile, "first run", wall)
    totals = f"first run: {first[0]} XLA compiles, {first[1]:.1f} s compiling of {wall:.1f} s"
    if args.repeat:
        profile.reset()
        wall = job()
        second = report(profile, "second identical run in the same process", wall)
        totals += f"; second identical run: {second[0]} XLA compiles, {second[1]:.2f} s of {wall:.1f} s"
    print(totals)


if __name__ == "__main__":
    main()

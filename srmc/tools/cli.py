"""The `srmc` command line: list targets, sample one, benchmark alpha against the base kernel.

    srmc --version
    srmc targets [NAME ...]                        # names alone: instant; with NAMEs: kind, dim, ground truth
    srmc run TARGET --kernel mala --alpha 1 --steps 2000 --chains 16
    srmc run TARGET ... --save result.npz          # srmc.load_result("result.npz") reads it back
    srmc run TARGET ... --checkpoint run.ckpt      # Ctrl-C stops it (exit code 130); add --resume to continue
    srmc bench TARGET --kernel mala --alpha 0,1,5,10 --tilt score,linear --steps 5000 --replicates 100 --out DIR
    srmc bench path/to/model.py:model --alpha 0,1,10          # a NumPyro model function in a file
    srmc bench path/to/file.py:logp --dim 5 --alpha 0,1,10    # logp(x) -> log density of a flat vector x (D,)

TARGET is a registered name (`srmc targets`) or ``path/to/file.py:function`` (see `target_from_file`).

Bad arguments exit with code 2 and a message naming the argument (with the closest valid name when one was
misspelled); ``--help`` of every command shows each option's default. Ctrl-C exits with code 130 and one line (naming
the checkpoint to resume from, when there is one).

The command turns on JAX's persistent compilation cache (`srmc.enable_compilation_cache`: ``~/.cache/srmc/jax``,
or ``$SRMC_CACHE_DIR``; ``SRMC_NO_COMPILATION_CACHE=1`` turns it off), so a second run of the same command skips
most of its compilation.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import importlib.util
import inspect
import pathlib
import sys
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

import srmc
from srmc import samplers, targets
from srmc.engine import distributed
from srmc.engine.health import grouped_lines
from srmc.engine.warmup import DEFAULT_WARMUP
from srmc.method.kernels import LIBRARY_KERNELS, check_fits, library_kernel, space_word
from srmc.method.tilt import GRADIENTS, TILTS
from srmc.samplers.spec import KernelSpec
from srmc.tools import graph_benchmark
from srmc.tools.benchmark import (
    BenchmarkReport,
    format_coverage_table,
    format_table,
    save_report,
    tilt_alpha_warmup,
    variance_benchmark,
)
from srmc.tools.coverage import mixture_modes


def available_kernels() -> list[str]:
    """Names of the built-in kernels (`srmc.samplers.KERNELS`)."""
    return sorted(module.spec.name for module in samplers.KERNELS)


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` with the closest of `choices` to a misspelled `name`, else ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def kernel_spec(name: str) -> KernelSpec:
    """The record of the built-in kernel `name` or of a library kernel (``nuts``: BlackJAX's), or a ValueError
    listing the choices."""
    for module in samplers.KERNELS:
        if module.spec.name == name:
            return module.spec
    library = library_kernel(name)
    if library is not None:
        return library
    choices = [*available_kernels(), *LIBRARY_KERNELS]
    raise ValueError(f"--kernel {name!r} is unknown{did_you_mean(name, choices)}; choose from {', '.join(choices)}.")


KERNEL_OPTIONS = ("step_size", "num_integration_steps", "damping")  # parameters with their own --flag


def parse_pairs(pairs: Sequence[str], option: str) -> dict:
    """``["k=v", ...]`` as a dict, values read as Python literals where they parse (else kept as strings)."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} expects key=value, got {pair!r}.")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def parse_alphas(text: str) -> list[float]:
    """``"0,1,5,10"`` as distinct finite numbers >= 0, in the order given."""
    try:
        alphas = [float(item) for item in text.split(",")]
    except ValueError:
        raise ValueError(f"--alpha expects comma-separated numbers >= 0 (e.g. 0,1,10), got {text!r}.") from None
    if any(not (a >= 0 and a != float("inf")) for a in alphas):
        raise ValueError(f"--alpha values must be finite and >= 0, got {text!r}.")
    return list(dict.fromkeys(alphas))


def parse_tilts(text: str) -> list[str]:
    """``"score,linear"`` as a list of known tilts."""
    tilts = list(dict.fromkeys(item.strip() for item in text.split(",")))
    unknown = [tilt for tilt in tilts if tilt not in TILTS]
    if unknown:
        raise ValueError(f"--tilt must be a comma-separated list of {', '.join(TILTS)}; got {text!r}.")
    return tilts


def kernel_from_args(args: argparse.Namespace, target: targets.Target) -> tuple[KernelSpec, dict]:
    """(kernel record, parameters) from --kernel, its options and --kernel-param, checked against the target.

    Parameters not given start from the record's suggested values (``Parameter.suggested``).
    """
    spec = kernel_spec(args.kernel)
    try:
        check_fits(spec, target)
    except ValueError as error:
        raise ValueError(f"--kernel {args.kernel} samples {space_word(spec.state_space)} targets: {error}") from None
    accepted = spec.parameter_names
    params = {p.name: p.suggested for p in spec.parameters if p.suggested is not None and not p.from_target}
    for name in KERNEL_OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            if name not in accepted:
                raise ValueError(f"--{name.replace('_', '-')}: kernel {args.kernel} takes no {name} "
                                 f"(its parameters: {', '.join(accepted) or 'none'}).")
            params[name] = value
    extra = parse_pairs(args.kernel_param, "--kernel-param")
    unknown = sorted(set(extra) - set(accepted))
    if unknown:
        raise ValueError(f"--kernel-param {', '.join(unknown)}{did_you_mean(unknown[0], accepted)}: kernel "
                         f"{args.kernel} takes {', '.join(accepted) or 'no parameters'}.")
    params.update(extra)
    return spec, params


def describe_parameters(name: str) -> str:
    """``key=default, ...`` of target `name`'s factory ('no parameters' when it has none)."""
    shown = [key if default is inspect.Parameter.empty else f"{key}={default!r}"
             for key, default in targets.parameters(name).items()]
    return ", ".join(shown) or "no parameters"


def requirement_note(requirement: targets.base.Requirement) -> str:
    """``needs sklearn: pip install ...`` for a target whose optional package is missing."""
    return f"needs {requirement.module}: {requirement.install}"


def is_file_target(text: str) -> bool:
    """Whether a TARGET argument names a file (``path/to/file.py:function`` or ``path/to/file.py``)."""
    return text.rpartition(":")[0].endswith(".py") or text.endswith(".py")


def load_module(path: pathlib.Path) -> Any:
    """Run the Python file `path` as a fresh module (its folder is on sys.path only while it runs, so that it can
    import its neighbours); its errors become a ValueError naming the file."""
    name = f"srmc_user_target_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise ValueError(f"TARGET {str(path)!r}: running the file failed: {type(error).__name__}: {error}") from error
    finally:
        sys.path.remove(folder)
    return module


def numpyro_sample_sites(function: Callable, kwargs: dict) -> list[str] | None:
    """Names of the sample sites `function(**kwargs)` records under NumPyro's trace handler; None when NumPyro is
    not installed or calling it that way fails (e.g. a log density, which needs its position)."""
    try:
        from numpyro import handlers
    except ImportError:
        return None
    try:
        trace = handlers.trace(handlers.seed(function, 0)).get_trace(**kwargs)
    except Exception:
        return None
    return [name for name, site in trace.items() if site["type"] == "sample"]


def target_from_file(text: str, dim: int | None = None) -> targets.Target:
    """The target of a ``path/to/file.py:function`` TARGET argument.

    The file is run as a module (`load_module`). When calling ``function(**data)`` (``data``: a dict the file
    may define at module level, the model's keyword arguments, e.g. its observations; else no arguments) under
    ``numpyro.handlers.trace`` records sample sites, the function is a NumPyro model and the target is
    ``targets.from_numpyro(function, **data)`` (on NumPyro's unconstrained space; `dim` is not needed, and must
    match when given). Otherwise ``function(x)`` must return the scalar log density of a flat vector ``x`` of
    length `dim` (``--dim``): the target is ``targets.from_logdensity(function, dim)``, score by ``jax.grad``, no
    ground truth, chains started from N(0, I) draws (then moved by the warm-up, ``--warmup``).
    """
    path_text, _, function_name = text.rpartition(":")
    if not path_text:
        raise ValueError(f"TARGET {text!r} names a file but no function: write path/to/file.py:function, e.g. "
                         f"{text}:model (a NumPyro model) or {text}:logp --dim D (a log density).")
    path = pathlib.Path(path_text).expanduser()
    if not path.is_file():
        raise ValueError(f"TARGET {text!r}: no file {str(path)!r} (TARGET is a registered name, see `srmc targets`, "
                         "or path/to/file.py:function).")
    if not function_name.isidentifier():
        raise ValueError(f"TARGET {text!r}: {function_name!r} is not a function name (write path/to/file.py:function).")
    module = load_module(path)
    function = getattr(module, function_name, None)
    if not callable(function):
        defined = sorted(key for key, value in vars(module).items()
                         if inspect.isfunction(value) and value.__module__ == module.__name__)
        what = "is not a function" if function is not None else "is not defined"
        raise ValueError(f"TARGET {text!r}: {function_name!r} {what} in {path}; the file defines the functions "
                         f"{', '.join(defined) or '(none)'}.")
    data = getattr(module, "data", None)
    kwargs = data if isinstance(data, dict) else {}
    name = f"{path.name}:{function_name}"
    sites = numpyro_sample_sites(function, kwargs)
    if sites:
        target = targets.from_numpyro(function, name=name, **kwargs)
        if dim is not None and dim != target.dim:
            raise ValueError(f"--dim {dim}: {name} is a NumPyro model whose unconstrained latent vector has length "
                             f"{target.dim}; leave --dim out (a NumPyro model does not need it).")
        return target
    if dim is None:
        raise ValueError(f"--dim is missing: {name} is not a NumPyro model (calling it with no arguments recorded no "
                         "sample site), so it is read as a log density logp(x) of a flat vector x; pass --dim D, the "
                         "length of x. (A NumPyro model that takes arguments: define data = {'name': value, ...} in "
                         "the file with its keyword arguments.)")
    try:
        out = jax.eval_shape(function, jax.ShapeDtypeStruct((dim,), jnp.zeros(()).dtype))
    except Exception as error:
        raise ValueError(f"TARGET {name}: calling {function_name}(x) with x of shape ({dim},) failed "
                         f"({type(error).__name__}: {error}); it must take one flat vector of length --dim {dim} and "
                         "return its log density, written with jax.numpy.") from error
    shape = getattr(out, "shape", None)
    if shape != ():
        returned = f"shape {shape}" if shape is not None else repr(out)
        raise ValueError(f"TARGET {name}: {function_name}(x) returned {returned}; it must return the scalar log "
                         "density of x (e.g. sum the per-coordinate terms).")
    target = targets.from_logdensity(function, dim, name=name)
    probe = target.initial_position(jax.random.key(0), 8)
    values, scores = jax.vmap(target.value_and_score)(probe)
    if not (bool(jnp.all(jnp.isfinite(values))) and bool(jnp.all(jnp.isfinite(scores)))):
        raise ValueError(f"TARGET {name}: the log density or its gradient is not finite at some N(0, I) starting "
                         "points; chains start there and srmc samples all of R^D: reparametrise constrained "
                         "parameters (e.g. log of a scale) or write the model in NumPyro (it does this itself).")
    return target


def get_target(args: argparse.Namespace) -> targets.Target:
    """The target named on the command line, built with its --param values, or read from a file (`target_from_file`).

    An unknown name or parameter is refused with the valid ones; a target whose optional package is missing
    with its install command.
    """
    params = parse_pairs(args.param, "--param")
    dim = getattr(args, "dim", None)
    if is_file_target(args.target):
        if params:
            raise ValueError(f"--param is for registered targets; {args.target} takes its values from the file "
                             "(a NumPyro model: its module-level data = {...}).")
        return target_from_file(args.target, dim)
    if dim is not None:
        raise ValueError(f"--dim is for a log density read from a file (path/to/file.py:logp --dim D); registered "
                         f"target {args.target} takes its size from --param (e.g. --param dim={dim}) if it has one.")
    if args.target not in targets.names():
        raise ValueError(f"unknown target {args.target!r}{did_you_mean(args.target, targets.names())}; "
                         f"`srmc targets` lists them: {', '.join(targets.names())}.")
    valid = targets.parameters(args.target)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"--param {', '.join(unknown)}{did_you_mean(unknown[0], valid)}: target {args.target} "
                         f"takes {describe_parameters(args.target)}.")
    missing = targets.missing_requirement(args.target)
    if missing is not None:
        raise ValueError(f"target {args.target} {requirement_note(missing)}")
    return targets.get(args.target, **params)


def ground_truth_note(target: targets.Target) -> str:
    """What is known about a target: exact or reference moments, an exact sampler, mixture modes."""
    truth = target.ground_truth
    notes = ["none" if truth is None else ("exact moments" if truth.exact else "reference run")]
    if target.sample is not None:
        notes.append("exact sampler")
    modes = mixture_modes(target)
    if modes is not None:
        notes.append(f"{len(modes[0])} modes")
    return ", ".join(notes)


def cmd_targets(args: argparse.Namespace) -> None:
    """Print the registry: without names, every target's name, parameters and description at once (nothing is
    built); with names, those targets built, with kind, dim, what ground truth is known and description."""
    unknown = sorted(set(args.names) - set(targets.names()))
    if unknown:
        raise ValueError(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(targets.names())}.")
    if not args.names:
        rows = [(name, describe_parameters(name), _availability(name)) for name in targets.names()]
        print(format_rows(("name", "parameters", "description"), rows), flush=True)
        print("srmc: kind, dim and ground truth of some targets: srmc targets NAME [NAME ...] (builds them)",
              file=sys.stderr)
        return
    rows = []
    for name in args.names:
        missing = targets.missing_requirement(name)
        if missing is not None:  # listed, not built: its factory needs a package that is not installed
            rows.append((name, "?", "?", requirement_note(missing), targets.describe(name)))
            continue
        target = targets.get(name)
        rows.append((name, target.kind, str(target.dim), ground_truth_note(target), targets.describe(name)))
    print(format_rows(("name", "kind", "dim", "ground truth", "description"), rows, right=(2,)), flush=True)


def _availability(name: str) -> str:
    """The target's description, prefixed with the install command when its optional package is missing."""
    missing = targets.missing_requirement(name)
    return targets.describe(name) if missing is None else f"({requirement_note(missing)}) {targets.describe(name)}"


def format_rows(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """`rows` under `header` in columns as wide as their widest cell (two spaces apart; the last column is not
    padded; the columns numbered in `right` are right-aligned)."""
    table = [list(header)] + [list(row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        return "  ".join(cells + [row[-1]])

    return "\n".join(line(row) for row in table)


def _alpha_warmup_words(alpha_warmup: int | None) -> str:
    if alpha_warmup is not None:
        return f"{alpha_warmup} steps"
    return "per tilt (score, linear: 500 steps; bounded, second_order: their ramp)"


def _alpha(args: argparse.Namespace, alpha: float):
    steps = tilt_alpha_warmup(args.tilt, args.alpha_warmup)
    return srmc.schedules.linear_warmup(alpha, steps) if steps and alpha else alpha


def cmd_run(args: argparse.Namespace) -> None:
    """Sample one target and print the summary table."""
    if args.thin is not None and args.thin > args.steps:
        raise ValueError(f"--thin {args.thin} is more than --steps {args.steps}: no draw would be stored (one is "
                         f"stored every --thin counted steps); pass --thin <= {args.steps}.")
    checkpoint, save = run_files(args)
    start_processes(args)  # before any other JAX computation
    target = get_target(args)
    kernel, params = kernel_from_args(args, target)
    if args.alpha == 0:
        algorithm = srmc.base(kernel, **params)
    else:
        algorithm = srmc.wrap(kernel, alpha=_alpha(args, args.alpha), tilt=args.tilt, gradient=args.gradient,
                              **params)
    options = srmc.RunOptions(burn_in=args.burn_in, thin=args.thin, progress=not args.quiet and None,
                              devices=args.devices)
    result = srmc.sample(jax.random.key(args.seed), algorithm, target, args.steps, args.chains, warmup=args.warmup,
                         options=options, checkpoint=checkpoint)
    truth = None if target.ground_truth is None else target.ground_truth.mean
    if distributed.is_writer():  # every process has the whole result; one prints it
        print(result.summary(max_rows=args.rows, truth=truth))
        if save is not None:
            print(f"saved the result to {result.save(save)} (srmc.load_result reads it)")


def run_files(args: argparse.Namespace) -> tuple[srmc.Checkpointing | None, pathlib.Path | None]:
    """(the checkpointing of --checkpoint / --resume, the --save path), checked before anything runs: a ValueError
    names the option and the fix (a --save file that exists, --resume without a checkpoint to continue, ...)."""
    save = None
    if args.save is not None:
        save = pathlib.Path(args.save).expanduser()
        written = save if save.suffix == ".npz" else save.with_name(save.name + ".npz")
        if written.exists():
            raise ValueError(f"--save {args.save}: {written} exists already; remove it or choose another path.")
        if not written.parent.is_dir():
            raise ValueError(f"--save {args.save}: the folder {written.parent} does not exist.")
    if args.checkpoint is None:
        if args.resume:
            raise ValueError("--resume continues the run stored in --checkpoint PATH; give --checkpoint too.")
        return None, save
    path = pathlib.Path(args.checkpoint).expanduser()
    if args.resume and not path.is_file():
        raise ValueError(f"--resume: no checkpoint at --checkpoint {args.checkpoint}; leave out --resume to start "
                         "a fresh run that writes it.")
    if not args.resume and path.exists():
        raise ValueError(f"--checkpoint {args.checkpoint} exists already (a run written there): add --resume to "
                         "continue it (same command), or remove the file to start afresh.")
    if not path.parent.is_dir():
        raise ValueError(f"--checkpoint {args.checkpoint}: the folder {path.parent} does not exist.")
    return srmc.Checkpointing(path, every=args.checkpoint_every, resume=args.resume), save


def start_processes(args: argparse.Namespace) -> None:
    """With ``--distributed``: join the other processes (`jax.distributed.initialize`); a ValueError says how."""
    explicit = {"--coordinator-address": args.coordinator_address, "--num-processes": args.num_processes,
                "--process-id": args.process_id}
    given = [option for option, value in explicit.items() if value is not None]
    if not args.distributed:
        if given:
            raise ValueError(f"{', '.join(given)} only apply with --distributed; add --distributed (and "
                             "--devices all to shard the chains over every process's devices).")
        return
    try:
        distributed.initialize(args.coordinator_address, args.num_processes, args.process_id)
    except RuntimeError as error:
        raise ValueError(f"--distributed: {error} With this command: --coordinator-address HOST:PORT "
                         "--num-processes N --process-id I (or run it under srun or mpirun).") from None


def _devices(text: str) -> int | str:
    """An argparse type for --devices: 'all' or a positive number of devices."""
    return "all" if text == "all" else _positive_int(text)


def bench_header(report: BenchmarkReport, params: dict) -> str:
    """Two lines saying what a benchmark table shows."""
    s = report.settings
    burn_in = f" (+{s['burn_in']} burn-in)" if s["burn_in"] else ""
    if report.truth_mean is None:
        return (
            f"{s['target']}, {s['kernel']} {params}, {s['num_replicates']} replicates x {s['num_steps']} steps"
            f"{burn_in}, warm-up {s.get('warmup', 0)} steps, alpha warm-up {_alpha_warmup_words(s['alpha_warmup'])}, "
            "ground truth: "
            f"none (keys {s.get('replicate_keys', 'shared by all configurations')})\n"
            "Var = variance across replicates of the running mean of x (averaged over coordinates) +/- se; Var ratio "
            "= base Var / Var +/- se (> 1: lower variance than the base kernel; variance only, not bias); bias z = "
            "(mean - base mean) / combined se at the coordinate of largest |z| (|z| > 4: the estimate differs from "
            "the base kernel's); x^2 ratio, z x^2: the same for x^2; n*Var = steps x Var; ms/step: all replicates, "
            "compilation excluded; compile s: seconds compiling (the alphas of a tilt share one program); "
            "logp/grad/hvp: evaluations per chain-step"
        )
    return (
        f"{s['target']}, {s['kernel']} {params}, {s['num_replicates']} replicates x {s['num_steps']} steps{burn_in}, "
        f"warm-up {s.get('warmup', 0)} steps, alpha warm-up {_alpha_warmup_words(s['alpha_warmup'])}, ground truth: "
        f"{s['ground_truth']}\n"
        "MSE of the running means of x and x^2 (averaged over coordinates); ratio = first row's MSE / MSE; "
        "n*Var = steps x variance across replicates; ms/step: all replicates, compilation excluded; compile s: "
        "seconds compiling (the alphas of a tilt share one program); "
        "logp/grad/hvp: evaluations per chain-step (discrete targets: grad counts the score's evaluations)"
    )


def cmd_bench(args: argparse.Namespace) -> None:
    """Replicate-based MSE (with ground truth) or variance ratio and bias z against the base kernel (without) for
    each alpha (0 = base kernel): table, JSON and plots."""
    alphas, tilts = parse_alphas(args.alpha), parse_tilts(args.tilt)
    if args.replicates < 2:
        raise ValueError(f"--replicates must be >= 2 (the MSE's standard error needs a spread), got {args.replicates}.")
    target = get_target(args)
    if graph_benchmark.is_graph_target(target):  # SRRW / HDT (srmc.tools.graph_benchmark)
        kernel_given = any(a == "--kernel" or a.startswith("--kernel=") for a in getattr(args, "argv", ()))
        graph_benchmark.bench_from_args(args, target, alphas, kernel_given)
        return
    graph_benchmark.refuse_graph_flags(args)
    kernel, params = kernel_from_args(args, target)
    out = None if args.out is None else pathlib.Path(args.out)
    if out is not None and out.exists() and not out.is_dir():
        raise ValueError(f"--out {args.out!r} exists and is not a directory.")
    report = variance_benchmark(
        jax.random.key(args.seed), target, kernel, params, alphas, num_steps=args.steps,
        num_replicates=args.replicates, tilts=tilts, gradient=args.gradient, alpha_warmup=args.alpha_warmup,
        burn_in=args.burn_in, progress=not args.quiet and None, warmup=args.warmup,
        independent_keys=args.independent_keys, control_variates=args.control_variates,
    )
    report.settings.update(seed=args.seed, target_params=parse_pairs(args.param, "--param"),
                           command="srmc " + " ".join(args.argv))
    print(bench_header(report, params))
    print(format_table(report.rows), flush=True)
    for note in report.settings.get("notes", ()):
        print(f"note: {note}")
    if any(run.coverage is not None for run in report.runs):
        print(f"mode coverage (a draw within 4 component sd of a mode visits it; draws every {report.settings['thin']} "
              "steps; TV of mode occupancy against the weights, averaged over replicates)")
        print(format_coverage_table(report.runs), flush=True)
    labelled = [(f"{run.row.label} alpha={run.row.alpha:g}", line) for run in report.runs for line in run.warnings]
    for line in grouped_lines(labelled):  # one line per warning code, naming the configurations it concerns
        print(line)
    if out is not None:
        for path in write_outputs(report, out):
            print(f"wrote {path}")


def write_outputs(report: BenchmarkReport, directory: pathlib.Path) -> list[pathlib.Path]:
    """bench.json and, when matplotlib is installed, the PNG plots, in `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [save_report(report, directory / "bench.json")]
    try:
        from srmc.tools import plots

        written += plots.save_plots(report, directory)
    except ImportError as error:
        print(f"srmc: no plots written ({error}); pip install \"srmc[plots]\"", file=sys.stderr)
    return written


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= `minimum`, else a message naming what was given."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


_positive_int, _non_negative_int = _int_at_least(1), _int_at_least(0)


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help with every option's default: appended as ``(default: ...)``, or said in the help text when the
    default is None or empty (e.g. "the kernel's suggested value")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, [], argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An argument parser whose --help shows the defaults and whose unknown options get the closest valid one.

    `parse_known_args` refuses leftover arguments itself (exit code 2), naming for each misspelled option the
    closest option of the (sub)command that read it.
    """

    def __init__(self, *args, **kwargs) -> None:
        self.option_names: list[str] = []
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        """`argparse.ArgumentParser.add_argument`, remembering the option strings for suggestions."""
        action = super().add_argument(*args, **kwargs)
        self.option_names += [name for name in action.option_strings if name.startswith("--")]
        return action

    def parse_known_args(self, args=None, namespace=None):
        """Parse `args`; leftover arguments are an error naming the closest valid option of each."""
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            hints = "".join(self.closest_option(extra) for extra in extras if extra.startswith("--"))
            self.error(f"unrecognized arguments: {' '.join(extras)}{hints}")
        return namespace, extras

    def closest_option(self, given: str) -> str:
        """``; did you mean --steps (not --stpes)?`` for a misspelled option, '' when nothing is close."""
        name = given.split("=")[0]
        by_name = {option[2:]: option for option in self.option_names}
        close = difflib.get_close_matches(name[2:], list(by_name), n=1, cutoff=0.7)
        return f"; did you mean {by_name[close[0]]} (not {name})?" if close else ""


def suggested_values(parameter: str) -> str:
    """``mala 0.05, hmc 0.15, ...``: each built-in kernel's suggested value of `parameter`."""
    return ", ".join(f"{module.spec.name} {p.suggested}" for module in samplers.KERNELS
                     for p in module.spec.parameters if p.name == parameter and p.suggested is not None)


def _add_sampler_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="registered target name (see `srmc targets`), or path/to/file.py:function: a "
                                       "NumPyro model, or a log density logp(x) of a flat vector (with --dim)")
    parser.add_argument("--dim", type=_positive_int,
                        help="length of x for a log density read from a file (path/to/file.py:logp; default: none)")
    parser.add_argument("--param", action="append", default=[],
                        help="target parameter key=value (repeatable; default: the target's defaults, listed when a "
                             "key is wrong)")
    parser.add_argument("--kernel", default="mala",
                        help=f"base kernel: {', '.join([*available_kernels(), *LIBRARY_KERNELS])} (nuts: BlackJAX's "
                             "NUTS, recommended for NumPyro models)")
    parser.add_argument("--kernel-param", action="append", default=[], dest="kernel_param",
                        help="any other kernel parameter key=value (repeatable), e.g. scan=systematic (default: "
                             "the kernel's suggested values)")
    parser.add_argument("--tilt", default="bounded",
                        help="bounded (srmc.wrap's safe choice), score (the SRMC paper's), linear or second_order "
                             "(continuous targets; bench: a comma-separated list)")
    parser.add_argument("--gradient", default="exact", choices=GRADIENTS,
                        help="score tilt's proposal gradient: exact (Hessian-vector product) or shifted")
    parser.add_argument("--alpha-warmup", type=_non_negative_int, default=None,
                        help="linear warm-up of alpha over this many steps (0: constant alpha); default: 500 for the "
                             "score and linear tilts, none for bounded (it ramps alpha as n / (100 + n / alpha))")
    parser.add_argument("--warmup", type=_non_negative_int, default=DEFAULT_WARMUP,
                        help="steps of the base kernel on the target before anything is counted, adapting its step "
                             "size and inverse mass matrix (0: none, the kernel runs with the given parameters)")
    for name, kind in (("step_size", float), ("num_integration_steps", _positive_int), ("damping", float)):
        start = " (with --warmup: where the adaptation starts)" if name == "step_size" else ""
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, dest=name,
                            help=f"the kernel's {name}{start} (default: its suggested value: {suggested_values(name)})")
    parser.add_argument("--steps", type=_positive_int, default=2000, help="counted steps per chain")
    parser.add_argument("--burn-in", type=_non_negative_int, dest="burn_in", help="steps left out of the estimates")
    parser.add_argument("--seed", type=int, default=0, help="the PRNG seed (jax.random.key(seed))")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--x64", action="store_true",
                        help="compute in float64 (jax.enable_x64), as Stan does: for Gaussian processes and other "
                             "models that factorise nearly singular matrices (default: JAX's float32)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `srmc` command."""
    parser = Parser(prog="srmc", description="Score-Repellent Monte Carlo in JAX")
    parser.add_argument("--version", action="version", version=f"srmc {srmc.__version__} (jax {jax.__version__})")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("targets", help="list the target registry")
    listing.add_argument("names", nargs="*", help="only these targets (default: all)")
    listing.set_defaults(func=cmd_targets)
    run = commands.add_parser("run", help="sample a target and print the summary")
    _add_sampler_options(run)
    run.add_argument("--alpha", type=float, default=1.0, help="repellence strength (0: the base kernel alone)")
    run.add_argument("--chains", type=_positive_int, default=16, help="independent chains (vmapped)")
    run.add_argument("--thin", type=_positive_int, default=10,
                     help="store every THIN-th counted step's position (for ESS and R-hat); at most --steps")
    run.add_argument("--rows", type=_positive_int, default=10, help="rows of the summary table")
    run.add_argument("--devices", type=_devices, default=None,
                     help="shard the chains over N devices, or 'all' (every device of every process with "
                          "--distributed); --chains must be a multiple of their number (default: one device)")
    run.add_argument("--distributed", action="store_true",
                     help="call jax.distributed.initialize() first (SLURM and Open MPI are detected; else give "
                          "the three options below); every process runs the same command, process 0 prints")
    run.add_argument("--coordinator-address", dest="coordinator_address",
                     help="with --distributed: host:port of process 0 (default: detected from the cluster)")
    run.add_argument("--num-processes", type=_positive_int, dest="num_processes",
                     help="with --distributed: the number of processes (default: detected)")
    run.add_argument("--process-id", type=_non_negative_int, dest="process_id",
                     help="with --distributed: this process's id in 0..N-1 (default: detected)")
    run.add_argument("--save", help="write the result to this .npz file (srmc.load_result reads it; default: none)")
    run.add_argument("--checkpoint", help="write the run's whole state to this file between chunks (default: none); "
                                          "after Ctrl-C or a crash, the same command with --resume continues it")
    run.add_argument("--checkpoint-every", type=_positive_int, dest="checkpoint_every",
                     help="steps between checkpoints (default: after every chunk)")
    run.add_argument("--resume", action="store_true",
                     help="continue the run stored in --checkpoint (same command; the result is bit-identical)")
    run.set_defaults(func=cmd_run, burn_in=500)
    bench = commands.add_parser("bench", help="MSE vs alpha over independent replicates: table, JSON, plots")
    _add_sampler_options(bench)
    bench.add_argument("--alpha", default="0,1,10", help="comma-separated alphas; 0 is the base kernel")
    bench.add_argument("--replicates", type=_positive_int, default=100, help="independent chains (vmapped)")
    bench.add_argument("--out", help="directory for bench.json and the PNG plots (default: none written)")
    bench.add_argument("--independent-keys", action="store_true", dest="independent_keys",
                       help="fresh keys and starts per configuration (default: all share them, which makes the "
                            "variance ratio's and bias z's standard errors conservative when runs correlate)")
    bench.add_argument("--control-variates", action="store_true", dest="control_variates",
                       help="add a row base+cv: the base kernel's run corrected after the fact by its scores "
                            "(srmc.tools.control_variates), SRMC's first-order limit without SRMC")
    bench.add_argument("--method", help="graph targets: comma-separated base, srrw, hdt (default: all three; "
                                        "--kernel there is mhrw, nbrw or mtm, default mhrw)")
    bench.add_argument("--cache", help="graph targets: HDT's LRU variant keeping these fractions of the nodes, e.g. "
                                       "0.1,0.2 (default: none)")
    bench.add_argument("--alpha-ramp", type=float, dest="alpha_ramp",
                       help="graph targets: alpha_n = alpha min(1, n / W) over W steps (default: constant alpha)")
    bench.add_argument("--step-exponent", type=float, dest="step_exponent",
                       help="graph targets: the history's step gamma_n = (n + 1)^-a, a in (1/2, 1] (default: 1)")
    bench.set_defaults(func=cmd_bench, burn_in=0)
    from srmc.tools.reproduce.cli import add_parser as add_reproduce_parser  # `srmc reproduce ...` lives there

    add_reproduce_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, compilation_cache: bool | None = None) -> int:
    """Entry point of the `srmc` console script; returns the exit code (2 for bad arguments, 130 after Ctrl-C).

    `compilation_cache`: turn on JAX's persistent compilation cache (`srmc.enable_compilation_cache`, which
    ``SRMC_NO_COMPILATION_CACHE=1`` turns off); None (the default): on when run as the command (`argv` None), off
    when called with arguments (as the tests do: it is a process-wide JAX setting).
    """
    console = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message
        return int(exit_.code or 0)
    args.argv = argv
    if console if compilation_cache is None else compilation_cache:
        from srmc.engine.compilation_cache import enable_compilation_cache

        enable_compilation_cache()
    precision = jax.enable_x64(True) if getattr(args, "x64", False) else contextlib.nullcontext()
    try:
        with precision:
            args.func(args)
    except (ValueError, TypeError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"srmc: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted_line(args), file=sys.stderr)
        return 130
    return 0


def interrupted_line(args: argparse.Namespace) -> str:
    """The one line Ctrl-C prints: where the run can be continued from, if anywhere."""
    path = getattr(args, "checkpoint", None)
    if path is None or not pathlib.Path(path).expanduser().is_file():
        hint = (" (srmc run --checkpoint PATH writes a checkpoint that --resume continues)" if args.command == "run"
                else "")
        return f"srmc: interrupted; nothing was saved{hint}."
    again = [arg for arg in args.argv if arg != "--resume"] + ["--resume"]
    return f"srmc: interrupted; checkpoint {path} holds the run so far: continue with srmc {' '.join(again)}"


if __name__ == "__main__":
    sys.exit(main())

"""The `srmc reproduce EXPERIMENT --out DIR [--quick]` subcommand (hooked into `srmc.tools.cli`)."""

from __future__ import annotations

import argparse
import importlib

from srmc.tools.reproduce import EXPERIMENTS

HELP = {
    "figure2": "the paper's continuous alpha sweep: {MALA, HMC} x {correlated Gaussian, synthetic logistic}",
    "figure1": "the paper's metastability demo (ULA vs SRMC-ULA on a two-mode mixture) over many seeds",
    "coverage": "the paper's mode-coverage experiment on shippable centres, base ULA beside SRMC-ULA",
    "discrete": "GWG with SRMC on rbm_digits and an Ising model: relaxed-gradient vs mean-zero scores",
}


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``reproduce`` with one sub-subcommand per experiment to the `srmc` parser's subcommands."""
    reproduce = commands.add_parser("reproduce", help="reproduce the SRMC paper's experiments (figure2, figure1, "
                                                      "coverage, discrete)")
    experiments = reproduce.add_subparsers(dest="experiment", required=True)
    for name in EXPERIMENTS:
        module = importlib.import_module(f"srmc.tools.reproduce.{name}")
        parser = experiments.add_parser(name, help=HELP[name], description=(module.__doc__ or "").splitlines()[0])
        parser.add_argument("--out", required=True, help="output directory (created)")
        parser.add_argument("--quick", action="store_true", help="the tested size (not comparable with the full run)")
        module.add_arguments(parser)
        parser.set_defaults(func=module.main)
    return reproduce

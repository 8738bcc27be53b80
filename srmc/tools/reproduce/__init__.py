"""`srmc reproduce`: the SRMC paper's experiments, one command each, with the base sampler beside every claim.

    srmc reproduce figure2  --out DIR [--quick] [--x64]   # the continuous alpha sweep (MALA / HMC, 2 targets)
    srmc reproduce figure1  --out DIR [--quick]           # the metastability demo over many seeds
    srmc reproduce coverage --out DIR [--quick]           # mode coverage, base ULA beside SRMC-ULA
    srmc reproduce discrete --out DIR [--quick]           # GWG + SRMC on rbm_digits and an Ising model

Each writes ``DIR/<experiment>.json``, a markdown table ``DIR/<experiment>.md`` and PNG plots (with matplotlib),
and prints the table. The protocols are the authors' released scripts (srmc-project/Score-Repellent-Monte-Carlo
@ 07aed0e); where ours differ, the module of the experiment says how and why. ``--quick`` is the tested size
(seconds to a minute); its numbers are not comparable with the full run's.
"""

EXPERIMENTS = ("figure2", "figure1", "coverage", "discrete")

"""srmc.plots: the MSE-vs-steps plot shades the alpha warm-up (in counted steps) and returns its Axes."""

import jax
import numpy as np
import pytest

from srmc import samplers, targets
from srmc.tools.benchmark import variance_benchmark

pytest.importorskip("matplotlib")
from srmc.tools import plots  # noqa: E402  (matplotlib is optional)


@pytest.fixture(scope="module")
def report():
    """One small benchmark (base kernel and SRMC, alpha warmed up over 60 steps, no burn-in)."""
    return variance_benchmark(jax.random.key(0), targets.get("iid_gaussian", dim=2), samplers.rwm, {"step_size": 1.0},
                              [0, 2.0], num_steps=200, num_replicates=4, tilts=("linear",), alpha_warmup=60,
                              count_steps=0, warmup=0)


def with_settings(report, **settings):
    return report._replace(settings={**report.settings, **settings})


def warmup_span_range(ax):
    """(start, end) in steps of the shaded alpha warm-up, or None when nothing is shaded."""
    spans = [patch for patch in ax.patches if patch.get_label().startswith("alpha warm-up")]
    if not spans:
        return None
    (span,) = spans
    if hasattr(span, "get_width"):  # a Rectangle (matplotlib >= 3.9)
        return span.get_x(), span.get_x() + span.get_width()
    xs = np.asarray(span.get_xy())[:, 0]  # a Polygon
    return xs.min(), xs.max()


@pytest.mark.parametrize("burn_in, end", [(0, 60), (20, 40)])
def test_mse_vs_steps_shades_the_alpha_warmup(report, burn_in, end):
    report = with_settings(report, burn_in=burn_in)
    assert plots.alpha_warmup_end(report) == end
    ax = plots.plot_mse_vs_steps(report)
    assert warmup_span_range(ax) == pytest.approx((1, end))
    assert f"alpha warm-up ({end} steps)" in [text.get_text() for text in ax.get_legend().get_texts()]


def test_no_shading_without_a_warmup_in_counted_steps(report):
    base_only = report._replace(runs=report.runs[:1])
    for case in (with_settings(report, alpha_warmup=0), base_only, with_settings(report, burn_in=60)):
        assert plots.alpha_warmup_end(case) is None
        assert warmup_span_range(plots.plot_mse_vs_steps(case)) is None

"""The distribution is one import package, srmc: a user's own targets.py or samplers.py never shadows ours."""

import pathlib
import subprocess
import sys
import textwrap

import srmc

ROOT = pathlib.Path(srmc.__file__).resolve().parents[1]

USER_SCRIPT = textwrap.dedent("""
    import importlib.util, sys
    import jax
    import srmc
    from srmc import samplers, targets as srmc_targets
    import targets, samplers as user_samplers                      # the user's own files in this folder
    assert targets.MINE and user_samplers.MINE, "the user's modules must be the ones in the working folder"
    assert srmc_targets is not targets and samplers is not user_samplers
    target = srmc_targets.get("iid_gaussian", dim=2)
    result = srmc.sample(jax.random.key(0), srmc.wrap(samplers.mala, tilt="score", alpha=1.0, step_size=0.3), target, 5, 2)
    assert result.num_steps == 5
    print("ok", srmc_targets.__name__, samplers.__name__)
""")


def test_user_files_named_targets_and_samplers_do_not_shadow_srmc(tmp_path):
    (tmp_path / "targets.py").write_text("MINE = True\n")
    (tmp_path / "samplers.py").write_text("MINE = True\n")
    (tmp_path / "user.py").write_text(USER_SCRIPT)
    done = subprocess.run([sys.executable, "user.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "srmc.targets", "srmc.samplers"]


def test_no_top_level_samplers_or_targets_are_installed(tmp_path):
    probe = "import importlib.util; print(importlib.util.find_spec('samplers'), importlib.util.find_spec('targets'))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "None"]


def test_middle_layer_never_sniffs_signatures():
    """Facts about kernels come from their records (srmc.samplers.spec), never from inspect.signature.

    (`srmc.targets.parameters` lists a target factory's keyword arguments from its signature: that signature is
    the factory's declared interface, not a capability guessed from a name, so `targets/` is not scanned.)
    """
    offenders = [str(path.relative_to(ROOT)) for folder in ("srmc", "samplers")
                 for path in (ROOT / folder).rglob("*.py") if "inspect.signature" in path.read_text()]
    assert offenders == []

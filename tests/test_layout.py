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


def test_the_engine_names_no_algorithm_and_the_methods_never_import_it():
    """The run engine is generic (it reads what an algorithm declares); the algorithms never reach into it."""
    import re

    named = [f"{path.name}:{number}" for path in (ROOT / "srmc" / "engine").glob("*.py")
             for number, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"alpha|tilt|theta", line, re.I)]
    assert not named, named
    importing = [path.name for path in (ROOT / "srmc" / "method").glob("*.py")
                 if re.search(r"^\s*(from|import) srmc\.engine", path.read_text(), re.M)]
    assert not importing, importing


def _module_imports() -> dict[str, set[str]]:
    """The srmc modules each module imports, at module level or inside a function (``srmc.x.y`` names)."""
    import ast

    packages = {"srmc": ROOT / "srmc", "srmc.samplers": ROOT / "samplers", "srmc.targets": ROOT / "targets"}
    graph = {}
    for package, folder in packages.items():
        for path in folder.rglob("*.py"):
            if "__pycache__" in path.parts or (package == "srmc" and path.parts[len(folder.parts)] in ("samplers",
                                                                                                      "targets")):
                continue
            relative = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *relative)).removesuffix(".__init__")
            imported = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        parts = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                        base = ".".join(parts + ([base] if base else []))
                    imported |= {f"{base}.{alias.name}" for alias in node.names} | {base}
                elif isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names}
            graph[name] = {module for module in imported if module.startswith("srmc")}
    return {name: {module for module in imported if module in graph and module != name}
            for name, imported in graph.items()}


def test_no_import_cycles_between_modules():
    """No import cycle among srmc's modules, not even through an import inside a function (packages' __init__
    re-exports aside)."""
    graph = {name: {m for m in imported if not (ROOT / m.replace("srmc.", "srmc/", 1).replace(".", "/")).is_dir()}
             for name, imported in _module_imports().items()}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        for child in graph.get(node, ()):
            if child in stack:
                cycles.append(stack[stack.index(child):] + [child])
            elif len(stack) < 12:
                visit(child, stack + [child])

    for start in graph:
        if not start.endswith("__init__"):
            visit(start, [start])
    assert not cycles, cycles[:5]

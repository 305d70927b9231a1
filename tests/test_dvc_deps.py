"""dvc.yaml deps that cannot drift from the code: every softloc/pipeline module a stage's entry
point imports (transitively, read from the source with ast, nothing is run) must be covered by
one of the stage's deps (the file itself, or a folder holding it). Otherwise an edit of that
module would leave `dvc status` clean while the stage's outputs are stale.

Plain, foreach and matrix stages are read from dvc.yaml's text (a foreach stage's `do:` is its
template). Imports by a computed name (importlib.import_module(f"softloc.datasets.{fmt}")) are
not followed: such a module must be listed by hand.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("softloc", "pipeline")
ENTRY = re.compile(r"python3?\s+-m\s+([A-Za-z_][\w.]*)")


def stage_templates(dvc_yaml: Path) -> dict[str, dict]:
    """name -> the stage's definition (cmd, deps, ...), a foreach stage's `do:` template unpacked."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    return {name: stage["do"] if "foreach" in stage else stage for name, stage in stages.items()}


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of module `name` in the project, or None (not ours, or no such module)."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, module: str) -> set[str]:
    """Dotted names of the modules `path` (module `module`) imports, anywhere in its body, with the
    packages they pass through (importing a.b.c runs a/__init__.py and a/b/__init__.py)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            origin = ".".join(filter(None, [base, node.module or ""]))
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in node.names)   # submodules, if they exist
    out = set()
    for name in names:
        parts = name.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return {n for n in out if n.split(".")[0] in PACKAGES}


@cache
def closure(module: str) -> frozenset[Path]:
    """Project source files that importing `module` runs, transitively."""
    seen: set[str] = set()
    todo = [module]
    files = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            continue
        files.add(path)
        todo.extend(imported_names(path, name))
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))   # enclosing packages run first
    return frozenset(files)


def uncovered(stage: dict) -> dict[str, list[str]]:
    """{entry module: project files it imports that no dep of the stage covers}."""
    cmds = stage.get("cmd", [])
    cmds = [cmds] if isinstance(cmds, str) else cmds
    deps = [str(d).rstrip("/") for d in stage.get("deps", []) if isinstance(d, str)]
    out = {}
    for entry in (m for cmd in cmds for m in ENTRY.findall(cmd)):
        files = sorted(p.relative_to(ROOT).as_posix() for p in closure(entry))
        assert files, f"{entry}: no such module in the project"
        missing = [f for f in files if not any(f == d or f.startswith(d + "/") for d in deps)]
        if missing:
            out[entry] = missing
    return out


STAGES = stage_templates(ROOT / "dvc.yaml")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_imported_project_module_is_a_dep(name: str) -> None:
    gaps = uncovered(STAGES[name])
    assert not gaps, f"dvc.yaml stage {name!r}: add these deps (imported by its entry point): {gaps}"


def test_the_import_walk_follows_packages_relative_imports_and_function_bodies(tmp_path: Path) -> None:
    files = {p.relative_to(ROOT).as_posix() for p in closure("pipeline.train")}
    assert {"pipeline/__init__.py", "pipeline/train.py", "softloc/__init__.py", "softloc/training/__init__.py",
            "softloc/training/loop.py", "softloc/training/resume.py",
            "softloc/losses/__init__.py", "softloc/losses/registry.py", "softloc/io.py"} <= files
    assert not any(f.startswith("tests/") for f in files)
    pkg = tmp_path / "softloc" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "softloc" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("def f():\n    from softloc.sub import b\n    from .. import c\n")
    assert imported_names(pkg / "a.py", "softloc.sub.a") >= {"softloc.sub.b", "softloc.c", "softloc.sub"}
    assert "softloc.sub.a" in imported_names(pkg / "__init__.py", "softloc.sub")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_stage_depends_on_what_params_validation_imports_by_name(name: str) -> None:
    # validate_params builds the methods' models from every loss module (softloc/losses/__init__.py
    # imports them all by computed name) and the test sets' models from their format modules.
    deps = {str(d).rstrip("/") for d in STAGES[name].get("deps", []) if isinstance(d, str)}
    assert {"softloc/losses", "softloc/datasets"} <= deps, f"dvc.yaml stage {name!r}: add softloc/losses and softloc/datasets"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_code_dep_exists(name: str) -> None:
    # a dep on a renamed or deleted module would be a path DVC hashes as missing: a stale dvc.yaml
    code = [str(d) for d in STAGES[name].get("deps", []) if isinstance(d, str) and d.startswith(("softloc", "pipeline"))]
    assert not [d for d in code if not (ROOT / d).exists()], f"dvc.yaml stage {name!r}: deps that do not exist"


def test_dvc_lock_holds_only_the_stages_of_dvc_yaml():
    # DVC keeps the lock entries of stages that left dvc.yaml; reading and rewriting them cost
    # about 2.4 s of DVC's time per stage (benchmarks/bench_dvc_overhead.py), so none is committed.
    import shutil
    import subprocess

    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    listed = subprocess.run([dvc, "stage", "list", "--name-only"], cwd=ROOT, capture_output=True, text=True, check=True)
    locked = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    assert not set(locked) - set(listed.stdout.split()), "dvc.lock: entries of stages no longer in dvc.yaml"

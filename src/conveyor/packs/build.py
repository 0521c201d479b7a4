"""Building the environment folder: conveyor's wheel, a relocatable venv with the lock
installed, the project's code beside it, and nothing left that names the build folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conveyor.core.errors import PackError, PackInterpreterMissing
from conveyor.packs.inputs import ConveyorSource, ProjectCode
from conveyor.packs.lock import PackLock
from conveyor.packs.uv import Uv

PROJECT_FOLDER = "project"  # the project's code, inside the pack
MANIFEST = "conveyor-pack.json"  # what the pack is: key, lock, Python, platform
RELATIVE_SHEBANG = "#!/bin/sh\n'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/'python' \"$0\" \"$@\"\n' '''\n"


def conveyor_requirement(source: ConveyorSource, uv: Uv, workdir: Path) -> str:
    """conveyor as the pack installs it: a wheel built from its source tree, never editable;
    an installed release by its pin."""
    if source.root is None:
        return source.pinned
    out = workdir / "wheel"
    uv.run(["build", "--wheel", "--quiet", "--out-dir", str(out), str(source.root)],
           "building conveyor's wheel", error=PackError)
    wheels = sorted(out.glob("conveyor-*.whl"))
    if not wheels:
        raise PackError(f"building conveyor's wheel from {source.root} left no wheel in {out}")
    return f"{source.name} @ {wheels[0].resolve().as_uri()}"


def build_environment(lock: PackLock, code: ProjectCode, python: str, uv: Uv, folder: Path) -> Path:
    """A relocatable venv at ``folder`` for ``python`` with exactly the lock installed."""
    uv.run(["venv", "--relocatable", "--quiet", "--python", python, str(folder)],
           f"creating a Python {lock.python} environment", error=PackInterpreterMissing)
    lock_file = folder.parent / "lock.txt"
    lock_file.write_text(lock.install, encoding="utf-8")
    # bytecode compiled now, once: a worker's first import then reads .pyc instead of
    # compiling thousands of modules (timestamp-checked, so valid wherever the pack unpacks)
    uv.run(["pip", "install", "--quiet", "--no-deps", "--compile-bytecode", "--python", str(folder / "bin" / "python"),
            "-r", str(lock_file)], "installing the locked requirements")
    pruned = prune_test_suites(folder) + prune_build_inputs(folder)
    _copy_code(code, folder / PROJECT_FOLDER)
    (folder / MANIFEST).write_text(json.dumps(
        {"key": lock.key, "python": lock.python, "platform": lock.platform, "lock": lock.text,
         "pruned": pruned}, indent=2, sort_keys=True), encoding="utf-8")
    relocate(folder)
    return folder


# The test suites these packages ship inside themselves: run only by `pytest --pyargs`, never
# imported by the package (~115 MB of the example's 847 MB environment: pandas 42, scipy 31,
# numpy 15, scikit-learn 14, pyarrow 7, matplotlib 6). Other packages' tests folders stay:
# some hold code that is not a test suite.
TEST_SUITES = ("pandas", "scipy", "numpy", "sklearn", "pyarrow", "matplotlib", "mpl_toolkits")


def prune_test_suites(folder: Path) -> list[str]:
    """Remove the ``tests`` folders of :data:`TEST_SUITES` from the environment at ``folder``;
    what was removed, relative to ``folder`` (recorded in the pack's manifest)."""
    removed: list[str] = []
    for site in sorted(folder.glob("lib/python*/site-packages")):
        for package in TEST_SUITES:
            root = site / package
            if not root.is_dir() or root.is_symlink():
                continue
            for tests in sorted(root.rglob("tests")):
                if tests.is_dir() and not tests.is_symlink() and tests.exists():
                    shutil.rmtree(tests)
                    removed.append(str(tests.relative_to(folder)))
    return removed


# What only building or other tools read, never a job run: Cython and C/C++ sources and
# headers (a compiler needs them; cffi keeps its own, which its runtime compile mode reads),
# and the MLflow UI's JavaScript bundle (a pack runs jobs, not `mlflow ui`): ~47 MB and 1,600
# files of the example's environment, each one less to write on every fresh worker.
BUILD_INPUTS = (".pyx", ".pxd", ".pxi", ".c", ".cpp", ".h", ".hpp")
KEEPS_BUILD_INPUTS = ("cffi",)
UNUSED_FOLDERS = ("mlflow/server/js",)


def prune_build_inputs(folder: Path) -> list[str]:
    """Remove :data:`BUILD_INPUTS` files and :data:`UNUSED_FOLDERS` from the environment at
    ``folder``; what was removed, relative to ``folder`` (folders by name, files counted per
    suffix)."""
    removed: list[str] = []
    for site in sorted(folder.glob("lib/python*/site-packages")):
        for name in UNUSED_FOLDERS:
            unused = site / name
            if unused.is_dir() and not unused.is_symlink():
                shutil.rmtree(unused)
                removed.append(str(unused.relative_to(folder)))
        counts = dict.fromkeys(BUILD_INPUTS, 0)
        for path in site.rglob("*"):
            if path.suffix in counts and path.is_file() and not path.is_symlink() \
                    and path.relative_to(site).parts[0] not in KEEPS_BUILD_INPUTS:
                path.unlink()
                counts[path.suffix] += 1
        site_name = site.relative_to(folder)
        removed += [f"{site_name}/**/*{suffix} ({count} files)" for suffix, count in counts.items() if count]
    return removed


def relocate(folder: Path) -> None:
    """Nothing in the environment may name ``folder``: links into it become relative, and a
    script whose shebang names its interpreter by the build path finds it beside itself."""
    root = str(folder.resolve())
    for path in folder.rglob("*"):
        if path.is_symlink():
            target = os.readlink(path)
            if os.path.isabs(target) and (target == root or target.startswith(root + os.sep)):
                path.unlink()
                path.symlink_to(os.path.relpath(target, path.parent))
    for script in (folder / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as handle:
            first = handle.readline()
        if first.startswith(b"#!") and root.encode() in first:
            body = script.read_bytes()[len(first):]
            script.write_bytes(RELATIVE_SHEBANG.encode() + body)


def _copy_code(code: ProjectCode, target: Path) -> None:
    for name in code.files:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(code.root / name, destination)

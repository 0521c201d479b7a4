"""Import the user's ``module.py:function`` from the project folder."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from conveyor.core.config.schema import ENTRYPOINT_PATTERN
from conveyor.core.errors import EntrypointError


def load_entrypoint(reference: str, project_dir: Path) -> Callable[..., Any]:
    match = ENTRYPOINT_PATTERN.match(reference)
    if match is None:
        raise EntrypointError(f"entrypoint {reference!r} is not of the form 'module.py:function'")
    module_path = (project_dir / match.group("module")).resolve()
    function_name = match.group("function")
    if not module_path.is_file():
        raise EntrypointError(
            f"entrypoint module {match.group('module')} not found in {project_dir}",
            hint="fix train.entrypoint in conveyor.yaml",
        )
    module_name = f"conveyor_user_{module_path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    project = str(project_dir)
    added = project not in sys.path
    if added:
        sys.path.insert(0, project)  # let the user's module import its neighbours
    try:
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise EntrypointError(
            f"importing {module_path.name} failed: {type(exc).__name__}: {exc}"
        ) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise EntrypointError(
            f"function {function_name!r} not found in {module_path.name}",
            hint=f"define `def {function_name}(...)` there or fix the entrypoint in conveyor.yaml",
        )
    return cast("Callable[..., Any]", function)

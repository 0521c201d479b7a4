"""One exception tree in one module, and one table of exit codes in which each code means one
thing: every exception conveyor defines derives from ConveyorError, the tree drawn in
conveyor.core.errors is the real one, and the README's table is the table."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import conveyor
from conveyor.core import errors
from conveyor.core.errors import (
    EXIT_CODES,
    ConfigError,
    ConveyorError,
    ExitCode,
    RequestError,
    exit_code_of,
)

SRC = Path(conveyor.__file__).parent
README = SRC.parents[1] / "README.md"
OUTCOMES = {ExitCode.OK, ExitCode.DRIFT, ExitCode.ROLLED_BACK, ExitCode.INSUFFICIENT_DATA, ExitCode.INTERRUPTED, ExitCode.TERMINATED}


def conveyor_exceptions() -> list[type[BaseException]]:
    """Every exception class defined at module level anywhere in the conveyor package."""
    found = []
    for info in pkgutil.walk_packages(conveyor.__path__, "conveyor."):
        if info.name.endswith("__main__"):
            continue  # running it is the command line
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseException)
                    and value.__module__ == module.__name__):
                found.append(value)
    return found


def test_every_exception_conveyor_defines_derives_from_conveyor_error() -> None:
    found = conveyor_exceptions()
    assert len(found) > 30
    outside = sorted(f"{c.__module__}.{c.__qualname__}" for c in found if not issubclass(c, ConveyorError))
    assert outside == []


def test_the_tree_lives_in_one_module() -> None:
    """Only the HTTP errors (RequestError subclasses) live next to the code that renders them."""
    elsewhere = sorted(
        f"{c.__module__}.{c.__qualname__}" for c in conveyor_exceptions()
        if c.__module__ != errors.__name__
        and not (issubclass(c, RequestError) and c.__module__ == "conveyor.serving.errors")
    )
    assert elsewhere == []


def test_no_exception_class_hides_inside_a_function() -> None:
    nested = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nested += [f"{path.relative_to(SRC)}:{c.lineno} {c.name}" for c in ast.walk(node)
                           if isinstance(c, ast.ClassDef) and re.search(r"(Error|Exception)$", c.name)]
    assert nested == []


def _drawn_tree() -> dict[str, tuple[str | None, int | None]]:
    """{class name: (drawn parent, drawn exit code)} from the module docstring."""
    doc = errors.__doc__ or ""
    lines = doc[doc.index("    ConveyorError\n"):].splitlines()
    drawn: dict[str, tuple[str | None, int | None]] = {"ConveyorError": (None, None)}
    stack = ["ConveyorError"]
    for line in lines[1:]:
        if not line.strip():
            break
        match = re.match(r"^    ((?:[│ ]   )*)[├└]── (\w+)(?: \[(\d+)\])?", line)
        if match is None:
            continue  # the description of the line above, carried on
        depth = len(match.group(1)) // 4 + 1
        del stack[depth:]
        drawn[match.group(2)] = (stack[-1], int(match.group(3)) if match.group(3) else None)
        stack.append(match.group(2))
    return drawn


def test_the_docstring_draws_the_real_tree() -> None:
    drawn = _drawn_tree()
    defined = {name: cls for name, cls in vars(errors).items()
               if isinstance(cls, type) and issubclass(cls, ConveyorError)}
    assert set(drawn) == set(defined)
    for name, (parent, code) in drawn.items():
        cls = defined[name]
        base = next((b for b in cls.__bases__ if issubclass(b, ConveyorError)), None)
        assert (base.__name__ if base else None) == parent, name
        if "exit_code" in vars(cls) and cls is not ConveyorError:
            assert code == cls.exit_code, name
        else:
            assert code is None, name


def test_each_exit_code_means_one_thing() -> None:
    assert set(EXIT_CODES) == set(ExitCode)
    meanings = list(EXIT_CODES.values())
    assert all(meanings) and len(set(meanings)) == len(meanings)
    declared: dict[ExitCode, list[str]] = {}
    for cls in conveyor_exceptions():
        if "exit_code" in vars(cls):
            declared.setdefault(cls.exit_code, []).append(cls.__name__)
    # one family per code: the class that declares it, and only its subclasses carry it
    assert declared == {
        ExitCode.FAILED: ["ConveyorError"],
        ExitCode.USAGE: ["UsageError"],
        ExitCode.BAD_INPUT: ["UnscorableInputError"],
        ExitCode.OUTPUT_CONFLICT: ["OutputError"],
        ExitCode.NOT_FOUND: ["RegistryError"],
        ExitCode.UNAVAILABLE: ["UnavailableError"],
    }
    assert not OUTCOMES & set(declared)  # outcomes, not errors: the commands exit with them


def test_exceptions_map_to_codes_through_the_table() -> None:
    assert exit_code_of(ConfigError("bad")) is ExitCode.USAGE
    assert exit_code_of(errors.BadRowError("bad", row=3, reason="x")) is ExitCode.BAD_INPUT
    assert exit_code_of(errors.SchemaMismatchError("bad")) is ExitCode.BAD_INPUT
    assert exit_code_of(errors.OutputError("exists")) is ExitCode.OUTPUT_CONFLICT
    assert exit_code_of(errors.GateFailedError("failed", version="3", reasons=[])) is ExitCode.FAILED
    assert exit_code_of(errors.NoStageHolder("empty")) is ExitCode.NOT_FOUND
    assert exit_code_of(errors.PortInUseError("taken")) is ExitCode.UNAVAILABLE
    assert exit_code_of(errors.StoreUnreachableError("down")) is ExitCode.UNAVAILABLE
    assert exit_code_of(KeyboardInterrupt()) is ExitCode.INTERRUPTED
    assert exit_code_of(RuntimeError("not ours")) is ExitCode.FAILED


def _numbers(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and type(n.value) is int for n in ast.walk(node))


def test_no_command_exits_with_a_bare_number() -> None:
    """Every exit goes through ExitCode, so the table stays the only place codes are chosen."""
    exits = {"typer.Exit", "Exit", "sys.exit", "SystemExit", "os._exit", "exit"}
    bare = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            chosen: ast.AST | None = None
            if isinstance(node, ast.Call) and ast.unparse(node.func) in exits and node.args:
                chosen = node.args[0]
            if isinstance(node, ast.keyword) and node.arg == "exit_code":
                chosen = node.value
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and "exit_code" in ast.unparse(
                    node.targets[0] if isinstance(node, ast.Assign) else node.target).lower():
                chosen = node.value
            if chosen is not None and _numbers(chosen):
                bare.append(f"{path.relative_to(SRC)}:{node.lineno} {ast.unparse(node)}")
    assert bare == []


def test_readme_shows_the_table() -> None:
    readme = README.read_text(encoding="utf-8")
    for code, meaning in EXIT_CODES.items():
        assert f"| {code.value} | `{code.name}` | {meaning} |" in readme, code.name

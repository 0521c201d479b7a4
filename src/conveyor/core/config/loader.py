"""Read conveyor.yaml: parse with line numbers, pick an environment, resolve secrets, validate."""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from conveyor.core.config.schema import NOT_READ_YET, EnvironmentSpec, ProjectConfig
from conveyor.core.config.secrets import Secrets, interpolate_tree
from conveyor.core.errors import ConfigError, MissingVariable

CONFIG_FILE = "conveyor.yaml"
ENV_VARIABLE = "CONVEYOR_ENV"


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus what it was loaded from."""

    config: ProjectConfig
    path: Path
    env_name: str | None
    environment: EnvironmentSpec
    secrets: Secrets
    raw: dict[str, Any]
    notices: tuple[str, ...] = ()  # what the config says that works, but not as written
    lines: _LineIndex | None = field(default=None, repr=False, compare=False)

    @property
    def project_dir(self) -> Path:
        return self.path.parent

    def environment_of(self, name: str | None) -> EnvironmentSpec:
        """The stack settings of environment ``name`` (a stand; None: the one chosen at load).

        Only the chosen environment's ``${VAR}`` references are resolved at load; another
        stand's are resolved here, when a command first needs that stand (a cross-stand
        promotion), and their values join the redacted secrets."""
        if name is None or name == self.env_name:
            return self.environment
        if name not in self.config.environments:
            raise ConfigError(
                f"unknown environment {name!r}; defined: {sorted(self.config.environments) or 'none'}",
                file=str(self.path),
                field="environments",
                line=self._line(("environments",)),
                hint="add it under `environments:` or pick one of the defined names",
            )
        environments = self.raw.get("environments") or {}
        try:
            resolved = interpolate_tree(environments.get(name) or {}, self.secrets, ("environments", name))
        except MissingVariable as missing:
            raise _missing_variable(missing, self.path, self.lines) from None
        try:
            return EnvironmentSpec.model_validate(resolved)
        except ValidationError as exc:  # validated once at load; kept for a changed file
            raise ConfigError(
                self.secrets.redact(str(exc.errors()[0]["msg"])), file=str(self.path),
                field=f"environments.{name}", line=self._line(("environments", name)),
            ) from None

    def _line(self, loc: tuple[Any, ...]) -> int | None:
        return self.lines.line_of(loc) if self.lines is not None else None

    def snapshot(self) -> str:
        """The config as written (``${VAR}`` references kept, never their values), as YAML."""
        raw = copy.deepcopy(self.raw)
        raw["environment"] = self.env_name
        return self.secrets.redact(yaml.safe_dump(raw, sort_keys=False))


def find_config(project: Path | str | None = None) -> Path:
    base = Path(project) if project is not None else Path.cwd()
    candidate = base if base.is_file() else base / CONFIG_FILE
    if not candidate.exists():
        raise ConfigError(
            "no conveyor.yaml found",
            file=str(candidate),
            hint="run inside a project folder, pass --project PATH, or create one with "
            "`conveyor init NAME`",
        )
    return candidate.resolve()


def load_config(project: Path | str | None = None, env: str | None = None, *,
                keep_unresolved: bool = False) -> LoadedConfig:
    """The project's config for ``env``. ``keep_unresolved``: ``${VAR}``s that are not set stay
    references (``LoadedConfig.secrets.unresolved`` names them) — for `conveyor export`, whose
    files are resolved where they run."""
    path = find_config(project)
    text = path.read_text(encoding="utf-8")
    lines = _LineIndex.parse(text, str(path))
    raw = lines.data
    if not isinstance(raw, dict):
        raise ConfigError("the file must be a mapping of settings", file=str(path), line=1)
    _reject_unread(raw, path, lines)

    env_name = env if env is not None else (os.environ.get(ENV_VARIABLE) or None)
    environments = raw.get("environments") or {}
    if env_name is not None and (not isinstance(environments, dict) or env_name not in environments):
        known = sorted(environments) if isinstance(environments, dict) else []
        raise ConfigError(
            f"unknown environment {env_name!r}; defined: {known or 'none'}",
            file=str(path),
            field="environments",
            line=lines.line_of(("environments",)),
            hint="add it under `environments:` or pick one of the defined names",
        )

    # Only the chosen environment's references must resolve: running on dev must not
    # require prod's secrets to be set.
    secrets = Secrets(keep_unresolved=keep_unresolved)
    resolved = {k: v for k, v in raw.items() if k != "environments"}
    try:
        resolved = interpolate_tree(resolved, secrets)
        chosen = environments.get(env_name) if env_name is not None else None
        chosen = interpolate_tree(chosen or {}, secrets, ("environments", env_name))
    except MissingVariable as missing:
        raise _missing_variable(missing, path, lines) from None
    resolved["environments"] = {
        name: (chosen if name == env_name else spec) for name, spec in environments.items()
    }

    try:
        config = ProjectConfig.model_validate(resolved)
    except ValidationError as exc:
        raise _config_error(exc, path, lines, secrets) from None
    _check_stands(config, path, lines)
    environment = config.environments.get(env_name) if env_name else None
    return LoadedConfig(
        config=config,
        path=path,
        env_name=env_name,
        environment=environment or EnvironmentSpec(),
        secrets=secrets,
        raw=raw,
        notices=_notices(config, path, lines),
        lines=lines,
    )


def _check_stands(config: ProjectConfig, path: Path, lines: _LineIndex) -> None:
    """Every stage mapped to a stand, and ``scheduler.history_env``, names an entry of
    `environments` (the first that does not is the error, on its line)."""
    history = config.scheduler.history_env
    if history is not None and history not in config.environments:
        known = sorted(config.environments)
        raise ConfigError(
            f"scheduler.history_env names environment {history!r}, which `environments` does not "
            f"define (defined: {', '.join(known) if known else 'none'})",
            file=str(path), field="scheduler.history_env", line=lines.line_of(("scheduler", "history_env")),
            hint="name the environment whose tracking store every stand's scheduler shares, "
            "or leave it out (the first stage's environment)",
        )
    unknown = config.unknown_stands()
    if not unknown:
        return
    index, spec = unknown[0]
    known = sorted(config.environments)
    raise ConfigError(
        f"stage {spec.name!r} is mapped to environment {spec.env!r}, which `environments` does "
        f"not define (defined: {', '.join(known) if known else 'none'})",
        file=str(path),
        field=f"stages.{index}.env",
        line=lines.line_of(("stages", index, "env")),
        hint=f"add {spec.env!r} under `environments:` with its tracking_uri and artifact_store, "
        "or map the stage to one of the defined environments",
    )


def _missing_variable(missing: MissingVariable, path: Path, lines: _LineIndex | None) -> ConfigError:
    return ConfigError(
        f"environment variable {missing.name} is not set",
        file=str(path),
        field=_dotted(missing.path),
        line=lines.line_of(missing.path) if lines is not None else None,
        hint=f"export {missing.name}=... or give a default: ${{{missing.name}:-value}}",
    )


def _notices(config: ProjectConfig, path: Path, lines: _LineIndex) -> tuple[str, ...]:
    """Settings taken in a sense the file does not spell out: traffic weights not summing to 100."""
    from conveyor.core.weights import rescaled_notice

    traffic = rescaled_notice(config.serve.traffic, "serve.traffic weights")
    if traffic is None:
        return ()
    line = lines.line_of(("serve", "traffic"))
    return (f"{path.name}{f':{line}' if line else ''}: {traffic}",)


def _reject_unread(raw: dict[str, Any], path: Path, lines: _LineIndex) -> None:
    """Refuse a setting that nothing reads yet (the first in the file), naming what will."""
    found = [(loc, reader) for pattern, reader in NOT_READ_YET.items() for loc in _matches(raw, pattern)]
    if not found:
        return
    loc, reader = min(found, key=lambda item: lines.line_of(item[0]) or 0)
    raise ConfigError(
        f"nothing reads this setting yet; {reader} will, once it is built",
        file=str(path),
        field=_dotted(loc),
        line=lines.line_of(loc),
        hint="remove it for now: until then it would be silently ignored",
    )


def _matches(node: object, pattern: tuple[str, ...], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The key paths in a parsed YAML tree that ``pattern`` (``*``: any key) names."""
    if not pattern:
        yield prefix
        return
    if not isinstance(node, dict):
        return
    head, rest = pattern[0], pattern[1:]
    for key in node if head == "*" else [head] if head in node else []:
        yield from _matches(node[key], rest, (*prefix, str(key)))


def _config_error(exc: ValidationError, path: Path, lines: _LineIndex, secrets: Secrets) -> ConfigError:
    """One error naming the first problem (a misspelt key before the setting it leaves
    missing, then in file order), the key it was probably meant to be, and the others."""
    problems = [(tuple(e["loc"]), e["type"], _message(e)) for e in exc.errors()]
    problems.sort(key=lambda p: (p[1] != "extra_forbidden", lines.line_of(p[0]) or 0))
    loc, kind, message = problems[0]
    hint = None
    if kind == "extra_forbidden":
        missing = [str(p[0][-1]) for p in problems if p[1] == "missing" and p[0][:-1] == loc[:-1]]
        close = difflib.get_close_matches(str(loc[-1]), missing, n=1)
        if close:
            hint = f"did you mean {close[0]!r}?"
            problems = [p for p in problems if p[0] != (*loc[:-1], close[0])]
    others = [f"{_dotted(p[0]) or '(top)'}" + (f" (line {lines.line_of(p[0])})" if lines.line_of(p[0]) else "")
              + f": {p[2]}" for p in problems[1:]]
    if others:
        shown = "; ".join(others[:3]) + (f"; and {len(others) - 3} more" if len(others) > 3 else "")
        message += f" (also: {shown})"
    return ConfigError(
        secrets.redact(message),
        file=str(path),
        field=_dotted(loc) or None,
        line=lines.line_of(loc),
        hint=None if hint is None else secrets.redact(hint),
    )


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "required setting is missing"
    if error["type"] == "extra_forbidden":
        return "unknown setting (check the spelling)"
    return str(error["msg"]).removeprefix("Value error, ")


def _dotted(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc if part is not None)


class _LineIndex:
    """Maps a key path such as ``("gate", "metrics", "roc_auc")`` to its 1-based line."""

    def __init__(self, data: Any, lines: dict[tuple[Any, ...], int]) -> None:
        self.data = data
        self._lines = lines

    @classmethod
    def parse(cls, text: str, filename: str) -> _LineIndex:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(
                f"invalid YAML: {problem}",
                file=filename,
                line=mark.line + 1 if mark is not None else None,
            ) from None
        lines: dict[tuple[Any, ...], int] = {}
        if node is not None:
            cls._walk(node, (), lines)
        return cls(data, lines)

    @classmethod
    def _walk(cls, node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                out[(*path, key)] = key_node.start_mark.line + 1
                cls._walk(value_node, (*path, key), out)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                cls._walk(item, (*path, index), out)

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        path = tuple(str(p) if not isinstance(p, int) else p for p in loc)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return self._lines.get((), None)

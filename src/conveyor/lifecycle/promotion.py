"""Move stage aliases: promote (gate-passed, previous stage only) and roll back.

Every move is written three times: the alias itself, tags on the version and the
registered model (who, when, from, to, reason), and an event in the audit log.

Moves of one model are serialised (:mod:`conveyor.stack.locks`): each reads the registry,
decides and writes under the model's move lock, so a move that lost a race waits and then
applies against the state the winner left: its ``from_version`` is the real previous holder,
and ``changed`` is true only for the move that changed the alias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from conveyor.core import tags
from conveyor.core.errors import OptionError, PromotionError
from conveyor.lifecycle.audit import AuditEvent, AuditLog
from conveyor.lifecycle.gate import PASSED
from conveyor.lifecycle.registry import Registry
from conveyor.stack.locks import MoveLock

HISTORY_LIMIT = 100


@dataclass(frozen=True)
class Move:
    action: str
    model: str
    stage: str
    from_version: str | None
    to_version: str
    forced: bool
    reason: str | None
    changed: bool

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def check_move(stages: list[str], stage: str, *, force: bool = False, reason: str | None = None) -> None:
    """What a move asks for that is wrong whatever the registry holds: an unknown stage,
    ``--force`` without ``--reason`` (both usage errors, refused before connecting)."""
    if stage not in stages:
        raise OptionError(
            f"unknown stage {stage!r}; stages are {stages}",
            hint="stages come from `stages:` in conveyor.yaml",
        )
    if force and not reason:
        raise OptionError(
            "--force needs --reason \"...\" (it is recorded in the audit log)",
            hint="e.g. --force --reason \"hotfix for ticket 123\"; nothing was changed",
        )


class Promoter:
    def __init__(
        self,
        registry: Registry,
        audit: AuditLog,
        stages: list[str],
        environment: str | None,
        lock: MoveLock,
    ) -> None:
        self.registry = registry
        self.audit = audit
        self.stages = stages
        self.environment = environment
        self.lock = lock

    def promote(
        self,
        model: str,
        to: str,
        version: str | None = None,
        *,
        force: bool = False,
        reason: str | None = None,
        action: str = "promote",
    ) -> Move:
        check_move(self.stages, to, force=force, reason=reason)
        with self.lock.hold(model):
            return self._promote(model, to, version, force, reason, action)

    def _promote(
        self, model: str, to: str, version: str | None, force: bool, reason: str | None, action: str
    ) -> Move:
        previous = self._previous_stage(to)
        aliases, model_tags = self.registry.model_state(model)
        if version is None:
            if previous is None:
                raise PromotionError(
                    f"{to!r} is the first stage; say which version with --version N"
                )
            version = aliases.get(previous)
            if version is None:
                raise PromotionError(
                    f"no version holds {previous!r}, so there is nothing to promote to {to!r}",
                    hint="train a version first or pass --version N --force --reason ...",
                )
        mv = self.registry.version(model, str(version))
        version = str(mv.version)
        gate = (mv.tags or {}).get(tags.GATE, "unknown")
        if not force:
            if gate != PASSED:
                raise PromotionError(
                    f"version {version} of {model!r} did not pass the quality gate (gate: {gate})",
                    hint="see `conveyor models` for the reasons; override with --force --reason",
                )
            if previous is not None and aliases.get(previous) != version:
                raise PromotionError(
                    f"version {version} does not hold {previous!r}; promotion to {to!r} is only "
                    f"from {previous!r} (held by "
                    f"{'v' + aliases[previous] if previous in aliases else 'no version'})",
                    hint=f"promote it to {previous!r} first, or use --force --reason",
                )
        current = aliases.get(to)
        if current == version:
            return Move(action, model, to, current, version, force, reason, changed=False)
        history = _history(model_tags, to)
        if current is not None and (not history or history[-1] != current):
            history.append(current)  # alias set outside conveyor: keep it rollback-able
        history.append(version)
        self._apply(model, to, current, version, action, force, reason, history)
        return Move(action, model, to, current, version, force, reason, changed=True)

    def rollback(self, model: str, stage: str, *, reason: str | None = None) -> Move:
        check_move(self.stages, stage)
        with self.lock.hold(model):
            return self._rollback(model, stage, reason)

    def _rollback(self, model: str, stage: str, reason: str | None) -> Move:
        aliases, model_tags = self.registry.model_state(model)
        current = aliases.get(stage)
        if current is None:
            raise PromotionError(f"no version holds {stage!r} for {model!r}; nothing to roll back")
        history = _history(model_tags, stage)
        while history and history[-1] == current:
            history.pop()
        if not history:
            raise PromotionError(
                f"{stage!r} of {model!r} has no previous holder to roll back to (now v{current})"
            )
        target = history[-1]
        self._apply(model, stage, current, target, "rollback", False, reason, history)
        return Move("rollback", model, stage, current, target, False, reason, changed=True)

    def _apply(
        self,
        model: str,
        stage: str,
        current: str | None,
        target: str,
        action: str,
        forced: bool,
        reason: str | None,
        history: list[str],
    ) -> None:
        event = AuditEvent(
            action=action,
            model=model,
            stage=stage,
            from_version=current,
            to_version=target,
            reason=reason,
            forced=forced,
            environment=self.environment,
        )
        record = json.dumps(event.to_dict(), sort_keys=True)
        client = self.registry.client
        client.set_registered_model_alias(model, stage, target)
        client.set_model_version_tag(model, target, tags.stage_move(stage), record)
        client.set_registered_model_tag(
            model, tags.stage_history(stage), json.dumps(history[-HISTORY_LIMIT:])
        )
        client.set_registered_model_tag(model, tags.last_move(stage), record)
        self.audit.append(event)

    def _previous_stage(self, stage: str) -> str | None:
        index = self.stages.index(stage)
        return self.stages[index - 1] if index > 0 else None


def _history(model_tags: dict[str, str], stage: str) -> list[str]:
    """Versions that held the stage, oldest first (from the registered model's tags)."""
    raw = model_tags.get(tags.stage_history(stage))
    return [str(v) for v in json.loads(raw)] if raw else []

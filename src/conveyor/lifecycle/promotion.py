"""Move stage aliases: promote (gate-passed, previous stage only) and roll back.

Every move is written three times: the alias itself, tags on the version and the
registered model (who, when, from, to, reason), and an event in the audit log.

Stages may live on different stands (:mod:`conveyor.lifecycle.stands`). A promotion whose
previous stage (the source) and target stage live on one stand is an alias move there. One
that crosses stands decides on the source stand (the same rules: gate passed, holding the
previous stage), copies the version into the target stand's registry
(:mod:`conveyor.lifecycle.version_copy`: artifacts, logged model, gate tags, lineage, pack),
and only then moves the alias on the target; the source stand's audit log records the copy,
the target's the move. Rollback works on the stand that holds the stage, with its history.

Moves of one model are serialised (:mod:`conveyor.stack.locks`): each reads the registry,
decides and writes under the model's move lock on the stand whose alias moves (a
cross-stand promotion holds the target stand's lock while it finds or makes the copy, so
two promotions of one version never copy it twice), so a move that lost a race waits and
then applies against the state the winner left: its ``from_version`` is the real previous
holder, and ``changed`` is true only for the move that changed the alias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conveyor.core import tags
from conveyor.core.errors import ConveyorError, OptionError, PromotionError
from conveyor.lifecycle.audit import AuditEvent, current_user
from conveyor.lifecycle.gate import PASSED
from conveyor.lifecycle.stands import Stand, Stands

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
    stand: str | None = None  # the environment whose alias moved (None: the default stack)
    copy: dict[str, Any] | None = field(default=None)  # a cross-stand promotion: what was copied

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class Beyond:
    """What :meth:`Promoter.promote_beyond` did: the moves made, and the refusal that stopped it."""

    moves: list[Move] = field(default_factory=list)
    refused: str | None = None

    @property
    def stages(self) -> list[str]:
        return [move.stage for move in self.moves]


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
    """Promotions and rollbacks of a project's stages, on whichever stand each one lives."""

    def __init__(self, stands: Stands, stages: list[str]) -> None:
        self.stands = stands
        self.stages = stages

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
        previous = self._previous_stage(to)
        target = self.stands.of_stage(to)
        source = self.stands.of_stage(previous) if previous is not None else self.stands.current
        if source.same_as(target):
            with target.lock.hold(model):
                return self._promote(target, model, to, version, force, reason, action)
        return self._promote_across(source, target, model, to, version, force, reason, action)

    def promote_beyond(self, model: str, version: str, *, reason: str, action: str = "promote") -> Beyond:
        """``auto_promote``: the first stage's new holder ``version`` through every later stage,
        each move's target version the next one's source; it stops at the first refusal."""
        beyond = Beyond()
        for stage in self.stages[1:]:
            try:
                move = self.promote(model, stage, version, reason=reason[:500], action=action)
            except ConveyorError as exc:
                beyond.refused = f"promotion to {stage} refused: {exc.message}"
                break
            beyond.moves.append(move)
            version = move.to_version  # the version's number on the stand of the next stage
        return beyond

    def _promote(
        self, stand: Stand, model: str, to: str, version: str | None, force: bool, reason: str | None,
        action: str,
    ) -> Move:
        version = self._candidate(stand, model, to, version, force)
        aliases, model_tags = stand.registry.model_state(model)
        return self._move(stand, model, to, version, aliases, model_tags, action, force, reason)

    def _promote_across(
        self, source: Stand, target: Stand, model: str, to: str, version: str | None, force: bool,
        reason: str | None, action: str,
    ) -> Move:
        """Decide on the source stand, copy the version to the target, move the alias there."""
        from conveyor.lifecycle.version_copy import copy_version

        version = self._candidate(source, model, to, version, force)
        with target.lock.hold(model):
            copied = copy_version(source, target, model, version)
            copy = {
                "from_env": source.name, "from_version": version, "from_run_id": copied.lineage.run_id,
                "from_registry": copied.lineage.registry, "to_env": target.name,
                "to_version": copied.version, "reused": copied.reused,
            }
            aliases, model_tags = target.registry.model_state(model)
            move = self._move(target, model, to, copied.version, aliases, model_tags, action, force,
                              reason, copy)
        if move.changed:
            source.audit.append(AuditEvent(
                action="copy", model=model, stage=to, from_version=None, to_version=version,
                reason=reason, forced=force, environment=source.name, copy=copy,
            ))
        return move

    def _candidate(self, stand: Stand, model: str, to: str, version: str | None, force: bool) -> str:
        """The version (on ``stand``) that may take stage ``to``: the previous stage's holder
        or ``version``, gate-passed and holding the previous stage unless forced."""
        previous = self._previous_stage(to)
        aliases, _ = stand.registry.model_state(model)
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
        mv = stand.registry.version(model, str(version))
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
        return version

    def _move(
        self, stand: Stand, model: str, to: str, version: str, aliases: dict[str, str],
        model_tags: dict[str, str], action: str, force: bool, reason: str | None,
        copy: dict[str, Any] | None = None,
    ) -> Move:
        current = aliases.get(to)
        if current == version:
            return Move(action, model, to, current, version, force, reason, False, stand.name, copy)
        history = _history(model_tags, to)
        if current is not None and (not history or history[-1] != current):
            history.append(current)  # alias set outside conveyor: keep it rollback-able
        history.append(version)
        move = Move(action, model, to, current, version, force, reason, True, stand.name, copy)
        self._apply(stand, move, history)
        return move

    def rollback(self, model: str, stage: str, *, reason: str | None = None, who: str | None = None) -> Move:
        """``who``: the audit event's author (default: this process's user)."""
        check_move(self.stages, stage)
        stand = self.stands.of_stage(stage)
        with stand.lock.hold(model):
            return self._rollback(stand, model, stage, reason, who)

    def _rollback(self, stand: Stand, model: str, stage: str, reason: str | None, who: str | None) -> Move:
        aliases, model_tags = stand.registry.model_state(model)
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
        move = Move("rollback", model, stage, current, history[-1], False, reason, True, stand.name)
        self._apply(stand, move, history, who)
        return move

    def _apply(self, stand: Stand, move: Move, history: list[str], who: str | None = None) -> None:
        event = AuditEvent(
            action=move.action,
            model=move.model,
            stage=move.stage,
            from_version=move.from_version,
            to_version=move.to_version,
            reason=move.reason,
            forced=move.forced,
            environment=stand.name,
            copy=move.copy,
            who=who or current_user(),
        )
        record = json.dumps(event.to_dict(), sort_keys=True)
        client = stand.client
        model, stage, target = move.model, move.stage, move.to_version
        client.set_registered_model_alias(model, stage, target)
        client.set_model_version_tag(model, target, tags.stage_move(stage), record)
        client.set_registered_model_tag(
            model, tags.stage_history(stage), json.dumps(history[-HISTORY_LIMIT:])
        )
        client.set_registered_model_tag(model, tags.last_move(stage), record)
        stand.audit.append(event)

    def _previous_stage(self, stage: str) -> str | None:
        index = self.stages.index(stage)
        return self.stages[index - 1] if index > 0 else None


def _history(model_tags: dict[str, str], stage: str) -> list[str]:
    """Versions that held the stage, oldest first (from the registered model's tags)."""
    raw = model_tags.get(tags.stage_history(stage))
    return [str(v) for v in json.loads(raw)] if raw else []

"""The metric names a gate may name, checked before anything is trained or registered.

A gate threshold on a metric that is never computed can only fail, so it is a config error:
refused before training when the names can be known from the config alone (no user
``train.evaluate``), and after evaluation, before the version is registered, otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from conveyor.core.config.schema import FAIRNESS_BY_TASK, ProjectConfig
from conveyor.core.errors import ConfigError
from conveyor.lifecycle.metrics import TASK_METRICS


def check_gate_names(config: ProjectConfig, computed: Iterable[str] | None = None) -> None:
    """Refuse gate metrics that will not (or, given ``computed``, were not) computed.

    Without ``computed`` the check uses the task's default metrics and is skipped for the
    metric thresholds when a user ``train.evaluate`` may add others."""
    gate = config.gate
    named = {f"gate.metrics.{name}": name for name in gate.metrics}
    if gate.champion is not None:
        named.update({f"gate.champion.metrics[{name}]": name for name in gate.champion.metrics or []})
    problems: list[str] = []
    if computed is not None:
        known = sorted(set(computed))
        problems += [
            f"{where}: the run computed no metric {name!r} (it has {known})"
            for where, name in named.items() if name not in known
        ]
    elif config.train.evaluate is None:
        known = list(TASK_METRICS[config.task])
        problems += [
            f"{where}: {config.task} computes no metric {name!r} (it computes {known})"
            for where, name in named.items() if name not in known
        ]
    fairness = FAIRNESS_BY_TASK.get(config.task, ())  # the schema names the task of a misfit
    problems += [
        f"gate.fairness.{name}: unknown {config.task} fairness metric (known: {list(fairness)})"
        for name in gate.fairness if name not in fairness
    ]
    if gate.fairness and not config.features.sensitive:
        problems.append("gate.fairness: list the groups to compare in features.sensitive")
    if not problems:
        return
    raise ConfigError(
        "; ".join(problems),
        field="gate",
        hint="fix the names in conveyor.yaml (or return the metric from train.evaluate); "
        "nothing was trained or registered",
    )

"""A thin view of the MLflow Model Registry in conveyor's terms (stage = alias)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.core import tags
from conveyor.scoring import model_version, not_found, registered_model
from conveyor.stack.tracking import already_exists, next_page

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion


@dataclass(frozen=True)
class VersionInfo:
    """One model version as `conveyor models` shows it."""

    version: str
    aliases: list[str]
    gate: str
    reasons: list[str]
    metrics: dict[str, float]
    run_id: str | None
    created: int
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def copied_from(self) -> str | None:
        """``mdp v3``: the stand and version a cross-stand promotion copied this one from."""
        raw = self.tags.get(tags.LINEAGE_SOURCE)
        if not raw:
            return None
        try:
            source = json.loads(raw)
            return f"{source.get('env') or source.get('registry')} v{source['version']}"
        except (ValueError, KeyError, TypeError, AttributeError):
            return "?"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VersionPage:
    """One page of versions, newest first; ``next_token`` fetches the next (None: the last)."""

    versions: list[VersionInfo]
    next_token: str | None


class Registry:
    def __init__(self, client: MlflowClient) -> None:
        self.client = client

    def ensure_model(self, name: str, description: str | None = None) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as exc:
            if not not_found(exc):
                raise
            try:
                self.client.create_registered_model(name, description=description)
            except MlflowException as refused:
                if not already_exists(refused):  # else another process registered it first
                    raise

    def model_state(self, name: str) -> tuple[dict[str, str], dict[str, str]]:
        """Aliases (alias → version, as text) and tags of a registered model, in one call."""
        model = self._model(name)
        aliases = {alias: str(version) for alias, version in (model.aliases or {}).items()}
        return aliases, dict(model.tags or {})

    def model_aliases(self, name: str) -> dict[str, str]:
        return self.model_state(name)[0]

    def alias_holder(self, name: str, alias: str) -> str | None:
        return self.model_aliases(name).get(alias)

    def version(self, name: str, version: str) -> ModelVersion:
        return model_version(self.client, name, version)

    def versions(self, name: str, limit: int = 50) -> list[VersionInfo]:
        return self.page(name, limit).versions

    def page(self, name: str, limit: int = 50, token: str | None = None) -> VersionPage:
        """The next ``limit`` versions, newest first, from ``token`` (the previous page's
        ``next_token``; None: the newest). Aliases in one call, versions in one, their runs'
        metrics in one more per page."""
        aliases_by_version: dict[str, list[str]] = {}
        for alias, version in self.model_aliases(name).items():  # one call; unknown: RegistryError
            aliases_by_version.setdefault(version, []).append(alias)
        found = self.client.search_model_versions(
            f"name = '{name}'", max_results=limit, order_by=["version_number DESC"], page_token=token
        )
        metrics = self._metrics_of([mv.run_id for mv in found if mv.run_id])
        out = []
        for mv in found:
            version = str(mv.version)
            version_tags = dict(mv.tags or {})
            out.append(
                VersionInfo(
                    version=version,
                    aliases=sorted(aliases_by_version.get(version, [])),
                    gate=version_tags.get(tags.GATE, "unknown"),
                    reasons=json.loads(version_tags.get(tags.GATE_REASONS, "[]")),
                    metrics=dict(metrics.get(mv.run_id, {})) if mv.run_id else {},
                    run_id=mv.run_id,
                    created=int(mv.creation_timestamp or 0),
                    tags=version_tags,
                )
            )
        return VersionPage(out, next_page(found))

    def _metrics_of(self, run_ids: list[str]) -> dict[str, dict[str, float]]:
        """Each run's metrics: the first run read, the others of its experiment in one search
        (a page costs the same whatever its size); a run elsewhere is read on its own, and a
        deleted one leaves its versions listable, with no metrics."""
        unique = list(dict.fromkeys(run_ids))
        metrics: dict[str, dict[str, float]] = {}
        if not unique:
            return metrics
        first = self._run(unique[0])
        metrics[unique[0]] = dict(first.data.metrics) if first is not None else {}
        rest = unique[1:]
        if rest and first is not None:
            quoted = ", ".join(f"'{run_id}'" for run_id in rest)
            for run in self.client.search_runs([first.info.experiment_id], max_results=len(rest),
                                               filter_string=f"attributes.run_id IN ({quoted})"):
                metrics[run.info.run_id] = dict(run.data.metrics)
        for run_id in rest:
            if run_id not in metrics:
                found = self._run(run_id)
                metrics[run_id] = dict(found.data.metrics) if found is not None else {}
        return metrics

    def _run(self, run_id: str) -> Any:
        try:
            return self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 - a deleted run leaves the version listable
            return None

    def _model(self, name: str) -> Any:
        return registered_model(self.client, name)

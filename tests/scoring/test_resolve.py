"""Model references resolved against the registry through the client given."""

from __future__ import annotations

import pytest

from conveyor.batch import ModelRefError
from conveyor.core.errors import NoStageHolder, RegistryError
from conveyor.scoring import read_schema, resolve
from tests.scoring.conftest import FEATURES, Registered


def test_aliases_latest_and_versions_resolve_to_registry_versions(registered: Registered) -> None:
    client = registered.project.client
    assert resolve(client, "churn@prod").version == "1"
    latest = resolve(client, "churn@latest")
    assert latest.version == max(registered.versions.values(), key=int)
    assert resolve(client, "churn", ["dev", "staging", "prod"]).version == "1"  # the last stage's holder
    assert resolve(client, "churn", ["dev", "staging", "prod"]).to_dict()["ref"] == "churn"
    pinned = resolve(client, "churn@v2")
    assert (pinned.name, pinned.version) == ("churn", "2") and pinned.run_id
    assert pinned.to_dict() == {"ref": "churn@v2", "name": "churn", "version": "2",
                                "run_id": pinned.run_id, "uri": "models:/churn/2"}


def test_unknown_stages_models_and_versions_say_what_to_do(registered: Registered) -> None:
    client = registered.project.client
    with pytest.raises(NoStageHolder, match="no version at stage 'canary'") as info:
        resolve(client, "churn@canary")
    assert "conveyor promote churn --to canary" in (info.value.hint or "")
    with pytest.raises(RegistryError, match="no registered model named 'nope'"):
        resolve(client, "nope@prod")
    with pytest.raises(RegistryError, match="has no version 99"):
        resolve(client, "churn@v99")


def test_the_schema_is_read_from_the_signature_alone(registered: Registered) -> None:
    client = registered.project.client
    schema = read_schema(client, resolve(client, "churn@prod"))
    assert schema.names == FEATURES
    assert {f.name for f in schema.fields if f.text} == {"plan", "region", "payment_method"}
    assert all(f.numeric for f in schema.fields if f.name in FEATURES[:4])


def test_a_bare_name_never_scores_an_unpromoted_version(registered: Registered) -> None:
    client = registered.project.client
    with pytest.raises(NoStageHolder, match="means churn@canary") as info:
        resolve(client, "churn", ["dev", "prod", "canary"])
    assert "conveyor promote churn --to canary" in (info.value.hint or "")
    assert "churn@prod" in (info.value.hint or "") and "churn@latest" in (info.value.hint or "")
    with pytest.raises(ModelRefError, match="names no stage"):
        resolve(client, "churn")  # no project, no stages: say which forms exist

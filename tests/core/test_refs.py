import pytest

from conveyor.core.errors import ModelRefError
from conveyor.core.refs import ModelRef


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("churn@prod", "alias", "prod"),
        ("churn@latest", "latest", None),
        ("churn", "last_stage", None),
        ("churn@v3", "version", "3"),
        ("my.model-2@staging", "alias", "staging"),
    ],
)
def test_parses_alias_latest_and_version(text: str, kind: str, value: str | None) -> None:
    ref = ModelRef.parse(text)
    assert (ref.kind, ref.value) == (kind, value)
    assert ModelRef.parse(str(ref)) == ref


@pytest.mark.parametrize("text", ["", "@prod", "churn@", "churn@prod@x", "churn@3", "9churn@prod"])
def test_rejects_malformed_references(text: str) -> None:
    with pytest.raises(ModelRefError) as info:
        ModelRef.parse(text)
    assert info.value.hint

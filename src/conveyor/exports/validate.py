"""Checks of exported manifests before anything is written: a SparkApplication against the
Spark operator's CRD schema (``spec.versions[].schema.openAPIV3Schema``, vendored in
``schemas/``), core Kubernetes objects against the Kubernetes schemas of
``kubernetes-validate`` when it is installed. A rejection is an ExportError naming the field."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from conveyor.core.errors import ExportError

CRD = Path(__file__).with_name("schemas") / "sparkoperator.k8s.io_sparkapplications.yaml"
KUBERNETES_VERSION = "1.33.0"


@cache
def spark_application_schema(version: str = "v1beta2") -> dict[str, Any]:
    import yaml

    crd = yaml.safe_load(CRD.read_text(encoding="utf-8"))
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    raise ExportError(f"the SparkApplication CRD has no version {version}")


def check_spark_application(manifest: dict[str, Any], name: str, settings: dict[str, str]) -> None:
    """``settings`` maps a manifest path (``spec.driver.cores``) to the config key it came from."""
    from jsonschema import Draft7Validator

    validator = Draft7Validator(spark_application_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path)
        origin = settings.get(where)
        raise ExportError(
            f"the Spark operator's schema rejects {name} at {where}: {first.message}",
            field=origin or where,
            hint=f"fix {origin} in conveyor.yaml" if origin else "see the SparkApplication CRD (v1beta2)",
        )


def check_core_object(manifest: dict[str, Any], name: str) -> None:
    """A Deployment, Service, CronJob, HPA or PDB against the Kubernetes schema (skipped, not
    failed, where kubernetes-validate is not installed)."""
    try:
        import kubernetes_validate
    except ImportError:
        return
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        raise ExportError(f"{name} is not a valid {manifest.get('kind')}: {exc.message}", field=where or None) from None

"""The inference plan logged with a training run, so scoring jobs need no scikit-learn.

Training compiles the fitted model and logs the plan next to it (``inference/plan.pkl``);
batch jobs load that small file instead of unpickling the estimator, which skips importing
scikit-learn in the job's driver. A plan that keeps a scikit-learn final estimator is not
logged (it would need scikit-learn anyway). Logging never fails training, and loading falls
back to the model whenever the plan is absent, from another format, or unreadable.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import PlanUnsupported
from conveyor.inference.compile import build_plan
from conveyor.inference.plan import InferencePlan

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("conveyor.inference")

PLAN_ARTIFACT = "inference/plan.pkl"
PLAN_TAG = "conveyor.inference_plan"
PLAN_FORMAT = 1  # bump when the plan's classes change shape


def log_plan(mlflow: Any, model: Any) -> InferencePlan | None:
    """Compile ``model`` and log the plan to the active run; tag the run with the outcome."""
    try:
        plan = build_plan(model)
        if plan.needs_sklearn:
            raise PlanUnsupported(f"the final estimator ({plan.source.split(' → ')[-1]}) stays with scikit-learn")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(PLAN_ARTIFACT).name
            path.write_bytes(pickle.dumps({"format": PLAN_FORMAT, "plan": plan}))
            mlflow.log_artifact(str(path), artifact_path=str(Path(PLAN_ARTIFACT).parent))
        mlflow.set_tag(PLAN_TAG, PLAN_ARTIFACT)
        return plan
    except PlanUnsupported as exc:
        mlflow.set_tag(PLAN_TAG, f"none: {exc}"[:500])
    except Exception as exc:  # noqa: BLE001 - a plan is an optimisation: never fail training for it
        log.warning("inference plan not logged: %s: %s", type(exc).__name__, exc)
        mlflow.set_tag(PLAN_TAG, f"error: {type(exc).__name__}: {exc}"[:500])
    return None


def load_plan(client: MlflowClient, run_id: str) -> InferencePlan | None:
    """The plan logged with ``run_id``, or None (not logged, older format, unreadable)."""
    if not run_id:
        return None
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, PLAN_ARTIFACT, folder)
            payload = pickle.loads(Path(path).read_bytes())
        except Exception:  # noqa: BLE001 - absent (older run) or unreadable: use the model
            return None
    if not isinstance(payload, dict) or payload.get("format") != PLAN_FORMAT:
        return None
    plan = payload.get("plan")
    return plan if isinstance(plan, InferencePlan) else None

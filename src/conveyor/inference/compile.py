"""Compile a fitted scikit-learn estimator into an :class:`InferencePlan`, or say why not.

Supported: ``Pipeline`` / ``ColumnTransformer`` (columns by name, or by position with
``feature_names_in_``; ``drop`` and numeric ``passthrough``) over ``SimpleImputer``,
``StandardScaler``, ``MinMaxScaler`` and ``OneHotEncoder`` (``drop``, ``handle_unknown``;
no infrequent categories), optionally a scaler on the whole matrix, and a final
``LogisticRegression`` / linear regressor (replayed in numpy) or any other estimator
(called on the dense matrix). Everything else raises :class:`~conveyor.core.errors.PlanUnsupported`.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from conveyor.core.errors import PlanUnsupported
from conveyor.inference.plan import ColumnPlan, InferencePlan
from conveyor.inference.steps import (
    REFUSES_NON_FINITE,
    Accepts,
    EstimatorHead,
    Impute,
    LinearHead,
    MatrixScale,
    MinMax,
    OneHot,
    Scale,
)

log = logging.getLogger("conveyor.inference")

MAX_WIDTH = 2048  # wider matrices (big one-hot blocks) stay with the estimator's sparse path
LINEAR_REGRESSORS = {"LinearRegression", "Ridge", "Lasso", "ElasticNet", "Lars", "LassoLars",
                     "BayesianRidge", "ARDRegression", "HuberRegressor", "SGDRegressor", "LinearSVR"}
LINEAR_CLASSIFIERS = {"LogisticRegression"}


def compile_model(model: Any) -> InferencePlan | None:
    """A plan for ``model``, or None (logged) when some part is not supported."""
    try:
        return build_plan(model)
    except PlanUnsupported as exc:
        log.info("no inference plan for %s: %s", type(model).__name__, exc)
        return None


def explain_unsupported(model: Any) -> str | None:
    """Why ``model`` has no plan, or None when it has one."""
    try:
        build_plan(model)
    except PlanUnsupported as exc:
        return str(exc)
    return None


def build_plan(model: Any) -> InferencePlan:
    if not type(model).__module__.startswith("sklearn."):
        raise PlanUnsupported(f"{type(model).__name__} is not a scikit-learn estimator")
    steps = [s for _, s in getattr(model, "steps", [("model", model)]) if s not in (None, "passthrough")]
    if not steps:
        raise PlanUnsupported("an empty pipeline")
    *transforms, final = steps
    names = _input_names(model)
    columns: list[ColumnPlan] | None = None
    matrix_steps: list[MatrixScale] = []
    for step in transforms:
        if columns is None:
            columns = _frame_step(step, names)
        else:
            matrix_steps.append(MatrixScale(tuple(_column_steps(step, sum(c.width for c in columns)))))
    if columns is None:
        if names is None:
            raise PlanUnsupported("the estimator was fitted without column names")
        columns = [ColumnPlan(n, encoded=False) for n in names]
    width = sum(c.width for c in columns)
    if width > MAX_WIDTH:
        raise PlanUnsupported(f"{width} features: wider than {MAX_WIDTH}")
    expected = getattr(final, "n_features_in_", width)
    if expected != width:
        raise PlanUnsupported(f"the final estimator expects {expected} features, the plan makes {width}")
    head = _head(final, width)
    if isinstance(head, EstimatorHead) and (not transforms or hasattr(final, "feature_names_in_")):
        # nothing to replay, or an estimator that saw a DataFrame (it may read names or dtypes,
        # e.g. native categorical support): only the estimator itself gives its answers
        raise PlanUnsupported(f"{type(final).__name__} reads the data itself; nothing to compile")
    layout: Literal["C", "F"] = "C" if transforms and type(transforms[0]).__name__ == "ColumnTransformer" else "F"
    return InferencePlan(tuple(columns), head, tuple(matrix_steps), source=_describe(model), layout=layout)


def _input_names(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _frame_step(step: Any, names: list[str] | None) -> list[ColumnPlan]:
    """The first transform: a ColumnTransformer, or column-wise steps over every input column."""
    if type(step).__name__ == "ColumnTransformer":
        return _column_transformer(step, names)
    if names is None:
        raise PlanUnsupported("the estimator was fitted without column names")
    return _branch(step, names)


def _column_transformer(ct: Any, names: list[str] | None) -> list[ColumnPlan]:
    names = names or _input_names(ct)
    columns: list[ColumnPlan] = []
    for _, transformer, selection in ct.transformers_:
        selected = _selected(selection, names)
        if transformer == "drop" or not selected:
            continue
        if transformer == "passthrough":
            columns += [ColumnPlan(n, encoded=False) for n in selected]
        else:
            columns += _branch(transformer, selected)
    return columns


def _selected(selection: Any, names: list[str] | None) -> list[str]:
    if isinstance(selection, str):
        return [selection]
    if isinstance(selection, slice) or (hasattr(selection, "dtype") and selection.dtype == bool):
        if names is None:
            raise PlanUnsupported("columns selected by position without column names")
        return list(np.asarray(names, dtype=object)[selection])
    items = list(selection)
    if all(isinstance(i, str) for i in items):
        return items
    if all(isinstance(i, (int, np.integer)) for i in items):
        if names is None:
            raise PlanUnsupported("columns selected by position without column names")
        return [names[int(i)] for i in items]
    raise PlanUnsupported(f"column selection {selection!r}")


def _branch(transformer: Any, selected: list[str]) -> list[ColumnPlan]:
    """A transformer (or pipeline of them) applied column by column to ``selected``."""
    steps = [s for _, s in getattr(transformer, "steps", [("t", transformer)]) if s not in (None, "passthrough")]
    per_column: list[list[Any]] = [[] for _ in selected]
    encoded = [False] * len(selected)
    encoders: list[OneHot | None] = [None] * len(selected)
    for position, step in enumerate(steps):
        kind = type(step).__name__
        if kind == "OneHotEncoder":
            if position != len(steps) - 1:
                raise PlanUnsupported("a step after OneHotEncoder")
            for j, encoder in enumerate(_one_hot(step, len(selected))):
                encoders[j] = encoder
                if not per_column[j]:
                    encoded[j] = True
            continue
        for j, column_step in enumerate(_column_steps(step, len(selected))):
            if isinstance(column_step, Impute) and not per_column[j] and _is_object(step):
                encoded[j] = True
            elif encoded[j] and not isinstance(column_step, Impute):
                raise PlanUnsupported(f"{kind} after a text imputer")
            per_column[j].append(column_step)
    if any(encoded[j] and encoders[j] is None for j in range(len(selected))):
        raise PlanUnsupported("text columns that are not one-hot encoded")
    return [ColumnPlan(n, encoded[j], tuple(per_column[j]), encoders[j]) for j, n in enumerate(selected)]


def _is_object(imputer: Any) -> bool:
    return getattr(imputer, "statistics_", np.array([])).dtype.kind == "O"


def _column_steps(step: Any, count: int) -> list[Impute | Scale | MinMax]:
    kind = type(step).__name__
    if kind == "SimpleImputer":
        if getattr(step, "add_indicator", False):
            raise PlanUnsupported("SimpleImputer(add_indicator=True)")
        stats = np.asarray(step.statistics_)
        if len(stats) != count:
            raise PlanUnsupported("SimpleImputer statistics do not match its columns")
        if not getattr(step, "keep_empty_features", False) and any(_is_nan(s) for s in stats):
            raise PlanUnsupported("SimpleImputer dropped an all-missing column")
        marker = step.missing_values
        if not (_is_nan(marker) or isinstance(marker, (int, float, str)) and not isinstance(marker, bool)):
            raise PlanUnsupported(f"SimpleImputer(missing_values={marker!r})")
        return [Impute(marker, _plain(s)) for s in stats]
    if kind == "StandardScaler":
        mean, scale = getattr(step, "mean_", None), getattr(step, "scale_", None)
        if (mean is not None and len(mean) != count) or (scale is not None and len(scale) != count):
            raise PlanUnsupported("StandardScaler statistics do not match its columns")
        return [Scale(None if mean is None or not step.with_mean else float(mean[j]),
                      None if scale is None or not step.with_std else float(scale[j])) for j in range(count)]
    if kind == "MinMaxScaler":
        clip = tuple(float(v) for v in step.feature_range) if step.clip else None
        return [MinMax(float(step.scale_[j]), float(step.min_[j]), clip) for j in range(count)]  # type: ignore[arg-type]
    raise PlanUnsupported(f"{kind} is not supported")


def _one_hot(encoder: Any, count: int) -> list[OneHot]:
    if getattr(encoder, "_infrequent_enabled", False):
        raise PlanUnsupported("OneHotEncoder with infrequent categories")
    if encoder.handle_unknown not in ("ignore", "error", "infrequent_if_exist", "warn"):
        raise PlanUnsupported(f"OneHotEncoder(handle_unknown={encoder.handle_unknown!r})")
    if len(encoder.categories_) != count:
        raise PlanUnsupported("OneHotEncoder categories do not match its columns")
    drop = getattr(encoder, "drop_idx_", None)
    return [
        OneHot(
            np.asarray(categories),
            None if drop is None or drop[j] is None else int(drop[j]),
            ignore_unknown=encoder.handle_unknown != "error",
            column_index=j,
        )
        for j, categories in enumerate(encoder.categories_)
    ]


def _head(final: Any, width: int) -> LinearHead | EstimatorHead:
    kind = type(final).__name__
    coef = getattr(final, "coef_", None)
    if kind in LINEAR_CLASSIFIERS and coef is not None:
        return LinearHead(np.asarray(coef, dtype=np.float64), np.asarray(final.intercept_, dtype=np.float64),
                          np.asarray(final.classes_), label=kind)
    if kind in LINEAR_REGRESSORS and coef is not None and not hasattr(final, "classes_"):
        return LinearHead(np.asarray(coef, dtype=np.float64), np.asarray(final.intercept_, dtype=np.float64),
                          label=kind)
    if not hasattr(final, "predict"):
        raise PlanUnsupported(f"the final step {kind} does not predict")
    return EstimatorHead(final, probe_accepts(final, width))


PROBE_TOO_LARGE = 1e300  # finite in float64, infinite once cast to float32


def probe_accepts(estimator: Any, width: int) -> Accepts:
    """Which non-finite values a kept final estimator takes, asked of the fitted estimator
    itself, once: a row of NaN (histogram gradient boosting, trees fitted with missing
    values take it), of infinity, and of a number past float32 (trees cast to float32).
    An estimator that refuses even a row of zeros is taken to refuse them all."""
    if not _predicts(estimator, np.zeros((1, width))):
        return REFUSES_NON_FINITE
    return Accepts(
        nan=_predicts(estimator, np.full((1, width), np.nan)),
        inf=_predicts(estimator, np.full((1, width), np.inf)) and _predicts(estimator, np.full((1, width), -np.inf)),
        beyond_float32=_predicts(estimator, np.full((1, width), PROBE_TOO_LARGE)),
    )


def _predicts(estimator: Any, row: np.ndarray) -> bool:
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            estimator.predict(row)
            if hasattr(estimator, "classes_") and hasattr(estimator, "predict_proba"):
                estimator.predict_proba(row)
        except Exception:  # noqa: BLE001 - the estimator refuses this row: that is the answer
            return False
    return True


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _describe(model: Any) -> str:
    steps = getattr(model, "steps", None)
    return " → ".join(type(s).__name__ for _, s in steps) if steps else type(model).__name__

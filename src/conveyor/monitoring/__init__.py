"""Monitoring: data/prediction/performance drift, fairness, reports, and the triggers that
close the loop (alert, retrain). Profiles live in :mod:`conveyor.profiles`, the data it reads
in :mod:`conveyor.data`."""

from conveyor.core.durations import parse_window
from conveyor.core.errors import (
    BaselineMissingError,
    MonitorDataError,
    MonitoringError,
    NoCapturedTrafficError,
    ProfileMismatchError,
    WindowError,
)
from conveyor.lifecycle.baseline import BASELINE_ARTIFACT, build_baseline, load_baseline
from conveyor.monitoring.drift import DriftResult, DriftSettings, FeatureDrift, compare
from conveyor.monitoring.fairness import FairnessResult, evaluate_fairness
from conveyor.monitoring.monitor import MonitorResult, run_monitor
from conveyor.monitoring.performance import PageHinkley, PerformanceResult, evaluate_performance
from conveyor.monitoring.report import render_html

__all__ = [
    "BASELINE_ARTIFACT",
    "BaselineMissingError",
    "DriftResult",
    "DriftSettings",
    "FairnessResult",
    "FeatureDrift",
    "MonitorDataError",
    "MonitorResult",
    "MonitoringError",
    "NoCapturedTrafficError",
    "PageHinkley",
    "PerformanceResult",
    "ProfileMismatchError",
    "WindowError",
    "build_baseline",
    "compare",
    "evaluate_fairness",
    "evaluate_performance",
    "load_baseline",
    "parse_window",
    "render_html",
    "run_monitor",
]

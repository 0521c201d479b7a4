"""Monitoring: mergeable profiles, data/prediction/performance drift, fairness, reports, and
the triggers that close the loop (alert, retrain)."""

from conveyor.core.errors import (
    BaselineMissingError,
    MonitorDataError,
    MonitoringError,
    NoCapturedTrafficError,
    ProfileMismatchError,
    WindowError,
)
from conveyor.monitoring.baseline import BASELINE_ARTIFACT, build_baseline, load_baseline
from conveyor.monitoring.capture import CapturedTraffic, TrafficSource, parse_window
from conveyor.monitoring.drift import DriftResult, DriftSettings, FeatureDrift, compare
from conveyor.monitoring.fairness import FairnessResult, evaluate_fairness
from conveyor.monitoring.merge import merge, merge_all
from conveyor.monitoring.monitor import MonitorResult, run_monitor
from conveyor.monitoring.performance import PageHinkley, PerformanceResult, evaluate_performance
from conveyor.monitoring.profile import DatasetProfile, Profiler
from conveyor.monitoring.report import render_html

__all__ = [
    "BASELINE_ARTIFACT",
    "BaselineMissingError",
    "CapturedTraffic",
    "DatasetProfile",
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
    "Profiler",
    "TrafficSource",
    "WindowError",
    "build_baseline",
    "compare",
    "evaluate_fairness",
    "evaluate_performance",
    "load_baseline",
    "merge",
    "merge_all",
    "parse_window",
    "render_html",
    "run_monitor",
]

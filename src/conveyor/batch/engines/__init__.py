"""Engines run the same part-scoring code: in local processes/threads, or as Spark tasks."""

from conveyor.batch.engines.base import Engine, RunPlan

__all__ = ["Engine", "RunPlan"]

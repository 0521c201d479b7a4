"""Where a monitoring run profiles its current data: here (``local``, the default: a file
streamed chunk by chunk) or on Spark (``spark``: one task per partition, the partitions'
passes merged on the driver). Both run the same pass (:mod:`conveyor.monitoring.current`),
so the same data gives the same verdict and the same numbers."""

from conveyor.monitoring.engines.spark import SparkMonitorEngine

ENGINES = ("local", "spark")

__all__ = ["ENGINES", "SparkMonitorEngine"]

"""Mergeable data profiles and the statistics that compare them (pure; any worker imports it).

A :class:`Profiler` is fitted once on reference data (fixed histogram edges, a category
vocabulary); every :class:`DatasetProfile` it makes — of training data, of a day of captured
traffic, of one Spark partition — merges with :func:`merge`, and merging the profiles of N
partitions gives the profile of the whole. :mod:`conveyor.profiles.stats` compares them.

Importing this package loads numpy only: no monitoring, config, lifecycle or serving module.
"""

from conveyor.core.errors import ProfileMismatchError
from conveyor.profiles.histogram import bin_index, fit_edges, histogram
from conveyor.profiles.merge import merge, merge_all, merge_columns
from conveyor.profiles.parquet import fit_parquet, profile_parquet
from conveyor.profiles.profile import (
    CategoricalProfile,
    ColumnProfile,
    ColumnSchema,
    DatasetProfile,
    Kind,
    NumericProfile,
    Role,
)
from conveyor.profiles.profiler import Profiler

__all__ = [
    "CategoricalProfile",
    "ColumnProfile",
    "ColumnSchema",
    "DatasetProfile",
    "Kind",
    "NumericProfile",
    "ProfileMismatchError",
    "Profiler",
    "Role",
    "bin_index",
    "fit_edges",
    "fit_parquet",
    "histogram",
    "merge",
    "merge_all",
    "merge_columns",
    "profile_parquet",
]

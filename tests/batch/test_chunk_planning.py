"""Task planning of the local engine: parts of exactly batch_size rows, cut at row-group starts."""

from __future__ import annotations

from conveyor.batch.engines.local import plan_tasks
from conveyor.data import RowGroup


def _groups(*sizes: int) -> list[RowGroup]:
    groups, first = [], 0
    for i, rows in enumerate(sizes):
        groups.append(RowGroup(f"f{i}.parquet", 0, first, rows))
        first += rows
    return groups


def _covered(tasks) -> list[int]:
    return sorted(i for t in tasks for i in range(t.first_part, t.first_part + t.parts))


def test_every_part_once_across_files_and_largest_first() -> None:
    groups = _groups(1200, 800)
    tasks = plan_tasks(groups, 200, set(), workers=2)
    assert _covered(tasks) == list(range(10))
    assert [t.parts for t in tasks] == sorted((t.parts for t in tasks), reverse=True)
    assert len(tasks) >= 2  # work for both workers
    assert {t.first_part for t in tasks} >= {0, 6}  # a task starts where each file starts


def test_a_task_carries_only_the_row_groups_holding_its_rows() -> None:
    groups = _groups(1000, 1000, 1000)
    for task in plan_tasks(groups, 300, set(), workers=1):
        start, stop = task.rows(300)
        assert task.groups == tuple(g for g in groups if g.first_row < stop and g.first_row + g.rows > start)


def test_part_spanning_a_file_boundary_stays_whole() -> None:
    tasks = plan_tasks(_groups(500, 500), 300, set(), workers=1)  # part 1 = rows 300..600
    assert _covered(tasks) == [0, 1, 2, 3]
    spanning = next(t for t in tasks if t.first_part <= 1 < t.first_part + t.parts)
    assert [g.path for g in spanning.groups] == ["f0.parquet", "f1.parquet"]


def test_resume_skips_done_parts() -> None:
    tasks = plan_tasks(_groups(2000), 100, {0, 1, 5, 19}, workers=2)
    assert _covered(tasks) == [i for i in range(20) if i not in {0, 1, 5, 19}]


def test_memory_is_bounded_by_task_size_not_input_size() -> None:
    """A huge input gives many tasks of at most 16 parts, never one task per worker."""
    tasks = plan_tasks(_groups(*[1_048_576] * 100), 65_536, set(), workers=2)
    assert max(t.parts for t in tasks) <= 16
    assert _covered(tasks) == list(range(1600))


def test_worker_processes_get_single_threaded_blas_and_the_parent_keeps_its_environment(monkeypatch) -> None:
    import os
    from concurrent.futures import ProcessPoolExecutor

    from conveyor.batch.engines.local import LocalEngine

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # a user's own setting wins
    engine = LocalEngine(workers=2)
    engine.prepare(parts=4)
    try:
        pool: ProcessPoolExecutor = engine._pool  # type: ignore[assignment]
        seen = {pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result() for _ in range(4)}
        omp = pool.submit(os.getenv, "OMP_NUM_THREADS").result()
    finally:
        engine.close()
    assert seen == {"1"} and omp == "3"
    assert "OPENBLAS_NUM_THREADS" not in os.environ

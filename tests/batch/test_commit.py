"""How a part is written: numbers keep min/max statistics (readers prune parts with them),
text is dictionary-encoded without them, and every column reads back with its type."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from conveyor.batch.commit import OutputStore


def test_a_part_keeps_statistics_for_numbers_and_dictionaries_for_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "customer_id": [3, 1, 2],
        "signup_date": pd.to_datetime(["2024-01-02", "2024-03-04", "2024-02-03"]),
        "region": ["north", "south", "north"],
        "probability": [0.2, 0.9, 0.4],
    })
    path = str(tmp_path / "part.parquet")
    OutputStore(str(tmp_path), {})._write_parquet(frame, path, {"model_name": "churn"})
    group = pq.ParquetFile(path).metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    for name in ("customer_id", "signup_date", "probability"):
        assert columns[name].statistics is not None and columns[name].statistics.has_min_max, name
    assert columns["customer_id"].statistics.min == 1 and columns["customer_id"].statistics.max == 3
    for name in ("region", "model_name"):
        assert "RLE_DICTIONARY" in columns[name].encodings or "PLAIN_DICTIONARY" in columns[name].encodings
        assert columns[name].statistics is None or not columns[name].statistics.has_min_max
    table = pq.read_table(path)
    assert table.schema.field("region").type in (pa.string(), pa.large_string())
    assert table.column("model_name").to_pylist() == ["churn"] * 3
    assert table.to_pandas()["region"].tolist() == ["north", "south", "north"]

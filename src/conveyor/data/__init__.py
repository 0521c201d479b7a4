"""Sources and sinks: CSV / Parquet files, folders and globs on fsspec as Arrow batches."""

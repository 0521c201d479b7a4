"""The `conveyor` command line: a thin Typer layer over `conveyor.Project`."""

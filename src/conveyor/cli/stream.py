"""`conveyor stream`: score events from Kafka, Redis Streams or a file, until stopped."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from conveyor.cli.common import EnvOption, JsonOption, ProjectOption, handle_errors, load_project


@handle_errors
def stream(
    model: Annotated[str, typer.Argument(help="NAME (the last stage's holder), NAME@STAGE (followed: hot swap on alias moves), NAME@latest or NAME@vN.")],
    source: Annotated[Optional[str], typer.Option("--source", "-s", help="kafka://HOST:PORT/TOPIC, redis://HOST:PORT/STREAM, file://PATH or a name on the stand's broker (default: stream.source).")] = None,
    sink: Annotated[Optional[str], typer.Option("--sink", help="Where scored events go, on the source's broker (default: stream.sink).")] = None,
    dead_letters: Annotated[Optional[str], typer.Option("--dead-letters", help="Where unscorable events go, with the reason (default: stream.dead_letters, else SOURCE.dead).")] = None,
    feedback: Annotated[Optional[str], typer.Option(help="Labels {event_id, label} to join to the captured events (default: stream.feedback).")] = None,
    group: Annotated[Optional[str], typer.Option(help="Consumer group (default: stream.group, else conveyor-NAME).")] = None,
    max_batch: Annotated[Optional[int], typer.Option(min=1, help="Events per micro-batch (default: stream.max_batch).")] = None,
    max_wait_ms: Annotated[Optional[float], typer.Option(min=0, help="How long a micro-batch waits to fill (default: stream.max_wait_ms).")] = None,
    exactly_once: Annotated[Optional[bool], typer.Option("--exactly-once/--at-least-once", help="Kafka transactions (default: stream.exactly_once).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes in the consumer group (default: stream.workers).")] = None,
    metrics_port: Annotated[Optional[int], typer.Option(min=0, max=65535, help="Port of /metrics and /healthz; worker i uses PORT+i (default: stream.metrics_port, else none).")] = None,
    idle_exit: Annotated[Optional[float], typer.Option(min=0.001, help="Exit after this many seconds without events (default: run until SIGTERM).")] = None,
    follow: Annotated[bool, typer.Option(help="File sources: wait for new lines at the end instead of exiting.")] = False,
    member: Annotated[Optional[str], typer.Option(help="This process's name in the group (default HOST-PID); keep it stable across restarts for exactly-once (the transactional id is GROUP-MEMBER).")] = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Score a stream: micro-batches in, outputs out, inputs committed after the outputs are acknowledged."""
    from conveyor.cli.output import console, print_json
    from conveyor.streaming import StreamOptions, run_stream

    options = StreamOptions(
        model=model, source=source, sink=sink, dead_letters=dead_letters, feedback=feedback, group=group, max_batch=max_batch,
        max_wait_ms=max_wait_ms, exactly_once=exactly_once, workers=workers, metrics_port=metrics_port,
        idle_exit_s=idle_exit, follow=follow, member=member,
    )
    proj = load_project(project, env)
    summary = run_stream(proj.lifecycle, options).to_dict()
    if json:
        print_json({"model": model, **summary})
        return
    versions = ", ".join(f"v{v}: {n:,}" for v, n in summary["versions"].items()) or "none"
    console.print(
        f"[green]✓[/] {model}: {summary['events']:,} events, {summary['scored']:,} scored ({versions}), "
        f"{summary['dead_letters']:,} dead letters in {summary['duration_s']:.1f}s"
    )

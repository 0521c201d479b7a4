"""`conveyor learn`: one guarded online learner on a stream, checkpointing into the registry."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from conveyor.cli.common import EnvOption, JsonOption, ProjectOption, handle_errors, load_project


@handle_errors
def learn(
    model: Annotated[Optional[str], typer.Argument(help="The project's model (default: its name in conveyor.yaml).")] = None,
    source: Annotated[Optional[str], typer.Option("--source", "-s", help="Labelled events: kafka://HOST:PORT/TOPIC, redis://HOST:PORT/STREAM, file://PATH or a name on the stand's broker (default: online.source).")] = None,
    labels: Annotated[Optional[str], typer.Option(help="Late labels {event_id, <target>} for held events (default: online.labels).")] = None,
    dead_letters: Annotated[Optional[str], typer.Option("--dead-letters", help="Rejected events, with the reason (default: online.dead_letters, else SOURCE.dead).")] = None,
    group: Annotated[Optional[str], typer.Option(help="Consumer group (default: online.group, else conveyor-learn-NAME).")] = None,
    max_batch: Annotated[Optional[int], typer.Option(min=1, help="Events per mini-batch (default: online.max_batch).")] = None,
    max_wait_ms: Annotated[Optional[float], typer.Option(min=0, help="How long a mini-batch waits to fill (default: online.max_wait_ms).")] = None,
    idle_exit: Annotated[Optional[float], typer.Option(min=0.001, help="Exit (after a checkpoint) after this many seconds without events (default: run until SIGTERM).")] = None,
    follow: Annotated[bool, typer.Option(help="File sources: wait for new lines at the end instead of exiting.")] = False,
    member: Annotated[Optional[str], typer.Option(help="This process's name in the group (default: learner).")] = None,
    metrics_port: Annotated[Optional[int], typer.Option(min=0, max=65535, help="Port of /metrics (Prometheus: updates, rejected per reason, prequential metric, checkpoints, drifts) and /healthz, on stream.host (default: none).")] = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Learn from a stream: guards, progressive validation, checkpoints gated into the registry."""
    from conveyor.cli.output import console, print_json
    from conveyor.online import LearnOptions, run_learn

    options = LearnOptions(model=model, source=source, labels=labels, dead_letters=dead_letters, group=group,
                           max_batch=max_batch, max_wait_ms=max_wait_ms, idle_exit_s=idle_exit, member=member,
                           follow=follow, metrics_port=metrics_port)
    proj = load_project(project, env)
    summary = run_learn(proj.lifecycle, options).to_dict()
    if json:
        print_json({"model": proj.name, **summary})
        return
    accuracy = summary["prequential"].get("accuracy")
    quality = f", prequential accuracy {accuracy:.3f}" if accuracy is not None else ""
    last = summary["checkpoints"][-1] if summary["checkpoints"] else None
    checkpoint = (f"; last checkpoint v{last['version']} (gate {last['gate']}{', ' + last['alias'] if last['alias'] else ''})"
                  if last else "")
    console.print(
        f"[green]✓[/] {proj.name}: {summary['events']:,} events, {summary['learned']:,} learned, "
        f"{summary['dead_letters']:,} dead letters{quality}{checkpoint} in {summary['duration_s']:.1f}s"
    )

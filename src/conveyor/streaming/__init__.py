"""Streaming scoring: events from a Kafka topic, a Redis stream or a JSON Lines file, scored
in micro-batches through the scoring core, written to a sink with their inputs committed
after the outputs are acknowledged (at-least-once; Kafka exactly-once as an option).

    run_stream(context, StreamOptions)   → StreamSummary   (`conveyor stream`, the stream job)
    Broker                                the contract (brokers.py): KafkaBroker, RedisBroker, FileBroker
    StreamScorer                          the loop (loop.py); BatchScorer (score.py): one micro-batch
    ModelFollower                         hot swap of the version an alias names (swap.py)
"""

from conveyor.streaming.brokers import (
    Batch,
    Broker,
    BrokerSettings,
    Coordinates,
    Delivery,
    Event,
    Record,
    Records,
)
from conveyor.streaming.locations import StreamLocation, parse_location
from conveyor.streaming.loop import LoopOptions, StreamScorer, StreamSummary
from conveyor.streaming.run import StreamOptions, broker_settings, open_broker, run_stream
from conveyor.streaming.score import BatchOutcome, BatchScorer
from conveyor.streaming.swap import ModelFollower

__all__ = [
    "Batch",
    "BatchOutcome",
    "BatchScorer",
    "Broker",
    "BrokerSettings",
    "Coordinates",
    "Delivery",
    "Event",
    "LoopOptions",
    "ModelFollower",
    "Record",
    "Records",
    "StreamLocation",
    "StreamOptions",
    "StreamScorer",
    "StreamSummary",
    "broker_settings",
    "open_broker",
    "parse_location",
    "run_stream",
]

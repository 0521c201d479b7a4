"""Prometheus metrics of one learner process (its own registry), served on ``--metrics-port``
by the stream scorer's :class:`~conveyor.streaming.metrics.MetricsServer`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class OnlineMetrics:
    def __init__(self, model: str) -> None:
        self.model = model
        self.registry = r = CollectorRegistry()
        self.events = Counter("conveyor_online_events", "Events read", ["model"], registry=r)
        self.learned = Counter("conveyor_online_learned", "Events the model learned from", ["model"], registry=r)
        self.rejected = Counter("conveyor_online_rejected", "Events kept from the model, by reason "
                                "(guards, schema, labels), sent to the dead letters", ["model", "reason"], registry=r)
        self.accuracy = Gauge("conveyor_online_prequential_accuracy", "Prequential accuracy over the whole stream "
                              "(classification; updated every mini-batch)", ["model"], registry=r)
        self.mae = Gauge("conveyor_online_prequential_mae", "Prequential mean absolute error over the whole stream "
                         "(regression; updated every mini-batch)", ["model"], registry=r)
        self.window = Gauge("conveyor_online_window_metric", "The gate's metrics over the sliding window of labelled "
                            "events (updated every online.log_every_events and at each checkpoint)",
                            ["model", "metric"], registry=r)
        self.checkpoints = Counter("conveyor_online_checkpoints", "Checkpoints registered, by gate verdict",
                                   ["model", "gate"], registry=r)
        self.rollbacks = Counter("conveyor_online_rollbacks", "Automatic rollbacks of the first stage",
                                 ["model"], registry=r)
        self.drifts = Counter("conveyor_online_drifts", "Drift detections, by signal", ["model", "signal"], registry=r)
        self.waiting = Gauge("conveyor_online_waiting_for_labels", "Events held for a late label", ["model"], registry=r)

    def text(self) -> bytes:
        return generate_latest(self.registry)

"""Names of the MLflow tags conveyor writes: the registry is the system of record."""

GATE = "conveyor.gate"
GATE_REASONS = "conveyor.gate.reasons"
GATE_CHECKS = "conveyor.gate.checks"  # every check's text (JSON list)
GATE_TABLE = "conveyor.gate.table"  # every check: name, metric, threshold, value, passed, detail (JSON)
DATA_SHA256 = "conveyor.data.sha256"
DATA_ROWS = "conveyor.data.rows"
GIT_COMMIT = "conveyor.git.commit"
GIT_DIRTY = "conveyor.git.dirty"
ENVIRONMENT = "conveyor.env"
MODEL = "conveyor.model"
PIPELINE = "conveyor.pipeline"
OWNER_HOST = "conveyor.owner.host"  # the process that owns a RUNNING run: host, PID, start time
OWNER_PID = "conveyor.owner.pid"
OWNER_STARTED = "conveyor.owner.started"
ENDED_BY = "conveyor.ended_by"  # why conveyor ended a run itself: "owner-gone", "SIGTERM", "SIGINT"


def stage_move(stage: str) -> str:
    """Version tag: the last move that gave this version the stage alias (JSON)."""
    return f"conveyor.stage.{stage}"


def stage_history(stage: str) -> str:
    """Registered-model tag: versions that held the stage, oldest first (JSON list)."""
    return f"conveyor.history.{stage}"


def last_move(stage: str) -> str:
    """Registered-model tag: the latest move of the stage alias (JSON)."""
    return f"conveyor.last_move.{stage}"


MODEL_URI = "conveyor.model.uri"
MODEL_ID = "conveyor.model.id"
TRIGGER = "conveyor.trigger"  # what caused a training run: "drift" (lineage)
TRIGGER_RUN_ID = "conveyor.trigger.run_id"  # the monitoring run that asked for it
TRIGGER_REASON = "conveyor.trigger.reason"
RETRAIN_VERSION = "conveyor.retrain.version"  # on a monitoring run: the version it led to
PACK_PREFIX = "conveyor.pack."  # version tags of the version's environment pack
PACK_URI = "conveyor.pack.uri"  # where the pack's tar.gz lies in the stand's artifact store
PACK_SHA256 = "conveyor.pack.sha256"  # the tar.gz's SHA-256: checked before every use
PACK_KEY = "conveyor.pack.key"  # content address: hash of (lock, Python version, platform)
LINEAGE_SOURCE = "conveyor.lineage.source"  # copied version: its source (JSON)
# The run history of `conveyor scheduler` (one MLflow run per pipeline run, in <model>-runs)
RUN_PIPELINE = "conveyor.run.pipeline"  # train | batch | monitor | retrain
RUN_TRIGGER = "conveyor.run.trigger"  # schedule | catch-up | drift | airflow
RUN_SLOT = "conveyor.run.slot"  # the cron slot, UTC: 2026-12-01T0200Z (sorts as it reads)
RUN_STATUS = "conveyor.run.status"  # running | succeeded | rejected | failed | interrupted | killed | skipped
RUN_ATTEMPTS = "conveyor.run.attempts"
RUN_JOB_RUN_ID = "conveyor.run.job_run_id"  # the MLflow run the job made (training, monitoring)
RUN_DETAIL = "conveyor.run.detail"  # one line: what came of it
RUN_AIRFLOW = "conveyor.run.airflow"  # an Airflow DAG run's entry: <dag_id>/<dag_run_id>
SCHEDULER_SINCE = "conveyor.scheduler.since"  # + ".<stand>", experiment tag: when that stand's scheduler first started
COPY_STATE = "conveyor.copy.state"  # a copied version's run: "incomplete" until the version exists
# Online learning (`conveyor learn`): a checkpoint's run and version
ONLINE_CHECKPOINT = "conveyor.online.checkpoint"  # "true" on a checkpoint's version and run
ONLINE_EVENTS = "conveyor.online.events"  # events the learner had read at the checkpoint
ONLINE_LEARNED = "conveyor.online.learned"  # events it had learned from
ONLINE_OFFSETS = "conveyor.online.offsets"  # JSON {source[:partition]: last offset read}
ONLINE_PREVIOUS = "conveyor.online.previous"  # the previous checkpoint's version (lineage)
ONLINE_PREVIOUS_RUN = "conveyor.online.previous_run"  # and its run
ONLINE_LEARNER_RUN = "conveyor.online.learner_run"  # the learner process's own run
ONLINE_LEARNER = "conveyor.online.learner"  # what learns: "sgd (SGDClassifier, classification)"
ONLINE_HOLDOUT = "conveyor.online.holdout"  # what the gate scored: "stream:2000" | the table's path

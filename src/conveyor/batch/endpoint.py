"""Score through a running model endpoint (``--via-endpoint URL``) instead of loading the model.

Each chunk is POSTed in the MLflow scoring format ``{"dataframe_split": ...}``, for a
classification project with ``"params": {"probabilities": true}``. The answer's
``predictions`` become the ``prediction`` column; a classifier served by ``conveyor serve``
also answers ``scores`` and ``classes`` + ``probabilities``, which become the ``probability``
and ``probability_<class>`` columns, as in a local run (a server that ignores the param, like
MLflow's, gives labels only). Connection
errors, 429 and 5xx are retried with exponential backoff; any other 4xx is the rows' fault,
so the pipeline bisects the chunk to find and reject (or fail on) the offending rows.
Concurrency is bounded by the number of threads the local engine runs (``concurrency``).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.batch.scoring import PREDICTION, PROBABILITY, as_prediction_frame, probability_column
from conveyor.core.errors import EndpointError, EndpointRejected

if TYPE_CHECKING:
    import pandas as pd

RETRY_STATUS = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class EndpointSettings:
    url: str
    concurrency: int = 4
    retries: int = 3
    timeout_s: float = 60.0
    rows_per_request: int | None = None
    backoff_s: float = 0.2
    probabilities: bool = False  # ask for every class's probability (a classification project)

    @property
    def invocations(self) -> str:
        """The URL to POST to: ``/invocations`` is added when the URL has no path."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise EndpointError(f"{self.url!r} is not an http(s) URL", hint="e.g. --via-endpoint http://host:8080")
        if parts.path in ("", "/"):
            return urllib.parse.urlunsplit(parts._replace(path="/invocations"))
        return self.url


class EndpointScorer:
    def __init__(self, settings: EndpointSettings, columns: list[str]) -> None:
        self.settings = settings
        self.columns = columns
        self.url = settings.invocations
        self.requests = 0

    def __call__(self, features: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        size = self.settings.rows_per_request or len(features)
        pieces = [self._post(features.iloc[i : i + size]) for i in range(0, len(features), size)]
        return pd.concat(pieces) if len(pieces) > 1 else pieces[0]

    def _post(self, features: pd.DataFrame) -> pd.DataFrame:
        params = ', "params": {"probabilities": true}' if self.settings.probabilities else ""
        body = ('{"dataframe_split": ' + features.to_json(orient="split", index=False) + params + "}").encode()
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                    payload = json.loads(response.read())
                return _predictions(payload, features.index)
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:500].decode("utf-8", "replace")
                if exc.code not in RETRY_STATUS:
                    raise EndpointRejected(f"endpoint answered {exc.code}: {detail}") from None
                problem = f"HTTP {exc.code}: {detail}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            if attempt > self.settings.retries:
                raise EndpointError(
                    f"endpoint {self.url} failed {attempt} times; last: {problem}",
                    hint="check that the endpoint is up; completed parts are kept, rerun with --resume",
                )
            time.sleep(self.settings.backoff_s * 2 ** (attempt - 1))


def _predictions(payload: Any, index: pd.Index) -> pd.DataFrame:
    frame = _labels(payload, index)
    scores = payload.get("scores") if isinstance(payload, dict) else None
    if isinstance(scores, list) and PROBABILITY not in frame.columns:
        if len(scores) != len(index):
            raise ValueError(f"the endpoint answered {len(scores)} scores for {len(index)} rows")
        frame[PROBABILITY] = [float("nan") if s is None else float(s) for s in scores]
    classes, probabilities = (payload.get("classes"), payload.get("probabilities")) if isinstance(payload, dict) \
        else (None, None)
    if isinstance(classes, list) and isinstance(probabilities, list):
        if len(probabilities) != len(index) or any(len(p) != len(classes) for p in probabilities):
            raise ValueError(f"the endpoint answered probabilities that are not {len(index)} rows × {len(classes)} classes")
        for j, label in enumerate(classes):
            frame[probability_column(label)] = [float("nan") if p[j] is None else float(p[j]) for p in probabilities]
    return frame


def _labels(payload: Any, index: pd.Index) -> pd.DataFrame:
    import pandas as pd

    values = payload.get("predictions", payload) if isinstance(payload, dict) else payload
    if isinstance(values, dict):  # column-oriented: {"prediction": [...], ...}
        return as_prediction_frame(pd.DataFrame(values), index)
    if values and isinstance(values[0], dict):
        frame = pd.DataFrame(values)
        if PREDICTION not in frame.columns and len(frame.columns) == 1:
            frame.columns = [PREDICTION]
        return as_prediction_frame(frame, index)
    return as_prediction_frame(values, index)

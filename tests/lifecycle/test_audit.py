"""The audit log read a page at a time: newest first, only the events a page returns read,
with events of several days and of names written before the action was in them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conveyor.core.errors import OptionError
from conveyor.lifecycle.audit import AuditEvent, AuditLog
from conveyor.stack.artifacts import ArtifactStore

EVENTS = 3000  # one move in ten, the rest traffic changes


@dataclass(frozen=True)
class CountingStore(ArtifactStore):
    """The local store, counting the objects it reads."""

    reads: list[str] = field(default_factory=list)

    def read_json(self, relative: str) -> object:
        self.reads.append(relative)
        return super().read_json(relative)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> AuditLog:
    store = CountingStore(str(tmp_path_factory.mktemp("audit")))
    audit = AuditLog(store)
    for i in range(EVENTS):
        action = "promote" if i % 10 == 0 else "traffic"
        audit.append(AuditEvent(action, "churn", "staging", str(i), str(i + 1), reason=f"event {i}"))
    # two days before: events named before the action was part of the name
    for i in range(3):
        store.write_json(f"audit/churn/2026-01-0{i + 1}/2026010{i + 1}T120000000000-0000000{i}.json",
                         AuditEvent("rollback", "churn", "prod", "2", "1", reason=f"old {i}").to_dict())
    store.reads.clear()
    return audit


def _reads(log: AuditLog) -> list[str]:
    reads: list[str] = log.store.reads  # type: ignore[attr-defined]
    return reads


def test_a_page_reads_only_its_own_events_newest_first(log):
    events, token = log.page("churn", None, 25)
    assert [e["reason"] for e in events] == [f"event {i}" for i in range(EVENTS - 1, EVENTS - 26, -1)]
    assert token is not None and len(_reads(log)) == 25
    _reads(log).clear()
    following, _ = log.page("churn", None, 25, token)
    assert following[0]["reason"] == f"event {EVENTS - 26}" and len(_reads(log)) == 25


def test_pages_of_one_kind_skip_the_others_unread_and_reach_the_oldest_names(log):
    seen, token, pages = [], None, 0
    _reads(log).clear()
    while True:
        events, token = log.page("churn", ("promote", "rollback"), 100, token)
        seen += [e["reason"] for e in events]
        pages += 1
        if token is None:
            break
    promotes = [f"event {i}" for i in range(EVENTS - 10, -1, -10)]
    assert seen == promotes + ["old 2", "old 1", "old 0"]  # newest first, across days
    # a traffic change is never read; the one extra read: the third page is full and what
    # follows it is an old name, which has to be read to know it is a rollback
    assert pages == 4 and len(_reads(log)) == len(seen) + 1


def test_every_event_is_on_exactly_one_page(log):
    seen, token = [], None
    while True:
        events, token = log.page("churn", None, 200, token)
        seen += [e["reason"] for e in events]
        if token is None:
            break
    assert len(seen) == EVENTS + 3 and len(set(seen)) == EVENTS + 3


def test_a_cursor_that_is_not_one_is_refused_and_an_empty_log_has_one_empty_page(log, tmp_path):
    with pytest.raises(OptionError, match="not a position"):
        log.page("churn", None, 10, "../../etc/passwd")
    assert AuditLog(ArtifactStore(str(tmp_path))).page("churn", None, 10) == ([], None)


def test_new_events_carry_their_action_in_the_name_and_the_whole_log_still_reads(log):
    names = log.store.names("audit/churn")
    assert names[:2] == ["2026-01-01", "2026-01-02"]
    today = log.store.names(f"audit/churn/{names[-1]}")
    assert {name.rsplit(".", 2)[1] for name in today} == {"promote", "traffic"}
    assert len(log.events("churn")) == EVENTS + 3

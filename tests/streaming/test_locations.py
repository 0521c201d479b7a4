"""Stream locations: URLs, bare names on the stand's broker, and the errors for bad ones."""

from __future__ import annotations

import pytest

from conveyor.core.errors import ExitCode, StreamUrlError
from conveyor.streaming.locations import check_same_broker, dead_letters_of, parse_location


def test_urls_of_each_kind() -> None:
    kafka = parse_location("kafka://a:9092,b:9092/churn-features")
    assert (kafka.kind, kafka.address, kafka.name) == ("kafka", "a:9092,b:9092", "churn-features")
    redis = parse_location("redis://127.0.0.1:6379/churn?db=2")
    assert (redis.kind, redis.address, redis.name, redis.db) == ("redis", "127.0.0.1:6379", "churn", 2)
    assert parse_location("file://events.jsonl").name == "events.jsonl"
    assert parse_location("file:///tmp/events.jsonl").name == "/tmp/events.jsonl"


def test_a_bare_name_is_found_on_the_stands_broker() -> None:
    location = parse_location("churn-scores", broker="kafka://kafka-prod:9092")
    assert str(location) == "kafka://kafka-prod:9092/churn-scores"
    with pytest.raises(StreamUrlError, match="bare name and this stand has no broker"):
        parse_location("churn-scores")


@pytest.mark.parametrize(("text", "message"), [
    ("amqp://h/q", "unknown scheme 'amqp://'"),
    ("kafka://h:9092", "needs a broker address and a topic"),
    ("redis:///s", "needs a broker address and a stream"),
    ("file://", "names no file"),
])
def test_bad_urls_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(StreamUrlError, match=message) as error:
        parse_location(text)
    assert error.value.exit_code == ExitCode.USAGE


def test_dead_letters_default_beside_the_source_and_on_its_broker() -> None:
    assert dead_letters_of(parse_location("kafka://h:1/in")).name == "in.dead"
    assert dead_letters_of(parse_location("file://data/events.jsonl")).name == "data/events.dead.jsonl"
    with pytest.raises(StreamUrlError, match="not on the source's broker"):
        check_same_broker(parse_location("kafka://h:1/in"), parse_location("kafka://other:1/out"), "sink")


def test_a_bad_scheme_on_the_command_line_exits_2(stream_project, cli) -> None:
    result = cli("stream", "churn@prod", "--project", stream_project, "--source", "amqp://h/q", "--sink", "x")
    assert result.exit_code == 2
    assert "unknown scheme 'amqp://'" in result.output

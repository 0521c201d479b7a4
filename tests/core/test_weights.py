from conveyor.core.weights import rescaled_notice, shares


def test_weights_summing_to_100_need_no_notice() -> None:
    assert rescaled_notice({"prod": 90, "staging": 10}) is None
    assert rescaled_notice({"prod": 100.0}) is None
    assert rescaled_notice({}) is None


def test_other_sums_are_rescaled_to_shares_and_said_so() -> None:
    assert shares({"a": 1, "b": 3}) == {"a": 25.0, "b": 75.0}
    assert rescaled_notice({"a": 1, "b": 2}, "serve.traffic weights") == (
        "serve.traffic weights sum to 3, not 100: rescaled to a 33.33%, b 66.67%")

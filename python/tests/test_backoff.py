"""The waiting rules are the page's (app/src/poll.rs), checked point by point."""

from shaplab.backoff import Poller


def test_polls_at_the_hint_and_stretches_while_nothing_changes():
    p = Poller()
    p.progressed(2.0)
    assert p.nominal_s() == 2.0
    p.same(None)
    assert p.nominal_s() == 3.0
    for _ in range(20):
        p.same(None)
    assert p.nominal_s() == 10.0
    p.progressed(0.1)
    assert p.nominal_s() == 0.25, "never faster than 0.25 s"


def test_failures_back_off_to_30s_and_retry_after_is_a_floor():
    p = Poller()
    waits = []
    for _ in range(7):
        p.failed(None)
        waits.append(p.nominal_s())
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    p.failed(45.0)
    assert p.nominal_s() == 45.0
    assert p.delay_s(0.0) == 45.0, "jitter never shortens Retry-After"
    assert 36.0 <= p.delay_s(0.99) < 54.0


def test_jitter_is_twenty_percent_either_way():
    p = Poller()
    p.progressed(1.0)
    assert abs(p.delay_s(0.0) - 0.8) < 1e-12
    assert abs(p.delay_s(0.5) - 1.0) < 1e-12
    assert abs(p.delay_s(1.0) - 1.2) < 1e-12

from api_gateway.balancer import InstancePool


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def pool(clock: Clock, n: int = 3) -> InstancePool:
    return InstancePool("lesson", [f"http://10.0.0.{i}" for i in range(n)], ejection_seconds=10,
                        errors_to_eject=3, clock=clock)


def test_instances_take_turns():
    p = pool(Clock())
    assert [p.pick().url[-1] for _ in range(6)] == list("012012")


def test_a_connection_failure_ejects_an_instance_for_a_while():
    clock = Clock()
    p = pool(clock)
    p.failed(p.instances[1], connection=True)
    assert {p.pick().url for _ in range(6)} == {"http://10.0.0.0", "http://10.0.0.2"}
    clock.now = 11
    assert "http://10.0.0.1" in {p.pick().url for _ in range(6)}


def test_repeated_errors_eject_but_a_success_in_between_forgives():
    clock = Clock()
    p = pool(clock, 2)
    first = p.instances[0]
    p.failed(first, connection=False)
    p.failed(first, connection=False)
    p.succeeded(first)
    p.failed(first, connection=False)
    assert first.available(clock.now)
    p.failed(first, connection=False)
    p.failed(first, connection=False)
    assert not first.available(clock.now)


def test_when_every_instance_is_ejected_the_one_back_soonest_is_tried():
    clock = Clock()
    p = pool(clock, 2)
    p.failed(p.instances[1], connection=True)
    clock.now = 1
    p.failed(p.instances[0], connection=True)
    assert p.pick() is p.instances[1]


def test_excluded_instances_are_not_picked_again():
    p = pool(Clock(), 2)
    assert p.pick(exclude=[p.instances[0]]) is p.instances[1]
    assert p.pick(exclude=p.instances) is None

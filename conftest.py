from pathlib import Path

import pytest

pytest_plugins = ["hhc_devstack.pytest_plugin"]

WHOLE_SYSTEM_TESTS = Path(__file__).parent / "tests"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """For ``-n N --dist loadgroup`` (``make test``): the cross-service tests, which start
    all five services as processes, run one after another in one worker, and every other
    test file goes whole to a worker. Two systems starting at once on two cores starve
    each other's brokers and timers; a file kept whole starts its module fixtures once."""
    for item in items:
        group = "whole-system" if item.path.is_relative_to(WHOLE_SYSTEM_TESTS) else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))

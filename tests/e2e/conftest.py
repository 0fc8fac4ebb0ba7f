"""Fixtures for end-to-end tests against a simulated fleet (tools/fleet.py)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lib'))

import fleet as fleet_harness  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def small_fleet(tmp_path_factory, request):
    """A running fleet; parameters come from @pytest.mark.fleet(size=…, scenarios=[…], log_level=…)."""
    marker = request.node.get_closest_marker('fleet')
    opts = dict(marker.kwargs) if marker else {}
    root = str(tmp_path_factory.mktemp('fleet'))
    fleet = fleet_harness.Fleet(root, size=opts.get('size', 1), port=opts.get('port', 2422),
                                net=opts.get('net', '127.44'), log_level=opts.get('log_level', 'INFO'),
                                scenarios=opts.get('scenarios'))
    fleet.create()
    fleet.start()
    yield fleet
    fleet.stop()


def pytest_configure(config):
    config.addinivalue_line('markers', 'fleet(size, scenarios, log_level, port, net): simulated fleet options')

"""The load tests' locustfile, where `make loadtest` and compose's load generator point locust:
`locust -f loadtest/locustfile.py --scenario order`. Users, shape and options live in
loadtest/traffic/locustfile.py; locust finds them here, by the names of its CLASSES."""

from loadtest.traffic.locustfile import CLASSES, ScenarioShape

globals().update(CLASSES)  # locust collects the User classes among this module's names
__all__ = [*CLASSES, "ScenarioShape"]

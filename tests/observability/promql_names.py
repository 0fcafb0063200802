"""The metric names a PromQL expression reads, from promql-parser's syntax tree (which also
rejects a query Prometheus would not parse)."""

from __future__ import annotations

import promql_parser

# Grafana's interval variables are not PromQL; any duration parses the same.
GRAFANA_VARIABLES = ("$__rate_interval", "$__interval", "$__range")


def metric_names(expr: str) -> set[str]:
    """Names of the series `expr` selects (`ValueError` when it is no valid PromQL)."""
    for variable in GRAFANA_VARIABLES:
        expr = expr.replace(variable, "1m")
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names

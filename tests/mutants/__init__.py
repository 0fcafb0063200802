"""Guard mutations: each guarantee's guard removed in turn, and the tests that must then fail.

`make mutants` (python -m tests.mutants) applies each mutation to a copy of `service/` and runs
the tests named for it against the copy; a mutation the tests survive fails the run.
"""

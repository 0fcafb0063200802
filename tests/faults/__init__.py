"""Fault drills: private MariaDB and Redis servers the tests may kill, cut and restart."""

"""Who is calling: signed user bearer tokens (standard library only, no I/O)."""

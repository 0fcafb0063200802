"""Admission control: how many requests the shop serves at once, and who waits or is refused.

`limit.py` estimates the concurrency the process sustains without queueing (a gradient limit,
pure arithmetic); `gate.py` holds the admitted and the waiting, by priority, with a queue
deadline in the CoDel family and LIFO under overload. Neither imports aiohttp: the HTTP side
is `api/framework/admission.py` (docs/decisions/0041-admission-control.md).
"""

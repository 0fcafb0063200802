"""Pure business rules and values; imports nothing but the standard library.

errors.py    every failure the shop can answer, each with a stable code
money.py     the balance and charge bounds
ids.py       the length bound of every id
users.py     balance movements and charge receipts
products.py  the catalogue and its sort orders
carts.py     carts and their lines
coupons.py   coupon kinds, user-coupon statuses, the discount arithmetic, gate answers
orders.py    order lines, totals and stock checks
idempotency.py  idempotency keys: key syntax, request fingerprints, what a retry gets
"""

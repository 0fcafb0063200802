"""Pure business rules: money, discounts, coupons, orders, errors.

errors.py    every failure the shop can answer, each with a stable code
money.py     integer won amounts and the balance bounds
coupons.py   coupon kinds, statuses and the discount arithmetic
orders.py    order lines and totals
"""

"""The HTTP layer, read from the top: routes.py (the table), handlers/, types/, framework/.

The only code that imports aiohttp.
"""

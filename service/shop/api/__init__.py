"""The HTTP layer: the only code that imports aiohttp."""

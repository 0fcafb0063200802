"""The machinery of the HTTP layer: routing a typed call, decoding, problems, the server."""

"""The handlers, one module per business noun: typed input, one use case, typed output."""

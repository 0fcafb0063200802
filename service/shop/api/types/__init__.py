"""The request and answer types of the HTTP contract, each declared once."""

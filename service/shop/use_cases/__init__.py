"""The shop's verbs; each takes keyword-only arguments and depends only on ports."""

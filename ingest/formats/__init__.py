"""Wire formats: one module per format, each a pure function from a body to invocations."""

"""Failure classification: pure functions from a canonical invocation to a diagnosis.

`engine.classify(invocation)` reads a `traceview.core.trace.InvocationData` (steps and the
agent's budgets filled in) and returns a `Diagnosis`. No database access in the rules (base,
helpers and one module per family of rules); the write side (`diagnosis`, run by `tasks`) loads
invocations, calls the engine and stores the result with `RULESET_VERSION`.
"""

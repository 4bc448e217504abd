"""The core of every capability: projects and their keys, agents, invocations and their steps,
and the rows the classifier writes about an invocation (models); the canonical trace every wire
format becomes (trace); the reads shared by the pages and the classifier (queries); and the
invocation's search document (search)."""

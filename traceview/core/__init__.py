"""The core of every capability: projects and their keys, agents, invocations and their steps
(models), the canonical trace every wire format becomes (trace), the reads shared by the pages
and the classifier (queries), and the invocation's search document (search)."""

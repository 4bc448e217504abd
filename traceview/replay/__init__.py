"""Looking at runs: the invocation list with its filters and search, the replay page of one
invocation (its step outline, step details and charts) and the read API."""

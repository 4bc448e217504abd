"""Working failures: failed invocations grouped into issues, their queues and lifecycle,
corrections of the classifier's verdicts, and webhooks for new and regressed issues."""

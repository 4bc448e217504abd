"""Framework hooks. Each module imports its framework lazily, installed through an extra:
`traceview-sdk[openai-agents]`, `traceview-sdk[langchain]`, `traceview-sdk[otel]`."""

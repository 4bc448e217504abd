// A GenAI run traced with @opentelemetry/sdk-node, configured only by the OTEL_* environment
// (exporters, protocol, endpoint, headers), as tests/ingest/test_node_clients.py runs it.
// Spans as the GenAI conventions name them, the user's message as a log event, token usage as a
// metric; prints the run's trace id once everything is exported.
const { NodeSDK } = require("@opentelemetry/sdk-node");
const api = require("@opentelemetry/api");

const { logs } = api;

async function main() {
  const sdk = new NodeSDK();
  sdk.start();
  const tracer = api.trace.getTracer("tests.node");
  const logger = logs.getLogger("tests.node");
  const usage = api.metrics.getMeter("tests.node").createHistogram("gen_ai.client.token.usage");
  let traceId;
  tracer.startActiveSpan("invoke_agent planner", (root) => {
    root.setAttributes({ "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner" });
    traceId = root.spanContext().traceId;
    tracer.startActiveSpan("chat gpt-4o", (chat) => {
      chat.setAttributes({
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 15,
        "gen_ai.response.finish_reasons": ["tool_calls"],
      });
      logger.emit({
        eventName: "gen_ai.user.message",
        body: { content: "Find the refund policy." },
        attributes: { "gen_ai.system": "openai" },
      });
      usage.record(120, { "gen_ai.token.type": "input", "gen_ai.request.model": "gpt-4o" });
      chat.end();
    });
    tracer.startActiveSpan("execute_tool search", (tool) => {
      tool.setAttributes({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
                           "gen_ai.tool.call.id": "call_9" });
      const error = new Error("search timed out after 30s");
      error.name = "TimeoutError";
      tool.recordException(error);
      tool.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
      tool.end();
    });
    root.end();
  });
  await sdk.shutdown();
  console.log(traceId);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

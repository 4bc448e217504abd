// A Vercel AI SDK agent (generateText with a tool) on the SDK's own MockLanguageModelV4: it asks
// for `lookup_order`, then answers. Traced by the AI SDK's OpenTelemetry integration (@ai-sdk/otel)
// through @opentelemetry/sdk-node, configured only by the OTEL_* environment
// (tests/ingest/test_node_clients.py).
import { NodeSDK } from "@opentelemetry/sdk-node";
import { OpenTelemetry } from "@ai-sdk/otel";
import { generateText, registerTelemetry, stepCountIs, tool } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { z } from "zod";

const usage = (input, output) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});

const model = new MockLanguageModelV4({
  provider: "mock-provider",
  modelId: "mock-gpt",
  doGenerate: [
    {
      content: [{ type: "tool-call", toolCallId: "call_1", toolName: "lookup_order",
                  input: JSON.stringify({ orderId: 4411 }) }],
      finishReason: { unified: "tool-calls", raw: "tool_calls" },
      usage: usage(50, 12),
      warnings: [],
    },
    {
      content: [{ type: "text", text: "Order 4411 shipped on Monday." }],
      finishReason: { unified: "stop", raw: "stop" },
      usage: usage(80, 9),
      warnings: [],
    },
  ],
});

const sdk = new NodeSDK();
sdk.start();
registerTelemetry(new OpenTelemetry());
await generateText({
  model,
  system: "You answer questions about orders.",
  prompt: "Where is order 4411?",
  tools: {
    lookup_order: tool({
      description: "Look an order up by its number.",
      inputSchema: z.object({ orderId: z.number() }),
      execute: async ({ orderId }) => ({ orderId, status: "shipped" }),
    }),
  },
  stopWhen: stepCountIs(3),
  experimental_telemetry: { isEnabled: true, functionId: "support-bot" },
});
await sdk.shutdown();

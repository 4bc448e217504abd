"""Run one scenario in a real framework, traced by a real exporter into the capture server.

- openai-agents: openai-agents, traced by the SDK itself, BackendSpanExporter, POST
  /v1/traces/ingest;
- openinference-agents: openai-agents, OpenInference instrumentor, OTLP/HTTP protobuf (gzip for
  every other scenario), POST /v1/traces;
- langfuse: openai-agents, OpenInference instrumentor, the Langfuse client (its OTLP exporter),
  POST /api/public/otel/v1/traces;
- pydantic-ai: pydantic-ai's own instrumentation (GenAI conventions), the OTLP/HTTP JSON
  exporter, POST /v1/traces;
- langgraph: a LangGraph StateGraph with ToolNode, OpenInference LangChain instrumentor,
  OTLP/HTTP protobuf (gzip for every other scenario), POST /v1/traces.

Every model call goes to the scripted stub through the framework's own OpenAI client; tools
are `kit.tool_function`s. Budgets are declared where users of each route put them: the Agents
SDK's trace metadata; OpenInference's `metadata` (LangGraph); for pydantic-ai the OTLP resource
(even scenarios) or the agent run's metadata on its root span (odd ones). Exporters batch a few
spans a request, so a run arrives split, children before parents.
"""

from __future__ import annotations

import asyncio
import functools
from contextlib import contextmanager

from .kit import Guard, RunLimitError, Scenario, ToolFailure, reset, tool_function
from .servers import CaptureServer, ModelStub

BATCH = 6  # spans per export request


class Route:
    name: str

    def __init__(self, capture: CaptureServer, stub: ModelStub):
        self.capture, self.stub = capture, stub

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def run(self, scenario: Scenario, n: int) -> dict:
        """Run the scenario (n: its index, for alternating options); what happened."""
        reset(scenario)
        guard = Guard(scenario)
        run = self.stub.start(scenario.model, scenario.turns)
        outcome = {"error": None, "output": None}
        self.clients = []
        try:
            outcome["output"] = asyncio.run(self._closing(self._run(scenario, n, guard, run)))
        except Exception as exc:  # the run aborted: that is what some scenarios are about
            outcome["error"] = f"{type(exc).__name__}: {exc}"[:300]
        self.flush()
        script = self.stub.scripts[run]
        outcome["llm_requests"] = script.requests
        outcome["script_overrun"] = script.ended
        outcome["guard_fired_at_llm"] = guard.fired_at_llm
        outcome["subruns"] = [self.stub.scripts[r].requests for r in guard.subruns]
        return outcome

    async def _closing(self, run):
        # The model clients are closed inside the run's event loop, not by the garbage collector
        # after it has gone.
        try:
            return await run
        finally:
            for client in self.clients:
                await client.close()

    def client(self, run: str):
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=self.stub.base_url(run), api_key="scripted", max_retries=0)
        self.clients.append(client)
        return client

    def flush(self) -> None:
        raise NotImplementedError

    def budget_metadata(self, scenario: Scenario) -> dict:
        if not scenario.declare_budget:
            return {}
        return {k: v for k, v in scenario.budget.items()}


# --- openai-agents -------------------------------------------------------------------------------


class AgentsRoute(Route):
    def _tool_error(self, ctx, error):
        # What the model is told when a tool raises; limits abort the run instead (None).
        if isinstance(error, RunLimitError):
            return None
        return f"{type(error).__name__}: {error}"

    def _agents(self, scenario: Scenario, guard: Guard, run: str):
        from agents import Agent, OpenAIChatCompletionsModel, function_tool

        def model_for(model: str, run_id: str):
            return OpenAIChatCompletionsModel(model=model, openai_client=self.client(run_id))

        async def run_subagent(sub, prompt):
            from agents import Runner

            sub_run = self.stub.start(sub.model, sub.turns)
            guard.subruns.append(sub_run)
            agent = Agent(name=sub.name, instructions=sub.instructions,
                          tools=[tool_for(t) for t in sub.tools],
                          model=model_for(sub.model, sub_run))
            result = await Runner.run(agent, prompt, hooks=self._hooks(guard, sub.model))
            return str(result.final_output)

        def tool_for(spec):
            return function_tool(tool_function(spec, guard, run_subagent), name_override=spec.name,
                                 description_override=spec.description,
                                 failure_error_function=self._tool_error, strict_mode=False)

        model = model_for(scenario.model, run)
        tools = [tool_for(t) for t in scenario.tools]
        if not scenario.handoffs:
            return Agent(name=scenario.agent, instructions=scenario.instructions, tools=tools,
                         model=model)
        # Agents that hand the conversation to each other share the one scripted model.
        agents = {name: Agent(name=name, instructions=instructions, tools=tools, model=model)
                  for name, (instructions, _) in scenario.handoffs.items()}
        for name, (_, targets) in scenario.handoffs.items():
            agents[name].handoffs = [agents[t] for t in targets]
        return agents[scenario.agent]

    def _hooks(self, guard: Guard, model: str):
        from agents import RunHooks

        class Hooks(RunHooks):
            async def on_llm_end(self, context, agent, response):
                guard.after_llm(response.usage.input_tokens, response.usage.output_tokens, model)

        return Hooks()

    async def _run(self, scenario, n, guard, run):
        from agents import RunConfig, Runner
        from agents.run_config import ModelInputData

        agent = self._agents(scenario, guard, run)
        metadata = {k: str(v) for k, v in self.budget_metadata(scenario).items()}

        def trimmed(data):
            # The app keeps the model's input short: the last N items of the conversation.
            return ModelInputData(input=data.model_data.input[-scenario.trim_to:],
                                  instructions=data.model_data.instructions)

        result = await Runner.run(
            agent, scenario.prompt, max_turns=scenario.budget.get("max_turns", 25),
            hooks=self._hooks(guard, scenario.model),
            run_config=RunConfig(workflow_name=scenario.agent, trace_metadata=metadata or None,
                                 group_id=scenario.key,
                                 call_model_input_filter=trimmed if scenario.trim_to else None),
        )
        return str(result.final_output)


class OpenAIAgentsRoute(AgentsRoute):
    name = "openai-agents"

    def __enter__(self):
        from agents import set_trace_processors, set_tracing_disabled
        from agents.tracing.processors import BackendSpanExporter, BatchTraceProcessor

        self.exporter = BackendSpanExporter(api_key="tv-recording",
                                            endpoint=f"{self.capture.url}/v1/traces/ingest")
        self.processor = BatchTraceProcessor(self.exporter, max_batch_size=BATCH)
        set_tracing_disabled(False)
        set_trace_processors([self.processor])
        return self

    def __exit__(self, *exc):
        from agents import set_trace_processors

        set_trace_processors([])
        self.processor.shutdown()
        self.exporter.close()

    def flush(self):
        self.processor.force_flush()


@contextmanager
def _otel_provider(exporter, resource: dict | None = None):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create(resource or {}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=BATCH))
    try:
        yield provider
    finally:
        provider.shutdown()


def _protobuf_exporter(url: str, gzip: bool):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=f"{url}/v1/traces",
                            compression=Compression.Gzip if gzip else Compression.NoCompression)


class OpenInferenceAgentsRoute(AgentsRoute):
    """One tracer provider per scenario, so each can choose gzip."""

    name = "openinference-agents"

    def run(self, scenario, n):
        from agents import set_trace_processors, set_tracing_disabled
        from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

        with _otel_provider(_protobuf_exporter(self.capture.url, gzip=n % 2 == 1),
                            {"service.name": scenario.agent}) as provider:
            self.provider = provider
            set_tracing_disabled(False)
            set_trace_processors([])  # nothing to OpenAI; the instrumentor adds its processor
            instrumentor = OpenAIAgentsInstrumentor()
            instrumentor.instrument(tracer_provider=provider)
            try:
                return super().run(scenario, n)
            finally:
                instrumentor.uninstrument()
                set_trace_processors([])

    def flush(self):
        self.provider.force_flush()


class LangfuseRoute(AgentsRoute):
    """Langfuse's documented set-up for the Agents SDK: its client plus OpenInference."""

    name = "langfuse"

    def run(self, scenario, n):
        import langfuse
        from agents import set_trace_processors, set_tracing_disabled
        from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
        from opentelemetry.sdk.trace import TracerProvider

        provider = TracerProvider()
        # Langfuse keeps one client per public key for the process: a fresh key per run, so
        # that each run gets a client that was not shut down after the previous one.
        self.langfuse = langfuse.Langfuse(public_key=f"pk-lf-{scenario.key}",
                                          secret_key="sk-recording",
                                        host=self.capture.url, tracer_provider=provider,
                                        flush_at=BATCH)
        set_tracing_disabled(False)
        set_trace_processors([])
        instrumentor = OpenAIAgentsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        self.provider = provider
        try:
            return super().run(scenario, n)
        finally:
            instrumentor.uninstrument()
            set_trace_processors([])
            self.langfuse.shutdown()
            provider.shutdown()

    def flush(self):
        self.langfuse.flush()
        self.provider.force_flush()


# --- pydantic-ai ---------------------------------------------------------------------------------


class PydanticAIRoute(Route):
    name = "pydantic-ai"

    def run(self, scenario, n):
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

        self.n = n
        resource = {"service.name": scenario.agent}
        if n % 2 == 0:
            resource.update({f"agent.budget.{k}": v
                             for k, v in self.budget_metadata(scenario).items()})
        with _otel_provider(OTLPSpanExporter(endpoint=f"{self.capture.url}/v1/traces"),
                            resource) as provider:
            self.provider = provider
            return super().run(scenario, n)

    def flush(self):
        self.provider.force_flush()

    def _model(self, model: str, run: str, guard: Guard):
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.models.wrapper import WrapperModel
        from pydantic_ai.providers.openai import OpenAIProvider

        class Guarded(WrapperModel):
            """The owners' cost and deadline checks, after each model response."""

            async def request(self, *args, **kwargs):
                response = await super().request(*args, **kwargs)
                guard.after_llm(response.usage.input_tokens, response.usage.output_tokens, model)
                return response

        client = self.client(run)
        return Guarded(OpenAIChatModel(model, provider=OpenAIProvider(openai_client=client)))

    def _tools(self, specs, guard, run_subagent):
        from pydantic_ai import Tool
        from pydantic_ai.exceptions import ToolFailed

        out = []
        for spec in specs:
            fn = tool_function(spec, guard, run_subagent)

            async def reported(*, _fn=fn, **kwargs):
                try:
                    return await _fn(**kwargs)
                except ToolFailure as exc:
                    raise ToolFailed(f"{type(exc).__name__}: {exc}") from exc

            functools.update_wrapper(reported, fn)
            out.append(Tool(reported, name=spec.name, description=spec.description))
        return out

    async def _run(self, scenario, n, guard, run):
        from pydantic_ai import Agent
        from pydantic_ai.capabilities.instrumentation import Instrumentation
        from pydantic_ai.models.instrumented import InstrumentationSettings
        from pydantic_ai.usage import UsageLimits

        def traced():
            return [Instrumentation(settings=InstrumentationSettings(
                tracer_provider=self.provider))]

        # pydantic-ai enforces token limits itself; the guard keeps cost and the rest.
        guard.budget = {k: v for k, v in guard.budget.items() if k != "max_total_tokens"}

        async def run_subagent(sub, prompt):
            sub_run = self.stub.start(sub.model, sub.turns)
            guard.subruns.append(sub_run)
            agent = Agent(self._model(sub.model, sub_run, guard), name=sub.name,
                          instructions=sub.instructions, capabilities=traced(),
                          tools=self._tools(sub.tools, guard, run_subagent))
            return str((await agent.run(prompt)).output)

        capabilities = traced()
        if scenario.trim_to:
            from pydantic_ai.capabilities.process_history import ProcessHistory

            capabilities.append(ProcessHistory(lambda messages: messages[-scenario.trim_to:]))
        agent = Agent(self._model(scenario.model, run, guard), name=scenario.agent,
                      instructions=scenario.instructions, capabilities=capabilities,
                      tools=self._tools(scenario.tools, guard, run_subagent))
        budget = scenario.budget
        limits = UsageLimits(request_limit=budget.get("max_turns", 25),
                             total_tokens_limit=budget.get("max_total_tokens"))
        metadata = self.budget_metadata(scenario) if n % 2 == 1 else None
        result = await agent.run(scenario.prompt, usage_limits=limits,
                                 metadata={"budget": metadata} if metadata else None)
        return str(result.output)


# --- LangGraph -----------------------------------------------------------------------------------


class LangGraphRoute(Route):
    name = "langgraph"

    def run(self, scenario, n):
        from openinference.instrumentation.langchain import LangChainInstrumentor

        with _otel_provider(_protobuf_exporter(self.capture.url, gzip=n % 2 == 0),
                            {"service.name": scenario.agent}) as provider:
            self.provider = provider
            instrumentor = LangChainInstrumentor()
            instrumentor.instrument(tracer_provider=provider)
            try:
                return super().run(scenario, n)
            finally:
                instrumentor.uninstrument()

    def flush(self):
        self.provider.force_flush()

    def _graph(self, name, instructions, model, run, specs, guard, run_subagent, trim_to=None):
        from langchain_core.messages import SystemMessage
        from langchain_core.tools import StructuredTool
        from langchain_openai import ChatOpenAI
        from langgraph.graph import START, MessagesState, StateGraph
        from langgraph.prebuilt import ToolNode, tools_condition

        llm = ChatOpenAI(model=model, base_url=self.stub.base_url(run), api_key="scripted",
                         max_retries=0)
        tools = [StructuredTool.from_function(coroutine=tool_function(s, guard, run_subagent),
                                              name=s.name, description=s.description)
                 for s in specs]
        bound = llm.bind_tools(tools) if tools else llm

        async def call_model(state: MessagesState):
            history = state["messages"][-trim_to:] if trim_to else state["messages"]
            return {"messages": [await bound.ainvoke([SystemMessage(instructions), *history])]}

        graph = StateGraph(MessagesState)
        graph.add_node("agent", call_model)
        graph.add_edge(START, "agent")
        if tools:
            # Tool failures go back to the model as the tool's error; limits abort the run.
            graph.add_node("tools", ToolNode(tools, handle_tool_errors=(ToolFailure,)))
            graph.add_conditional_edges("agent", tools_condition)
            graph.add_edge("tools", "agent")
        return graph.compile(name=name)

    def _handler(self, guard: Guard, model: str):
        from langchain_core.callbacks import AsyncCallbackHandler

        class Budget(AsyncCallbackHandler):
            raise_error = True  # the owners' limit must stop the run, not be logged

            async def on_llm_end(self, response, **kwargs):
                usage = (response.llm_output or {}).get("token_usage") or {}
                guard.after_llm(usage.get("prompt_tokens", 0),
                                usage.get("completion_tokens", 0), model)

        return Budget()

    async def _run(self, scenario, n, guard, run):
        from openinference.instrumentation import using_metadata

        async def run_subagent(sub, prompt):
            sub_run = self.stub.start(sub.model, sub.turns)
            guard.subruns.append(sub_run)
            graph = self._graph(sub.name, sub.instructions, sub.model, sub_run, sub.tools,
                                guard, run_subagent)
            state = await graph.ainvoke({"messages": [("user", prompt)]})
            return state["messages"][-1].content

        graph = self._graph(scenario.agent, scenario.instructions, scenario.model, run,
                            scenario.tools, guard, run_subagent, scenario.trim_to)
        turns = scenario.budget.get("max_turns", 25)
        config = {"recursion_limit": 2 * turns, "callbacks": [self._handler(guard, scenario.model)],
                  "run_name": scenario.agent}
        with using_metadata(self.budget_metadata(scenario)):
            state = await graph.ainvoke({"messages": [("user", scenario.prompt)]}, config)
        return state["messages"][-1].content


ROUTE_CLASSES = {r.name: r for r in (OpenAIAgentsRoute, OpenInferenceAgentsRoute, LangfuseRoute,
                                     PydanticAIRoute, LangGraphRoute)}

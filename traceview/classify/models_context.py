"""Context windows (in tokens) of common models, for the context rules.

Matched by the longest known prefix of the lower-cased model name after any provider prefix
("openai/", "anthropic.", "models/") is dropped, so dated and suffixed variants
("gpt-4o-2024-08-06", "claude-3-5-sonnet-latest") find their family. Unknown models get None and
the rules that need a window fall back to what the provider said (errors, finish reasons).
"""

from __future__ import annotations

from functools import lru_cache

CONTEXT_WINDOWS: dict[str, int] = {
    # OpenAI
    "gpt-3.5-turbo-instruct": 4_096,
    "gpt-3.5-turbo": 16_385,
    "gpt-4-32k": 32_768,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-0125": 128_000,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-4": 8_192,
    "gpt-5": 400_000,
    "o1-mini": 128_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "chatgpt-4o": 128_000,
    # Anthropic
    "claude-2": 100_000,
    "claude-3": 200_000,
    "claude-sonnet-4": 200_000,
    "claude-opus-4": 200_000,
    "claude-haiku-4": 200_000,
    "claude-instant": 100_000,
    # Google
    "gemini-1.0-pro": 32_760,
    "gemini-1.5-flash": 1_048_576,
    "gemini-1.5-pro": 2_097_152,
    "gemini-2.0": 1_048_576,
    "gemini-2.5": 1_048_576,
    "gemini-pro": 32_760,
    # Open-weight families (their common default windows)
    "llama-2": 4_096,
    "llama-3.1": 128_000,
    "llama-3.2": 128_000,
    "llama-3.3": 128_000,
    "llama-3": 8_192,
    "llama3.1": 128_000,
    "llama3": 8_192,
    "mistral-large": 128_000,
    "mistral-small": 32_000,
    "mistral-7b": 32_768,
    "mixtral-8x7b": 32_768,
    "mixtral-8x22b": 65_536,
    "qwen2.5": 32_768,
    "qwen-max": 32_768,
    "qwen3": 131_072,
    "deepseek-chat": 128_000,
    "deepseek-v3": 128_000,
    "deepseek-r1": 128_000,
    "deepseek-reasoner": 128_000,
    "command-r": 128_000,
    "grok-3": 131_072,
    "grok-4": 256_000,
}

_PREFIXES = sorted(CONTEXT_WINDOWS, key=len, reverse=True)


@lru_cache(maxsize=512)
def context_window(model: str | None) -> int | None:
    """The context window of `model` in tokens, or None when the model is not in the table."""
    if not model:
        return None
    name = model.strip().lower()
    for sep in ("/", ":"):
        if sep in name and not name.startswith("ft:"):
            name = name.rsplit(sep, 1)[-1] if sep == "/" else name
    for provider in ("anthropic.", "openai.", "models/", "us.anthropic.", "eu.anthropic."):
        if name.startswith(provider):
            name = name[len(provider) :]
    if name.startswith("ft:"):
        name = name[3:]
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return CONTEXT_WINDOWS[prefix]
    return None

"""The model layer: one provider protocol (``base``), two providers, and the factory the pipeline calls.

Providers are imported lazily, so a deployment that talks to an OpenAI-compatible endpoint never loads llama.cpp and
one that runs offline never imports the HTTP client it uses (httpx2).
"""

from __future__ import annotations

from ..config import LLMConfig
from .base import CallLogger, CallRecord, LLMError, Prompt, Provider, Result

__all__ = ["CallLogger", "CallRecord", "LLMError", "Prompt", "Provider", "Result", "make_provider"]


def make_provider(cfg: LLMConfig, on_call: CallLogger | None = None) -> Provider:
    """The provider ``cfg.provider`` names. Raises LLMError with a fix-it message when it cannot be set up
    (missing API key, missing model file); the model itself loads on the first call."""
    if cfg.provider == "openai":
        from .openai_compat import OpenAIProvider

        return OpenAIProvider(cfg, on_call)
    if cfg.provider == "local":
        from .local import LocalProvider

        return LocalProvider(cfg, on_call)
    raise ValueError(f"unknown llm.provider {cfg.provider!r}; use 'local' or 'openai'")

"""Tools for tests and benchmarks, shipped so that `bench/` and the test suite use the same parts.

``scripted_llm``: a scripted OpenAI-compatible server (not a model) for fault injection and fixed-latency benchmarks.
"""

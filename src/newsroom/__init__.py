"""Newsroom: an AI newsroom for crypto media. News feeds in; original, structured, multilingual articles out."""

from ._memory import limit_native_caches

__version__ = "0.1.0"

limit_native_caches()

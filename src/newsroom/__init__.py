"""Newsroom: an AI newsroom for crypto media. News feeds in; original, structured, multilingual articles out."""

__version__ = "0.1.0"

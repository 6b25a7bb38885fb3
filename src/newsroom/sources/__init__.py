"""Source adapters: fetch a source and turn what it returns into FeedItems (feeds.py: RSS and Atom)."""

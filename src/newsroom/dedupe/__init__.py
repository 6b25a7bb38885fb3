"""Same-story clustering: features, the incremental clusterer and its metrics (see cluster.py)."""

from .cluster import ClusterParams, Doc, Match, StoryIndex, StoryState, cluster

__all__ = ["ClusterParams", "Doc", "Match", "StoryIndex", "StoryState", "cluster"]

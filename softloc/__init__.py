"""softloc: soft contrastive learning for retrieval-based visual localization."""

__version__ = "0.1.0"

"""Mirakl marketplaces (Empik and others): docs/channels/mirakl.md."""

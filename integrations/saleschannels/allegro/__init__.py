"""The allegro channel: see descriptor.py and docs/channels/allegro.md."""

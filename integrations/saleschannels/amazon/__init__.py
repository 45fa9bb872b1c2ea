"""The amazon channel: see descriptor.py and docs/channels/amazon.md."""

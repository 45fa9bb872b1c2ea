"""The zalando channel: see descriptor.py and docs/channels/zalando.md."""

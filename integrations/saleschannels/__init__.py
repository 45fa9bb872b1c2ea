"""One package per sales channel: everything xSale knows of a channel lives in its package.

Each package declares a `DESCRIPTOR` (descriptor.py: its Channel value and label, facts and
limits with their sources, settings and credential keys, default URLs, budget key rules, the
adapter class, demo data, drift-report hooks) and holds its adapter, mapping, asynchronous
protocol and drift reading beside it. The core reads channels only through the registry
(registry.py, one line per channel) and integrations/channels.py, which derives the choices,
facts and the photo rule from it. docs/adding-a-channel.md is the cookbook.

A descriptor module is light: it imports nothing of xSale but base.py, so that the lowest
layer (integrations/channels.py, the models) can read it. What needs the transport or the
models (the adapter, the demo showcase) is named by dotted path and imported on first use.
"""

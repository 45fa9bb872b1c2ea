"""The woocommerce channel: see descriptor.py and docs/channels/woocommerce.md."""

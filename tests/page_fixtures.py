"""The pages' fixtures (a seller, a viewer, a WooCommerce shop) for every page test file."""

from tests.test_pages import english, failed_run, seller, shop, viewer  # noqa: F401

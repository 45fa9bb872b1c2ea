"""Mirakl's error reports are the channel's words, read as untrusted: a line that csv cannot
read (a field past its limit) ends the reading there, never the worker."""

from integrations.saleschannels.mirakl.files import parse_error_report

REPORT = "sku;error-message\nA;bad price\n"


def test_a_report_names_each_refused_line_with_mirakls_message():
    assert parse_error_report(REPORT.encode(), ["A", "B"], "OF03") == {"A": ["OF03", "bad price"]}


def test_an_unreadable_line_ends_the_report_without_an_error():
    hostile = REPORT + "B;" + "x" * 300_000 + "\nC;late\n"
    found = parse_error_report(hostile.encode(), ["A", "B", "C"], "OF03")
    assert found == {"A": ["OF03", "bad price"]}

"""Counting requests the way a channel's sliding window counts them."""


def most_in_any_window(times, seconds):
    """The most of `times` in any window [t, t + seconds) — how a sliding count sees them."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most

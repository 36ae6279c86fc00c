"""Number formatting and round-by-round arithmetic for the benchmark
report: medians, spans, ratios taken within each round. Standard library
only.
"""

import statistics


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=3):
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return "%.0f" % value
    if magnitude >= 10:
        return "%.1f" % value
    if magnitude >= 1:
        return "%.2f" % value
    return "%.*g" % (digits, value)


def span(values, digits=3):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return ("%s to %s" if min(values) < 0 else "%s-%s") % (fmt(min(values), digits), fmt(max(values), digits))


def ratios_of(rounds, name, baseline, key=lambda v: v):
    """value(name) / value(baseline) in each round that has both."""
    ratios = []
    for r in rounds:
        a, b = r.get(name), r.get(baseline)
        if a is None or b is None:
            continue
        a, b = key(a), key(b)
        if a is None or b is None or b == 0:
            continue
        ratios.append(a / b)
    return ratios


def ratio_median(rounds, name, baseline, key=lambda v: v):
    """Median over rounds of value(name) / value(baseline) in the same round."""
    return med(ratios_of(rounds, name, baseline, key))


def values_of(rounds, name, key=lambda v: v):
    out = []
    for r in rounds:
        v = r.get(name)
        out.append(None if v is None else key(v))
    return out


def yes(flag):
    return "**met**" if flag else "**missed**"


def flat(rounds, name, mode):
    out = []
    for r in rounds:
        v = r.get(name)
        if v:
            out.extend(x for x in v.get(mode, []) if x is not None)
    return out


def fmt_ratio(value):
    if value is None:
        return "n/a"
    return ("%.2fx" % value) if 0.1 <= value < 100 else ("%.3gx" % value)


def pct(value):
    return "n/a" if value is None else "%.1f%%" % (value * 100)


def pct_span(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return "%.1f-%.1f%%" % (min(values) * 100, max(values) * 100)

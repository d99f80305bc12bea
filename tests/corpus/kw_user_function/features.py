def rolling_features(values, window=3, min_periods=1, center=False):
    out = []
    for i in range(len(values)):
        lo = i - window // 2 if center else i - window + 1
        part = values[max(lo, 0): i + 1]
        out.append(sum(part) / len(part) if len(part) >= min_periods else None)
    return out

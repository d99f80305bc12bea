def require_rows(rows, minimum=3):
    if len(rows) < minimum:
        raise ValueError(f"need at least {minimum} rows to fit, got {len(rows)}")
    return rows

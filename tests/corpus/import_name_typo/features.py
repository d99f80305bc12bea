import pandas as pd


def build_features(orders: pd.DataFrame) -> pd.DataFrame:
    out = orders.copy()
    out["revenue"] = out["price"] * out["qty"]
    out["is_bulk"] = (out["qty"] >= 10).astype(int)
    return out

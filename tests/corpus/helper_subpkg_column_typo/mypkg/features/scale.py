import pandas as pd


def add_ratio(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["ratio"] = out["revenue"] / out["visits"]
    return out

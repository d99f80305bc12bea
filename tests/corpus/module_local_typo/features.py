import numpy as np


def add_ratios(df):
    out = df.copy()
    out["debt_to_income"] = out["debt"] / out["income"]
    out["log_income"] = np.log1p(out["income"])
    return out

import numpy as np


def zscores(values):
    arr = np.asarray(values)
    return (arr - arr.mean()) / arr.std()

def line_totals(orders):
    totals = []
    for order in orders:
        totals.append(order["price"] * order["qty"])
    return totals

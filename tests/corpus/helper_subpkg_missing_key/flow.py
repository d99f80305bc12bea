from metaflow import FlowSpec, step

from mypkg.features.pricing import line_totals


class OrdersFlow(FlowSpec):
    @step
    def start(self):
        self.orders = [{"sku": "a1", "price": 2.5, "qty": 4}, {"sku": "b7", "price": 1.0, "qty": 3}]
        self.next(self.total)

    @step
    def total(self):
        self.totals = line_totals(self.orders)
        self.next(self.end)

    @step
    def end(self):
        print(sum(self.totals))


if __name__ == "__main__":
    OrdersFlow()

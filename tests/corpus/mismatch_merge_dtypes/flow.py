from metaflow import FlowSpec, step


class OrdersFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        self.orders = pd.DataFrame({"order_id": range(40), "customer_id": [i % 8 for i in range(40)],
                                    "amount": [10.0 + i for i in range(40)]})
        self.customers = pd.DataFrame({"customer_id": list(range(8)), "segment": ["retail", "pro"] * 4})
        self.next(self.join)

    @step
    def join(self):
        customers = self.customers.assign(customer_id=self.customers["customer_id"])
        joined = self.orders.merge(customers, on="customer_id", how="left")
        self.by_segment = joined.groupby("segment")["amount"].sum().to_dict()
        self.next(self.end)

    @step
    def end(self):
        print(self.by_segment)


if __name__ == "__main__":
    OrdersFlow()

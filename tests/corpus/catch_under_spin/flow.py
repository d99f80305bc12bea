from metaflow import FlowSpec, catch, step


class FxFlow(FlowSpec):
    @step
    def start(self):
        self.rates = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}
        self.invoices = [("USD", 120.0), ("GBP", 80.0), ("EUR", 45.5), ("USD", 10.0)]
        self.next(self.convert)

    @catch(var="convert_error")
    @step
    def convert(self):
        self.in_eur = [round(amount * self.rates[currency], 2) for currency, amount in self.invoices]
        self.total_eur = sum(self.in_eur)
        self.next(self.end)

    @step
    def end(self):
        print("total EUR:", getattr(self, "total_eur", None))


if __name__ == "__main__":
    FxFlow()

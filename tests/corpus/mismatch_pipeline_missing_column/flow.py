from metaflow import FlowSpec, step


class PriceModelFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        self.houses = pd.DataFrame({
            "rooms": [2 + i % 4 for i in range(60)],
            "area_m2": [45.0 + (i * 11) % 90 for i in range(60)],
            "age_years": [(i * 5) % 40 for i in range(60)],
        })
        self.houses["price"] = self.houses["area_m2"] * 3000 - self.houses["age_years"] * 500
        self.next(self.fit)

    @step
    def fit(self):
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X = self.houses[["rooms", "area_m2", "age_years"]]
        pipe = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X, self.houses["price"])
        new_listings = self.houses[["rooms", "area_m2", "age_years"]].head(5)
        self.predicted = pipe.predict(new_listings).round(0).tolist()
        self.next(self.end)

    @step
    def end(self):
        print(self.predicted)


if __name__ == "__main__":
    PriceModelFlow()

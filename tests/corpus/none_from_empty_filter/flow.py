from metaflow import FlowSpec, step


def find_user(rows, name):
    return next((r for r in rows if r["name"] == name), None)


class LookupFlow(FlowSpec):
    @step
    def start(self):
        self.rows = [{"name": "alice", "email": "a@x.org"}, {"name": "bob", "email": "b@x.org"}]
        self.next(self.lookup)

    @step
    def lookup(self):
        user = find_user(self.rows, "bob")
        self.email = user["email"]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LookupFlow()
